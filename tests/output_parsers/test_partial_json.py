"""The incremental JSON parser against ``json.loads``, on random documents and random cuts."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runnables.output_parsers import OutputParserException, PartialJsonParser, parse_json

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=6), children, max_size=5)
    ),
    max_leaves=25,
)


@st.composite
def documents(draw: st.DrawFn) -> str:
    value = draw(json_values)
    return json.dumps(
        value,
        ensure_ascii=draw(st.booleans()),
        indent=draw(st.sampled_from([None, 0, 2])),
        separators=draw(st.sampled_from([None, (",", ":")])),
    )


@st.composite
def chunked(draw: st.DrawFn) -> tuple[str, list[str]]:
    doc = draw(documents())
    cuts = sorted(set(draw(st.lists(st.integers(0, len(doc)), max_size=len(doc)))))
    pieces, last = [], 0
    for cut in [*cuts, len(doc)]:
        pieces.append(doc[last:cut])
        last = cut
    return doc, pieces


def is_prefix(partial: Any, final: Any) -> bool:
    """Whether ``partial`` is what a stream of ``final`` can show before it ends."""
    if isinstance(final, dict):
        if not isinstance(partial, dict):
            return False
        keys, final_keys = list(partial), list(final)
        if keys != final_keys[: len(keys)]:
            return False
        return all(
            is_prefix(partial[k], final[k]) if i == len(keys) - 1 else partial[k] == final[k]
            for i, k in enumerate(keys)
        )
    if isinstance(final, list):
        if not isinstance(partial, list) or len(partial) > len(final):
            return False
        n = len(partial)
        if n == 0:
            return True
        return partial[: n - 1] == final[: n - 1] and is_prefix(partial[-1], final[n - 1])
    if isinstance(final, str):
        return isinstance(partial, str) and final.startswith(partial)
    return type(partial) is type(final) and partial == final


@settings(max_examples=400, deadline=None)
@given(chunked())
def test_any_chunking_ends_with_what_json_loads_returns(case: tuple[str, list[str]]) -> None:
    doc, pieces = case
    parser = PartialJsonParser()
    for piece in pieces:
        parser.feed(piece)
    assert parser.finish() == json.loads(doc)
    assert parser.complete


@settings(max_examples=300, deadline=None)
@given(chunked())
def test_every_partial_value_is_a_prefix_of_the_final_value(case: tuple[str, list[str]]) -> None:
    doc, pieces = case
    final = json.loads(doc)
    parser = PartialJsonParser()
    for piece in pieces:
        if parser.feed(piece):
            assert is_prefix(parser.snapshot(), final)


@settings(max_examples=200, deadline=None)
@given(documents(), st.data())
def test_every_complete_prefix_parses_as_json_loads_does(doc: str, data: st.DataObject) -> None:
    for k in range(1, len(doc) + 1):
        prefix = doc[:k]
        try:
            expected = json.loads(prefix)
        except json.JSONDecodeError:
            continue
        cut = data.draw(st.integers(0, k))
        parser = PartialJsonParser()
        parser.feed(prefix[:cut])
        parser.feed(prefix[cut:])
        assert parser.finish() == expected


@settings(max_examples=100, deadline=None)
@given(documents())
def test_snapshots_do_not_change_when_more_text_arrives(doc: str) -> None:
    parser = PartialJsonParser()
    taken: list[tuple[Any, str]] = []
    for ch in doc:
        if parser.feed(ch):
            snap = parser.snapshot()
            taken.append((snap, json.dumps(snap)))
    parser.finish()
    for snap, dumped in taken:
        assert json.dumps(snap) == dumped


def test_surrogate_pair_split_between_chunks_becomes_one_character() -> None:
    doc = json.dumps(["a😀b"], ensure_ascii=True)  # ["a\ud83d\ude00b"]
    parser = PartialJsonParser()
    seen = []
    for ch in doc:
        if parser.feed(ch):
            seen.append(parser.snapshot())
    assert parser.finish() == ["a😀b"]
    assert all("\ud83d" not in s[-1] for s in seen if s)  # a lone half is never shown


def test_numbers_and_literals_appear_only_when_complete() -> None:
    parser = PartialJsonParser()
    parser.feed('{"n": 12')
    assert parser.snapshot() == {}
    parser.feed("3, ")
    assert parser.snapshot() == {"n": 123}
    parser.feed('"t": tru')
    assert parser.snapshot() == {"n": 123}
    parser.feed("e}")
    assert parser.snapshot() == {"n": 123, "t": True}


def test_unfinished_key_is_hidden_and_unfinished_string_value_is_shown() -> None:
    parser = PartialJsonParser()
    parser.feed('{"na')
    assert parser.snapshot() == {}
    parser.feed('me": "Ad')
    assert parser.snapshot() == {"name": "Ad"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('```json\n{"a": 1}\n```', {"a": 1}),
        ("Here is the JSON you asked for:\n```json\n[1, 2]\n```\nAnything else?", [1, 2]),
        ('Sure! {"ok": true} Hope that helps.', {"ok": True}),
        ("nothing to see, but [null]", [None]),
        ("true", True),
        ("  -1.5e3 ", -1500.0),
        ('"just a string"', "just a string"),
    ],
)
def test_fences_and_surrounding_text_are_skipped(text: str, expected: Any) -> None:
    assert parse_json(text) == expected
    parser = PartialJsonParser()
    for ch in text:
        parser.feed(ch)
    assert parser.finish() == expected


def test_truncated_json_gives_what_arrived_like_langchain() -> None:
    parser = PartialJsonParser()
    parser.feed('{"a": [1, 2, {"b": "unfinish')
    assert parser.finish() == {"a": [1, 2, {"b": "unfinish"}]}
    assert not parser.complete


def test_syntax_error_names_line_column_and_shows_the_text() -> None:
    with pytest.raises(OutputParserException) as info:
        parse_json('{\n  "a": 1,\n  "b": 2 "c": 3\n}')
    err = info.value
    assert (err.line, err.column) == (3, 10)
    assert "line 3, column 10" in str(err)
    assert '"b": 2 "c": 3' in str(err)
    assert "expected ',' or '}'" in str(err)


def test_syntax_error_in_a_later_chunk_reports_the_absolute_position() -> None:
    parser = PartialJsonParser()
    parser.feed("[1,\n2,")
    with pytest.raises(OutputParserException) as info:
        parser.feed(" ]")
    assert (info.value.line, info.value.column, info.value.position) == (2, 4, 7)
    assert "trailing comma" in str(info.value)


@pytest.mark.parametrize("text", ["", "   ", "no json at all"])
def test_text_without_json_is_an_error(text: str) -> None:
    with pytest.raises(OutputParserException, match="no JSON value"):
        parse_json(text)


def test_bad_escape_is_an_error_naming_it() -> None:
    with pytest.raises(OutputParserException, match=r"found '\\\\q'"):
        parse_json('"a\\q"')


# langchain-core's helpers (``langchain_core.utils.json``), matched case for case.


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"foo": [1, 2, oops', {"foo": [1, 2]}),  # a bad token: cut before it
        ('{"foo": 1.', {"foo": 1}),  # a cut number: shortened until it decodes
        ('{"foo":"bar\\', {"foo": "bar"}),  # a dangling backslash is dropped
        ('{"foo": "a\nb', {"foo": "a\nb"}),  # a raw newline in a string is kept
        ('{"foo": "bar"} Here is why.', {"foo": "bar"}),
    ],
)
def test_parse_partial_json_repairs_like_langchain(text: str, expected: object) -> None:
    from runnables.output_parsers.partial_json import parse_partial_json

    assert parse_partial_json(text) == expected


def test_parse_partial_json_mismatched_bracket_and_no_json() -> None:
    from runnables.output_parsers.partial_json import parse_partial_json

    assert parse_partial_json('{"a": 1]') is None
    with pytest.raises(json.JSONDecodeError):
        parse_partial_json("no json here")


def test_parse_partial_json_long_invalid_tail_decodes_a_few_times(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from runnables.output_parsers import partial_json

    calls = 0
    real = json.loads

    def counting(*args: object, **kwargs: object) -> object:
        nonlocal calls
        calls += 1
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr("runnables.output_parsers.partial_json.json.loads", counting)
    assert partial_json.parse_partial_json('{"foo": [1, 2, ' + "x" * 20_000) == {"foo": [1, 2]}
    assert calls < 10


@pytest.mark.parametrize(
    "text",
    [
        '{"foo": "bar"}',
        '```json\n{"foo": "bar"}\n```',
        'Action: search\n\n```\n{\n  "foo": "bar"\n}\n```\nThis should do the trick',
        '```json\n{"foo": "bar"\n\n',
    ],
)
def test_parse_json_markdown(text: str) -> None:
    from runnables.output_parsers.partial_json import parse_json_markdown

    assert parse_json_markdown(text) == {"foo": "bar"}


def test_parse_json_markdown_escapes_action_input() -> None:
    from runnables.output_parsers.partial_json import parse_json_markdown

    text = '```json\n{"action": "Final Answer", "action_input": "a\nb\tc"}\n```'
    assert parse_json_markdown(text) == {"action": "Final Answer", "action_input": "a\nb\tc"}


def test_parse_and_check_json_markdown() -> None:
    from runnables.output_parsers import OutputParserException
    from runnables.output_parsers.partial_json import parse_and_check_json_markdown

    assert parse_and_check_json_markdown('```json\n{"foo": 1}\n```', ["foo"]) == {"foo": 1}
    with pytest.raises(OutputParserException, match="Expected JSON object"):
        parse_and_check_json_markdown("```json\n1\n```", ["foo"])
    with pytest.raises(OutputParserException, match="Expected key `bar`"):
        parse_and_check_json_markdown('{"foo": 1}', ["bar"])
