"""Messages and chunk merging: properties (hypothesis) and the cases users hit."""

from __future__ import annotations

import json
import pickle
from typing import Any, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from runnables.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    HumanMessageChunk,
    SystemMessage,
    SystemMessageChunk,
    ToolMessage,
    ToolMessageChunk,
    UsageMetadata,
    add_chunks,
    add_usage,
    invalid_tool_call,
    message_chunk_to_message,
    tool_call,
    tool_call_chunk,
)
from runnables.messages.base import merge_lists

# ---------------------------------------------------------------------- strategies

texts = st.text(max_size=8)
usages = st.one_of(
    st.none(),
    st.builds(
        lambda i, o, r: {
            "input_tokens": i,
            "output_tokens": o,
            "total_tokens": i + o,
            "output_token_details": {"reasoning": r},
        },
        st.integers(0, 50),
        st.integers(0, 50),
        st.integers(0, 9),
    ),
)
tc_chunks = st.lists(
    st.builds(
        lambda name, args, id_, index: tool_call_chunk(name=name, args=args, id=id_, index=index),
        st.one_of(st.none(), st.sampled_from(["f", "g"])),
        st.one_of(st.none(), texts),
        st.one_of(st.none(), st.sampled_from(["c1", "c2"])),
        st.sampled_from([0, 1]),
    ),
    max_size=2,
    unique_by=lambda c: c["index"],  # one chunk carries one piece per tool call
)


def _unique_indexes(items: list[Any]) -> list[Any]:
    # One chunk never carries two blocks with the same index (providers send one per index).
    seen: set[int] = set()
    out = []
    for item in items:
        if isinstance(item, dict):
            if item["index"] in seen:
                continue
            seen.add(item["index"])
        out.append(item)
    return out


blocks = st.lists(
    st.one_of(
        texts,
        st.builds(lambda t, i: {"type": "text", "text": t, "index": i}, texts, st.integers(0, 2)),
    ),
    max_size=3,
).map(_unique_indexes)
contents = st.one_of(texts, blocks)


@st.composite
def ai_chunks(draw: Any, content: Any = contents) -> AIMessageChunk:
    return AIMessageChunk(
        draw(content),
        tool_call_chunks=draw(tc_chunks),
        usage_metadata=draw(usages),
        id=draw(st.one_of(st.none(), st.sampled_from(["run-1", "prov-1"]))),
    )


# ---------------------------------------------------------------------- properties


@given(ai_chunks(texts), ai_chunks(texts), ai_chunks(texts))
def test_adding_text_chunks_is_associative(a: Any, b: Any, c: Any) -> None:
    assert (a + b) + c == a + (b + c)


# One stream's chunks carry one kind of content (strings, or lists of blocks). Mixing the
# kinds is not associative in langchain-core ("" + ("" + []) is ["", ""], ("" + "") + []
# is [""]), and runnables merges as it does (see the test after this one).
one_kind = st.sampled_from([texts, blocks]).flatmap(
    lambda kind: st.tuples(ai_chunks(kind), ai_chunks(kind), ai_chunks(kind))
)


@given(one_kind)
@settings(max_examples=300)
def test_adding_chunks_with_content_blocks_tool_calls_and_usage_is_associative(
    chunks: Any,
) -> None:
    a, b, c = chunks
    left, right = (a + b) + c, a + (b + c)
    assert left.text == right.text
    assert left.content == right.content
    assert left.tool_call_chunks == right.tool_call_chunks
    assert left.tool_calls == right.tool_calls
    assert left.usage_metadata == right.usage_metadata
    assert left.id == right.id


@given(st.lists(ai_chunks(), min_size=1, max_size=6))
def test_add_chunks_in_one_pass_equals_repeated_plus(chunks: list[AIMessageChunk]) -> None:
    folded = chunks[0]
    for c in chunks[1:]:
        folded = folded + c
    assert add_chunks(chunks[0], *chunks[1:]) == folded


