"""The tool-call parsers: JSON dicts, one tool's arguments, pydantic models."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from runnables import RunnableGenerator
from runnables.messages import AIMessage, AIMessageChunk
from runnables.output_parsers import (
    JsonOutputKeyToolsParser,
    JsonOutputToolsParser,
    OutputParserException,
    PydanticToolsParser,
)

MESSAGE = AIMessage(
    "",
    tool_calls=[
        {"name": "add", "args": {"a": 1, "b": 2}, "id": "c1"},
        {"name": "mul", "args": {"a": 3, "b": 4}, "id": "c2"},
    ],
)


def test_json_tools_parser_gives_type_and_args() -> None:
    assert JsonOutputToolsParser().invoke(MESSAGE) == [
        {"args": {"a": 1, "b": 2}, "type": "add"},
        {"args": {"a": 3, "b": 4}, "type": "mul"},
    ]
    with_ids = JsonOutputToolsParser(return_id=True, first_tool_only=True).invoke(MESSAGE)
    assert with_ids == {"args": {"a": 1, "b": 2}, "id": "c1", "type": "add"}
    assert JsonOutputToolsParser(first_tool_only=True).invoke(AIMessage("no calls")) is None


def test_openai_style_additional_kwargs_tool_calls_are_read_too() -> None:
    raw = AIMessage(
        "",
        additional_kwargs={
            "tool_calls": [{"id": "c9", "function": {"name": "add", "arguments": '{"a": 5}'}}]
        },
    )
    assert JsonOutputToolsParser(return_id=True).invoke(raw) == [
        {"args": {"a": 5}, "id": "c9", "type": "add"}
    ]
    broken = AIMessage(
        "", additional_kwargs={"tool_calls": [{"function": {"name": "f", "arguments": "{oops"}}]}
    )
    with pytest.raises(OutputParserException, match="are not valid JSON"):
        JsonOutputToolsParser().invoke(broken)


def test_key_tools_parser_keeps_one_tools_arguments() -> None:
    assert JsonOutputKeyToolsParser(key_name="mul").invoke(MESSAGE) == [{"a": 3, "b": 4}]
    first = JsonOutputKeyToolsParser(key_name="mul", first_tool_only=True)
    assert first.invoke(MESSAGE) == {"a": 3, "b": 4}
    assert JsonOutputKeyToolsParser(key_name="nope", first_tool_only=True).invoke(MESSAGE) is None


class add(BaseModel):  # noqa: N801 - named like the tool
    a: int
    b: int


class mul(BaseModel):  # noqa: N801
    a: int
    b: int


def test_pydantic_tools_parser_validates_into_models() -> None:
    assert PydanticToolsParser(tools=[add, mul]).invoke(MESSAGE) == [add(a=1, b=2), mul(a=3, b=4)]
    with pytest.raises(OutputParserException, match="Unknown tool type: 'mul'"):
        PydanticToolsParser(tools=[add]).invoke(MESSAGE)
    bad = AIMessage("", tool_calls=[{"name": "add", "args": {"a": "x"}, "id": "c"}])
    with pytest.raises(ValidationError):
        PydanticToolsParser(tools=[add]).invoke(bad)


def _streamed(_: Any) -> Iterator[AIMessageChunk]:
    pieces = ['{"a"', ": 1", ', "b": ', "2}"]
    for i, piece in enumerate(pieces):
        first = i == 0
        yield AIMessageChunk(
            "",
            tool_call_chunks=[
                {
                    "name": "add" if first else None,
                    "args": piece,
                    "id": "c1" if first else None,
                    "index": 0,
                }
            ],
        )


def test_streaming_yields_the_calls_as_their_arguments_grow() -> None:
    chain = RunnableGenerator(_streamed) | JsonOutputToolsParser()
    assert list(chain.stream(None)) == [
        [{"args": {}, "type": "add"}],
        [{"args": {"a": 1}, "type": "add"}],
        [{"args": {"a": 1, "b": 2}, "type": "add"}],
    ]


async def test_pydantic_streaming_skips_calls_that_do_not_validate_yet() -> None:
    chain = RunnableGenerator(_streamed) | PydanticToolsParser(tools=[add], first_tool_only=True)
    assert [x async for x in chain.astream(None)] == [add(a=1, b=2)]


def test_text_input_is_refused_with_what_to_do() -> None:
    with pytest.raises(NotImplementedError, match="right after a chat model"):
        JsonOutputToolsParser().parse("text")


def test_invalid_arguments_after_a_max_tokens_stop_say_the_output_was_cut_off(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Names(BaseModel):
        names: list[str]
        count: int

    parser = PydanticToolsParser(tools=[Names], first_tool_only=True)
    cut = AIMessage(
        "",
        tool_calls=[{"id": "c1", "name": "Names", "args": {"names": ["a"]}}],
        response_metadata={"stop_reason": "max_tokens"},
    )
    with pytest.raises(ValidationError) as info:
        parser.invoke(cut)
    assert any("`max_tokens` stop reason" in n for n in info.value.__notes__)
    assert any(
        "`max_tokens` stop reason" in r.getMessage() and r.levelname == "ERROR"
        for r in caplog.records
    )
    # without the stop reason: the same error, nothing logged
    caplog.clear()
    with pytest.raises(ValidationError):
        parser.invoke(AIMessage("", tool_calls=cut.tool_calls))
    assert not caplog.records
