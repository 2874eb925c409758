"""JsonOutputParser: partial values while streaming, errors with positions, linear cost."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import AsyncIterator

import pytest

from runnables.messages import AIMessage, AIMessageChunk
from runnables.output_parsers import JsonOutputParser, OutputParserException


async def test_astream_yields_growing_partial_objects_and_only_changes() -> None:
    doc = '{"title": "Hi", "tags": ["a", "b"], "n": 3}'
    outs = [x async for x in JsonOutputParser().atransform(list(doc))]
    assert outs[0] == {}
    assert outs[-1] == json.loads(doc)
    assert all(a != b for a, b in itertools.pairwise(outs))
    assert {"title": "H"} in outs and {"title": "Hi", "tags": ["a"]} in outs


async def test_message_chunks_are_parsed_like_text() -> None:
    chunks = [AIMessageChunk(content=c) for c in ['{"a"', ": [1,", " 2]}"]]
    outs = [x async for x in JsonOutputParser().atransform(chunks)]
    assert outs == [{}, {"a": [1]}, {"a": [1, 2]}]


def test_invoke_parses_a_message_with_a_fence() -> None:
    assert JsonOutputParser().invoke(AIMessage('```json\n{"x": [true]}\n```')) == {"x": [True]}


def test_invalid_json_error_has_position_and_the_whole_output() -> None:
    text = '{"a": 1,\n "b": nope}'
    with pytest.raises(OutputParserException) as info:
        JsonOutputParser().invoke(text)
    assert (info.value.line, info.value.column) == (2, 8)  # the "o" of "nope"
    assert info.value.llm_output == text


async def test_streaming_error_is_raised_at_the_bad_chunk_with_the_text_so_far() -> None:
    seen: list[object] = []

    async def chunks() -> AsyncIterator[str]:
        for c in ['{"a": 1', ", ", "}"]:
            yield c

    with pytest.raises(OutputParserException) as info:
        async for out in JsonOutputParser().atransform(chunks()):
            seen.append(out)
    assert seen == [{}, {"a": 1}]
    assert info.value.llm_output == '{"a": 1, }'


async def test_huge_values_are_coalesced_but_the_last_value_is_always_yielded() -> None:
    doc = json.dumps({"items": [{"id": i, "name": f"item {i}"} for i in range(3000)]})
    outs = [x async for x in JsonOutputParser().atransform(list(doc))]
    assert outs[-1] == json.loads(doc)
    assert 100 < len(outs) < len(doc)


def _stream_time(parser: JsonOutputParser, doc: str) -> float:
    start = time.perf_counter()
    for _ in parser.transform(list(doc)):
        pass
    return time.perf_counter() - start


def _doc(n_items: int) -> str:
    return json.dumps(
        {"items": [{"id": i, "text": "lorem ipsum " * 5, "ok": i % 2 == 0} for i in range(n_items)]}
    )


def test_streaming_cost_grows_linearly_not_quadratically() -> None:
    parser = JsonOutputParser()
    small, big = _doc(100), _doc(1000)
    _stream_time(parser, small)  # warm up
    t_small = min(_stream_time(parser, small) for _ in range(3))
    t_big = min(_stream_time(parser, big) for _ in range(2))
    # 10x the text; quadratic would be ~100x. Very generous bound for a noisy machine.
    assert t_big < 40 * t_small


def test_format_instructions_carry_the_pydantic_schema() -> None:
    from pydantic import BaseModel

    class Person(BaseModel):
        name: str

    text = JsonOutputParser(pydantic_object=Person).get_format_instructions()
    assert '"name"' in text and "Person" not in text