@given(usages, usages, usages)
def test_add_usage_is_associative_and_sums_every_count(a: Any, b: Any, c: Any) -> None:
    assert add_usage(add_usage(a, b), c) == add_usage(a, add_usage(b, c))
    total = add_usage(add_usage(a, b), c)
    expected = sum(u["total_tokens"] for u in (a, b, c) if u)
    assert total.get("total_tokens", 0) == expected


def _split(text: str, cuts: list[int]) -> list[str]:
    points = sorted({min(max(c, 0), len(text)) for c in cuts})
    pieces, start = [], 0
    for p in points:
        pieces.append(text[start:p])
        start = p
    pieces.append(text[start:])
    return pieces


@given(
    text=st.text(max_size=40),
    args=st.dictionaries(st.text(max_size=5), st.one_of(st.integers(), st.text(max_size=5))),
    cuts=st.lists(st.integers(0, 60), max_size=6),
    arg_cuts=st.lists(st.integers(0, 60), max_size=6),
    inp=st.integers(0, 100),
    out=st.integers(0, 100),
)
def test_a_message_split_into_chunks_adds_back_to_the_original(
    text: str, args: dict[str, Any], cuts: list[int], arg_cuts: list[int], inp: int, out: int
) -> None:
    original = AIMessage(
        text,
        tool_calls=[tool_call(name="lookup", args=args, id="call-1")],
        usage_metadata={"input_tokens": inp, "output_tokens": out, "total_tokens": inp + out},
        id="msg-1",
    )
    chunks = [AIMessageChunk(piece, id="msg-1") for piece in _split(text, cuts)]
    for i, piece in enumerate(_split(json.dumps(args), arg_cuts)):
        chunks.append(
            AIMessageChunk(
                "",
                tool_call_chunks=[
                    tool_call_chunk(
                        name="lookup" if i == 0 else None,
                        args=piece,
                        id="call-1" if i == 0 else None,
                        index=0,
                    )
                ],
            )
        )
    chunks.append(AIMessageChunk("", usage_metadata={"input_tokens": inp, "total_tokens": inp}))
    chunks.append(AIMessageChunk("", usage_metadata={"output_tokens": out, "total_tokens": out}))
    total = chunks[0]
    for c in chunks[1:]:
        total = total + c
    assert message_chunk_to_message(total) == original


# ---------------------------------------------------------------------- examples


def test_tool_call_arguments_become_tool_calls_only_once_they_are_complete_json() -> None:
    a = AIMessageChunk(
        "", tool_call_chunks=[tool_call_chunk(name="f", args='{"x": ', id="c", index=0)]
    )
    b = AIMessageChunk("", tool_call_chunks=[tool_call_chunk(args="1}", index=0)])
    assert a.tool_calls == []
    assert (a + b).tool_calls == [tool_call(name="f", args={"x": 1}, id="c")]
    # The finished message parses a JSON prefix leniently, as langchain-core does.
    final = message_chunk_to_message(a)
    assert isinstance(final, AIMessage)
    assert final.tool_calls == [tool_call(name="f", args={}, id="c")]
    assert final.invalid_tool_calls == []


def test_finished_message_keeps_arguments_that_are_no_json_object_as_invalid_calls() -> None:
    chunk = AIMessageChunk(
        "I am",
        tool_call_chunks=[
            tool_call_chunk(name="t1", args='{"a": 1}', id="1", index=0),
            tool_call_chunk(name="t2", args='{"b": [1, ', id="2", index=1),
            tool_call_chunk(name="t3", args=None, id="3", index=2),
            tool_call_chunk(name="t4", args="abc", id="4", index=3),
            tool_call_chunk(name="t5", args="[1]", id="5", index=4),
        ],
    )
    final = message_chunk_to_message(chunk)
    assert isinstance(final, AIMessage)
    assert final.tool_calls == [
        tool_call(name="t1", args={"a": 1}, id="1"),
        tool_call(name="t2", args={"b": [1]}, id="2"),
        tool_call(name="t3", args={}, id="3"),
    ]
    assert final.invalid_tool_calls == [
        invalid_tool_call(name="t4", args="abc", id="4"),
        invalid_tool_call(name="t5", args="[1]", id="5"),
    ]


