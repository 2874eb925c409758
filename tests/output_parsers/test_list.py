"""List parsers: whole lists from invoke, one complete item at a time from streams."""

from __future__ import annotations

from runnables.output_parsers import (
    CommaSeparatedListOutputParser,
    MarkdownListOutputParser,
    NumberedListOutputParser,
)


def test_comma_separated_list_understands_quotes() -> None:
    assert CommaSeparatedListOutputParser().invoke('a, "b, c", d') == ["a", "b, c", "d"]


async def test_comma_separated_stream_yields_each_item_once_complete() -> None:
    parser = CommaSeparatedListOutputParser()
    outs = [x async for x in parser.atransform(list('red, "dark, green", blue'))]
    assert outs == [["red"], ["dark, green"], ["blue"]]


def test_numbered_and_markdown_lists_stream_by_line() -> None:
    assert list(NumberedListOutputParser().transform(list("1. foo\n2. bar\n3. baz"))) == [
        ["foo"],
        ["bar"],
        ["baz"],
    ]
    assert MarkdownListOutputParser().invoke("- a\n* b\n") == ["a", "b"]


def test_langchain_add_helper_is_the_iterable_one() -> None:
    # langchain_core.runnables.utils.add sums an iterable; runnables.core.base's
    # two-argument chunk combiner must not be exported under the same name.
    import runnables.core.base as base
    from runnables.core.helpers import add

    assert "add" not in base.__all__
    assert add(iter(["a", "b"])) == "ab"