def test_merge_lists_merges_pieces_by_index_skips_none_and_leaves_inputs_alone() -> None:
    first = [tool_call_chunk(name="f", args="", id="1", index=0)]
    merged = merge_lists(first, None, [tool_call_chunk(args='{"a": ', index=0)])
    merged = merge_lists(merged, [tool_call_chunk(args="1}", index=0)])
    assert merged == [tool_call_chunk(name="f", args='{"a": 1}', id="1", index=0)]
    assert first == [tool_call_chunk(name="f", args="", id="1", index=0)]
    # Pieces with other ids, or without an index, are separate entries.
    other = merge_lists(first, [tool_call_chunk(name="g", args="", id="2", index=0)])
    assert other is not None and len(other) == 2
    assert merge_lists(None, None) is None
    assert merge_lists(None, [1], [2]) == [1, 2]


def test_tool_call_chunks_with_different_indexes_stay_separate() -> None:
    a = AIMessageChunk("", tool_call_chunks=[tool_call_chunk(name="f", args="{}", index=0)])
    b = AIMessageChunk("", tool_call_chunks=[tool_call_chunk(name="g", args="{}", index=1)])
    assert [t["name"] for t in (a + b).tool_calls] == ["f", "g"]


def test_content_blocks_with_the_same_index_merge_their_text() -> None:
    a = AIMessageChunk([{"type": "text", "text": "Hel", "index": 0}])
    b = AIMessageChunk([{"type": "text", "text": "lo", "index": 0}])
    assert (a + b).content == [{"type": "text", "text": "Hello", "index": 0}]
    assert (a + b).text == "Hello"


def test_provider_id_wins_over_a_generated_run_id() -> None:
    assert (AIMessageChunk("a", id="lc_run-1") + AIMessageChunk("b", id="chatcmpl-9")).id == (
        "chatcmpl-9"
    )


def test_adding_chunks_of_different_kinds_gives_the_left_kind_as_langchain_core() -> None:
    left = AIMessageChunk("a", id="x", response_metadata={"m": "a"})
    right = HumanMessageChunk("b", id="y", response_metadata={"k": 1}, name="n")
    out = left + right
    assert type(out) is AIMessageChunk
    assert (out.content, out.id, out.response_metadata) == ("ab", "x", {"m": "a", "k": 1})
    back = right + left
    assert type(back) is HumanMessageChunk
    assert (back.content, back.id, back.name) == ("ba", "y", "n")
    mixed = HumanMessageChunk("b") + [SystemMessageChunk("c"), AIMessageChunk("d")]
    assert type(mixed) is HumanMessageChunk and mixed.content == "bcd"


def test_adding_chunks_of_different_kinds_matches_langchain_core_content_and_metadata() -> None:
    import langchain_core.messages as lc

    theirs = lc.AIMessageChunk(
        content="a", id="x", additional_kwargs={"p": "1"}
    ) + lc.HumanMessageChunk(content=[{"type": "text", "text": "b"}], additional_kwargs={"p": "2"})
    ours = AIMessageChunk("a", id="x", additional_kwargs={"p": "1"}) + HumanMessageChunk(
        [{"type": "text", "text": "b"}], additional_kwargs={"p": "2"}
    )
    assert ours.content == theirs.content
    assert ours.additional_kwargs == theirs.additional_kwargs
    assert ours.id == theirs.id


def test_adding_another_kind_keeps_the_left_chunks_usage_and_tool_calls() -> None:
    usage: UsageMetadata = {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2}
    left = AIMessageChunk(
        "a",
        usage_metadata=usage,
        tool_call_chunks=[tool_call_chunk(name="f", args="{}", id="1", index=0)],
    )
    out = left + HumanMessageChunk("b")
    assert out.usage_metadata == usage
    assert [c["name"] for c in out.tool_calls] == ["f"]
    out.tool_call_chunks.append(tool_call_chunk(name="g", args="{}", id="2", index=1))
    assert len(left.tool_call_chunks) == 1  # the sum shares nothing with its operands
    tool = ToolMessageChunk("b", tool_call_id="t", artifact=1) + HumanMessageChunk("c")
    assert (tool.content, tool.tool_call_id, tool.artifact) == ("bc", "t", 1)


def test_add_chunks_still_refuses_chunks_of_different_kinds() -> None:
    with pytest.raises(TypeError, match="HumanMessageChunk"):
        add_chunks(AIMessageChunk("a"), HumanMessageChunk("b"))


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (5, "5"),
        (3.5, "3.5"),
        (None, "None"),
        ({"a": 1}, "{'a': 1}"),
        ([1, "a", {"type": "text", "text": "b"}], ["1", "a", {"type": "text", "text": "b"}]),
        (("a", 2), ["a", "2"]),
    ],
)
def test_tool_message_content_that_is_not_text_is_stringified_as_langchain_core(
    content: Any, expected: Any
) -> None:
    import langchain_core.messages as lc

    assert ToolMessage(content, tool_call_id="1").content == expected
    assert ToolMessage(content=content, tool_call_id="1").content == expected
    assert lc.ToolMessage(content, tool_call_id="1").content == expected


def _pretty_cases(m: Any) -> list[Any]:
    return [
        m.HumanMessage("What is the capital of France?"),
        m.HumanMessage("hi", name="ada"),
        m.SystemMessage("Be brief."),
        m.AIMessage(
            "Let me check the weather.",
            tool_calls=[{"name": "get_weather", "args": {"city": "Paris", "n": 2}, "id": "1"}],
        ),
        m.AIMessage(
            "",
            tool_calls=[{"name": "a", "args": {}, "id": None}],
            invalid_tool_calls=[
                {
                    "name": "b",
                    "args": "{bad",
                    "id": "2",
                    "error": "oops",
                    "type": "invalid_tool_call",
                }
            ],
        ),
        m.AIMessage("x", name="bot"),
        m.AIMessage([{"type": "text", "text": "blocks"}]),
        m.AIMessageChunk("partial"),
        m.AIMessageChunk(
            "", tool_call_chunks=[{"name": "f", "args": '{"a": 1}', "id": "x", "index": 0}]
        ),
        m.HumanMessageChunk("human chunk"),
        m.ToolMessage("result", tool_call_id="1"),
        m.ChatMessage("c", role="critic"),
    ]


def test_pretty_repr_is_exactly_langchain_cores_for_every_kind_and_chunk() -> None:
    import langchain_core.messages as lc

    import runnables.messages as ours

    for theirs_msg, our_msg in zip(_pretty_cases(lc), _pretty_cases(ours), strict=True):
        assert our_msg.pretty_repr() == theirs_msg.pretty_repr()
        assert our_msg.pretty_repr(html=True) == theirs_msg.pretty_repr(html=True)


def test_ai_message_pretty_print_shows_its_tool_calls(capsys: pytest.CaptureFixture[str]) -> None:
    AIMessage(
        "Checking.", tool_calls=[tool_call(name="get_weather", args={"city": "Paris"}, id="1")]
    ).pretty_print()
    assert capsys.readouterr().out == (
        "=" * 34
        + " Ai Message "
        + "=" * 34
        + "\n\nChecking.\nTool Calls:\n  get_weather (1)\n Call ID: 1\n  Args:\n    city: Paris\n"
    )


def test_tool_message_chunks_with_different_ids_do_not_add() -> None:
    with pytest.raises(ValueError, match="tool_call_id"):
        ToolMessageChunk("a", tool_call_id="1") + ToolMessageChunk("b", tool_call_id="2")


def test_messages_have_langchain_core_types_fields_and_value_equality() -> None:
    assert [m.type for m in (SystemMessage(""), HumanMessage(""), AIMessage(""))] == [
        "system",
        "human",
        "ai",
    ]
    assert AIMessageChunk("").type == "AIMessageChunk"
    t = ToolMessage("42", tool_call_id="c1")
    assert (t.type, t.tool_call_id, t.status) == ("tool", "c1", "success")
    assert HumanMessage("hi", name="bob") == HumanMessage("hi", name="bob")
    assert HumanMessage("hi") != AIMessage("hi")
    assert AIMessage([{"type": "text", "text": "a"}, "b", {"type": "image"}]).text == "ab"


def test_messages_pickle_copy_and_dump() -> None:
    m = AIMessage("x", tool_calls=[tool_call(name="f", args={}, id="1")], id="m")
    assert pickle.loads(pickle.dumps(m)) == m
    assert m.model_copy(update={"content": "y"}).content == "y"
    assert m.model_dump()["type"] == "ai"
    with pytest.raises(ValueError, match="no field 'bogus'"):
        m.model_copy(update={"bogus": 1})


def test_content_that_is_not_text_or_blocks_is_rejected_with_the_value() -> None:
    with pytest.raises(TypeError, match="42"):
        HumanMessage(42)  # type: ignore[arg-type]


def test_messages_validate_and_serialize_inside_pydantic_models() -> None:
    class Conversation(BaseModel):
        messages: list[BaseMessage]

    conv = Conversation(messages=[HumanMessage("hi"), {"role": "assistant", "content": "yo"}])  # type: ignore[list-item]
    assert conv.messages == [HumanMessage("hi"), AIMessage("yo")]
    dumped = json.loads(conv.model_dump_json())
    assert [m["type"] for m in dumped["messages"]] == ["human", "ai"]


def test_usage_metadata_type_is_a_plain_dict() -> None:
    u: UsageMetadata = {"input_tokens": 1, "output_tokens": 2, "total_tokens": 3}
    assert AIMessage("", usage_metadata=u).usage_metadata == u


@pytest.mark.parametrize(
    ("first", "others", "expected"),
    [
        ("", [[]], [""]),
        ("foo", [["bar"]], ["foo", "bar"]),
        (["foo"], [["bar"]], ["foo", "bar"]),
        (["foo"], ["bar"], ["foobar"]),
        ("foo", ["bar"], "foobar"),
    ],
)
def test_merge_content_mixes_strings_and_lists_as_langchain(
    first: Any, others: list[Any], expected: Any
) -> None:
    from runnables.messages import merge_content

    assert merge_content(first, *others) == expected


def test_repr_and_str_are_langchains() -> None:
    assert repr(AIMessage("hi")) == (
        "AIMessage(content='hi', additional_kwargs={}, response_metadata={}, tool_calls=[], "
        "invalid_tool_calls=[])"
    )
    assert str(HumanMessage("x", id="1")) == (
        "content='x' additional_kwargs={} response_metadata={} id='1'"
    )
    tool = ToolMessage("foo", artifact={"bar": {"baz": 123}}, tool_call_id="1")
    assert str(tool) == "content='foo' tool_call_id='1' artifact={'bar': {'baz': 123}}"


def test_adding_no_usage_to_no_usage_gives_zero_counts() -> None:
    assert add_usage(None, None) == {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0}


def test_base_message_takes_any_type_as_langchain_core() -> None:
    msg = BaseMessage(type="foo", content="bar", id=1)
    assert isinstance(msg, BaseMessage)
    assert msg.type == "foo"
    assert msg.id == "1"  # numbers become strings, as pydantic's coerce_numbers_to_str
    with pytest.raises(ValueError, match="HumanMessage has type 'human', but type='ai'"):
        HumanMessage("x", type="ai")


def test_function_message_chunks_with_different_names_do_not_add() -> None:
    from runnables.messages import FunctionMessageChunk

    a = FunctionMessageChunk("I am", name="hello", id="f1")
    assert a + FunctionMessageChunk(" here", name="hello") == FunctionMessageChunk(
        "I am here", name="hello", id="f1"
    )
    with pytest.raises(ValueError, match="different names: 'hello' and 'bye'"):
        a + FunctionMessageChunk(" here", name="bye")


def test_messages_built_from_content_blocks_hold_them_as_content() -> None:
    blocks = [
        {"type": "text", "text": "hi"},
        {"type": "tool_call", "name": "f", "args": {"a": 1}, "id": "t1"},
    ]
    ai = AIMessage(content_blocks=blocks)
    assert ai.content == blocks
    assert ai.tool_calls == [tool_call(name="f", args={"a": 1}, id="t1")]
    # the tool call is already in the content: content_blocks does not repeat it
    assert ai.content_blocks == blocks
    assert HumanMessage(content_blocks=blocks[:1]).content == blocks[:1]
    assert ToolMessage(content_blocks=blocks[:1], tool_call_id="t1").content == blocks[:1]
    assert AIMessageChunk(content_blocks=blocks[:1]).content == blocks[:1]


def test_content_blocks_put_reasoning_from_additional_kwargs_first() -> None:
    msg = AIMessage("42", additional_kwargs={"reasoning_content": "thinking"})
    assert msg.content_blocks == [
        {"type": "reasoning", "reasoning": "thinking"},
        {"type": "text", "text": "42"},
    ]


def test_v1_list_content_is_already_content_blocks() -> None:
    content: list[Any] = [{"type": "text", "text": "Hello"}]
    for cls in (AIMessage, AIMessageChunk):
        msg = cls(content, response_metadata={"output_version": "v1"})
        assert msg.content_blocks is msg.content


def test_streaming_tool_call_chunks_show_as_tool_call_chunk_blocks() -> None:
    piece = tool_call_chunk(name="f", args='{"a": 1}', id="t1", index=0)
    chunk = AIMessageChunk("", tool_call_chunks=[piece])
    assert chunk.content_blocks == [
        {"type": "tool_call_chunk", "id": "t1", "name": "f", "args": '{"a": 1}', "index": 0}
    ]
    # OpenAI chat completions keep string content; the chunks still show
    openai = AIMessageChunk(
        "Hello", tool_call_chunks=[piece], response_metadata={"model_provider": "openai"}
    )
    assert [b["type"] for b in openai.content_blocks] == ["text", "tool_call_chunk"]


def test_subtract_usage_never_goes_below_zero() -> None:
    from runnables.messages import subtract_usage

    a: UsageMetadata = {
        "input_tokens": 10,
        "output_tokens": 5,
        "total_tokens": 15,
        "input_token_details": {"cache_read": 4},
    }
    b: UsageMetadata = {"input_tokens": 3, "output_tokens": 9, "total_tokens": 12}
    assert subtract_usage(a, b) == {
        "input_tokens": 7,
        "output_tokens": 0,
        "total_tokens": 3,
        "input_token_details": {"cache_read": 4},
    }
    assert subtract_usage(None, None) == {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0}
    assert subtract_usage(a, None) is a


def test_add_ai_message_chunks_sums_usage() -> None:
    from runnables.messages import add_ai_message_chunks

    u: UsageMetadata = {"input_tokens": 2, "output_tokens": 3, "total_tokens": 5}
    total = add_ai_message_chunks(
        AIMessageChunk(""), AIMessageChunk("", usage_metadata=u), AIMessageChunk("a")
    )
    assert total == AIMessageChunk("a", usage_metadata=u)


def test_block_pieces_merge_by_index_only_when_their_ids_agree() -> None:
    a = AIMessageChunk([{"type": "text", "text": "a", "index": 0, "id": "x"}])
    b = AIMessageChunk([{"type": "text", "text": "b", "index": 0, "id": "y"}])
    c = AIMessageChunk([{"type": "text", "text": "c", "index": 0}])
    assert (a + b).content == [
        {"type": "text", "text": "a", "index": 0, "id": "x"},
        {"type": "text", "text": "b", "index": 0, "id": "y"},
    ]
    assert (a + c).content == [{"type": "text", "text": "ac", "index": 0, "id": "x"}]


def test_a_non_standard_piece_becomes_the_extras_of_a_standard_block() -> None:
    call = {"type": "server_tool_call", "name": "search", "id": "s1", "args": {}, "index": 0}
    extra = {"type": "non_standard", "value": {"type": "x", "foo": "bar"}, "index": 0}
    assert (AIMessageChunk([call]) + AIMessageChunk([extra])).content == [
        {**call, "extras": {"foo": "bar"}}
    ]
    left = {"type": "non_standard", "index": 0, "value": {"type": "tool", "foo": "bar"}}
    right = {"type": "non_standard", "index": 0, "value": {"type": "delta", "json": "a"}}
    assert (AIMessageChunk([left]) + AIMessageChunk([right])).content == [
        {"type": "non_standard", "index": 0, "value": {"type": "tool", "foo": "bar", "json": "a"}}
    ]


def test_the_last_v1_chunk_completes_tool_call_and_server_tool_call_blocks() -> None:
    first = AIMessageChunk(
        [
            {
                "type": "tool_call_chunk",
                "id": "t1",
                "name": "f",
                "args": '{"a": ',
                "index": 0,
                "extras": {"k": 1},
            },
            {"type": "server_tool_call_chunk", "index": 1, "name": "search", "args": '{"q"'},
        ],
        tool_call_chunks=[tool_call_chunk(name="f", args='{"a": ', id="t1", index=0)],
        response_metadata={"output_version": "v1"},
    )
    second = AIMessageChunk(
        [
            {"type": "tool_call_chunk", "id": "t1", "args": "1}", "index": 0},
            {"type": "server_tool_call_chunk", "index": 1, "args": ': "x"}'},
        ],
        tool_call_chunks=[tool_call_chunk(args="1}", index=0)],
    )
    last = AIMessageChunk([], chunk_position="last")
    assert (first + second).content[0]["type"] == "tool_call_chunk"  # not the last yet
    assert (first + second + last).content == [
        {"type": "tool_call", "name": "f", "args": {"a": 1}, "id": "t1", "extras": {"k": 1}},
        {"type": "server_tool_call", "index": 1, "name": "search", "args": {"q": "x"}},
    ]


@pytest.mark.parametrize("value", [0.5, None, "3"])
def test_adding_usage_with_a_non_int_count_raises_value_error_as_langchain_core(
    value: object,
) -> None:
    # langchain-core refuses to add token counts that are not ints (or dicts of them);
    # adding the floats instead gave an answer it never gives.
    usage = cast(
        UsageMetadata,
        {
            "input_tokens": 1,
            "output_tokens": 1,
            "total_tokens": 2,
            "input_token_details": {"unknown": value},
        },
    )
    with pytest.raises(ValueError, match="Unknown value types") as raised:
        AIMessageChunk("x", usage_metadata=usage) + AIMessageChunk("y", usage_metadata=usage)
    assert "'unknown'" in str(raised.value)
    with pytest.raises(ValueError, match="Unknown value types"):
        add_usage(usage, usage)


def test_subtracting_usage_with_a_float_count_raises_value_error() -> None:
    from runnables.messages import subtract_usage

    usage = cast(UsageMetadata, {"input_tokens": 1.5, "output_tokens": 1, "total_tokens": 2})
    with pytest.raises(ValueError, match="Unknown value types"):
        subtract_usage(usage, usage)
