"""Gathering a stream of chunks into one value follows langchain-core's rule.

Chunks that support ``+`` (AddableDict, message chunks, str, list) are added; anything
else, a plain dict included, replaces the previous chunk. Every place that gathers
chunks (a generator step's output, a step's streamed input, a traced run's output) does
the same.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from runnables import (
    AddableDict,
    Runnable,
    RunnableGenerator,
    RunnableLambda,
    RunnablePassthrough,
)
from runnables.callbacks import BaseCallbackHandler
from runnables.messages import AIMessage, AIMessageChunk
from runnables.models import FakeListChatModel, GenericFakeChatModel
from runnables.output_parsers import JsonOutputParser


async def _three_dicts(x: Any) -> AsyncIterator[dict[str, str]]:
    for _ in range(3):
        yield {"foo": "bar"}


def _three_dicts_sync(x: Any) -> Iterator[dict[str, str]]:
    for _ in range(3):
        yield {"foo": "bar"}


async def test_an_async_generator_of_plain_dicts_gives_the_last_dict() -> None:
    assert await RunnableLambda(_three_dicts).ainvoke(1) == {"foo": "bar"}
    assert await RunnableGenerator(_three_dicts).ainvoke(1) == {"foo": "bar"}


def test_a_sync_generator_of_plain_dicts_gives_the_last_dict() -> None:
    assert RunnableLambda(_three_dicts_sync).invoke(1) == {"foo": "bar"}
    assert RunnableGenerator(_three_dicts_sync).invoke(1) == {"foo": "bar"}


async def test_addable_chunks_are_still_added() -> None:
    async def parts(x: Any) -> AsyncIterator[Any]:
        yield AddableDict(a="Hel")
        yield AddableDict(a="lo", b=[1])
        yield AddableDict(b=[2])

    async def words(x: Any) -> AsyncIterator[str]:
        yield "a"
        yield "b"

    assert await RunnableLambda(parts).ainvoke(1) == {"a": "Hello", "b": [1, 2]}
    assert await RunnableLambda(words).ainvoke(1) == "ab"


def test_addable_dicts_with_values_that_cannot_be_added_raise_and_gather_to_the_later() -> None:
    # langchain-core 1.8.3: `+` raises TypeError naming the key; gathering a stream
    # catches it and keeps the later chunk.
    with pytest.raises(TypeError, match=r"incompatible types for key 'a': 'dict' and 'dict'"):
        AddableDict(a={"x": "1"}) + AddableDict(a={"x": "2"})
    with pytest.raises(TypeError, match=r"key 'n': 'int' and 'str'"):
        {"n": 1} + AddableDict(n="s")


async def test_a_stream_of_addable_dicts_that_cannot_be_added_gives_the_later_one() -> None:
    async def parts(x: Any) -> AsyncIterator[Any]:
        yield AddableDict(a={"x": "1"})
        yield AddableDict(a={"x": "2"})

    assert await RunnableLambda(parts).ainvoke(1) == {"a": {"x": "2"}}


async def test_a_step_after_a_dict_stream_gets_the_last_dict_as_its_input() -> None:
    seen: list[Any] = []

    def record(d: dict[str, Any]) -> dict[str, Any]:
        seen.append(d)
        return d

    chain = RunnableLambda(_three_dicts) | RunnableLambda(record)
    assert [c async for c in chain.astream(1)] == [{"foo": "bar"}]
    assert seen == [{"foo": "bar"}]


async def test_a_passthrough_side_effect_sees_the_last_dict_of_a_stream() -> None:
    seen: list[Any] = []
    chain = RunnableLambda(_three_dicts) | RunnablePassthrough(seen.append)
    assert len([c async for c in chain.astream(1)]) == 3
    assert seen == [{"foo": "bar"}]


def test_json_parser_stream_into_a_lambda_gives_the_parsed_object() -> None:
    model = FakeListChatModel(responses=['{"a": [1, 2, 3], "b": "text"}'])
    chain = model | JsonOutputParser() | (lambda d: d)
    assert list(chain.stream("q")) == [{"a": [1, 2, 3], "b": "text"}]


async def test_json_parser_end_event_reports_the_parsed_object() -> None:
    model = FakeListChatModel(responses=['{"a": [1, 2], "b": "xy"}'])
    chain = model | JsonOutputParser() | (lambda d: d)
    events = [e async for e in chain.astream_events("q", version="v2")]
    (parser_end,) = [e for e in events if e["event"] == "on_parser_end"]
    assert parser_end["data"]["output"] == {"a": [1, 2], "b": "xy"}
    (chain_end,) = [e for e in events if e["event"] == "on_chain_end" and not e["parent_ids"]]
    assert chain_end["data"]["output"] == {"a": [1, 2], "b": "xy"}


async def test_message_chunks_are_merged_into_one_message() -> None:
    model = GenericFakeChatModel(messages=iter([AIMessage("hello there world")]))
    (gathered,) = [c async for c in (model | RunnableLambda(lambda m: m)).astream("q")]
    assert isinstance(gathered, AIMessageChunk)
    assert gathered.content == "hello there world"


async def test_after_an_unaddable_chunk_a_runs_record_keeps_only_the_latest_chunk() -> None:
    # langchain-core: gathering a step's value adds again after an unaddable chunk, but
    # the run's recorded output (on_chain_end) keeps only the latest chunk from then on.
    async def mixed(x: Any) -> AsyncIterator[Any]:
        yield 1
        yield "a"
        yield "b"

    step = RunnableLambda(mixed)
    assert await step.ainvoke(None) == "ab"
    events = [e async for e in step.astream_events(None, version="v2")]
    (end,) = [e for e in events if e["event"] == "on_chain_end"]
    assert end["data"]["output"] == "b"


@pytest.mark.parametrize(
    ("chunks", "stop_after_unaddable", "expected"),
    [
        ([], False, None),
        (["a", "b", 1, "c"], False, "c"),
        (["a", "b", 1, "c"], True, "c"),
        (["a", 1, "b", "c"], False, "bc"),
        (["a", 1, "b", "c"], True, "c"),
        ([{"a": 1}, {"b": 2}], False, {"b": 2}),
        ([[1], [2], None, [3]], False, [3]),
    ],
)
def test_chunk_accumulator_adds_one_at_a_time_like_langchain_core(
    chunks: list[Any], stop_after_unaddable: bool, expected: Any
) -> None:
    from runnables.core.chunks import ChunkAccumulator

    acc = ChunkAccumulator(stop_after_unaddable=stop_after_unaddable)
    for chunk in chunks:
        acc.add(chunk)
    assert acc.value == expected


# ------------------------------------------- a generator that stops reading early


class _UpstreamError(Exception):
    pass


def _upstream(produced: list[str]) -> RunnableGenerator[Any, str]:
    async def up(chunks: AsyncIterator[Any]) -> AsyncIterator[str]:
        async for _ in chunks:
            pass
        for word in ("a", "b", "c"):
            produced.append(word)
            yield word
        raise _UpstreamError("upstream failed after its last chunk")

    return RunnableGenerator(up)


async def _first_only(chunks: AsyncIterator[str]) -> AsyncIterator[str]:
    yield await anext(aiter(chunks))


def _first_only_sync(chunks: Iterator[str]) -> Iterator[str]:
    yield next(iter(chunks))


@pytest.mark.parametrize("down", [_first_only, _first_only_sync], ids=["async", "sync"])
async def test_a_generator_that_stops_reading_early_still_runs_its_upstream_to_the_end(
    down: Any,
) -> None:
    # langchain-core reads the rest of a generator's input once it returns, so the
    # steps before it finish (their side effects happen) and their error is raised.
    produced: list[str] = []
    chain: Runnable[Any, Any] = _upstream(produced) | RunnableGenerator(down)
    with pytest.raises(_UpstreamError):
        _ = [chunk async for chunk in chain.astream(1)]
    assert produced == ["a", "b", "c"]


def test_a_sync_generator_stopping_early_still_runs_its_upstream_in_sync_stream() -> None:
    produced: list[str] = []

    def up(chunks: Iterator[Any]) -> Iterator[str]:
        for _ in chunks:
            pass
        for word in ("a", "b", "c"):
            produced.append(word)
            yield word
        raise _UpstreamError("upstream failed after its last chunk")

    chain: Runnable[Any, Any] = RunnableGenerator(up) | RunnableGenerator(_first_only_sync)
    with pytest.raises(_UpstreamError):
        list(chain.stream(1))
    assert produced == ["a", "b", "c"]


# ------------------------------------------- a run record whose chunks do not add up


_FLOAT_USAGE: Any = {
    "input_tokens": 1,
    "output_tokens": 1,
    "total_tokens": 2,
    "input_token_details": {"unknown": 0.5},
}


class _ChainErrors(BaseCallbackHandler):
    def __init__(self) -> None:
        self.errors: list[tuple[BaseException, Any]] = []

    def on_chain_error(
        self, error: BaseException, *, run_id: Any, parent_run_id: Any = None, **kwargs: Any
    ) -> None:
        self.errors.append((error, parent_run_id))


async def _unaddable_messages(x: Any) -> AsyncIterator[AIMessageChunk]:
    for _ in range(2):
        yield AIMessageChunk("x", usage_metadata=_FLOAT_USAGE)


async def test_a_traced_output_that_cannot_be_merged_streams_every_chunk_then_raises() -> None:
    # As langchain-core: the record's merge failing does not cut the stream short; the
    # run ends with the merge's ValueError once the stream is done.
    errors = _ChainErrors()
    got: list[Any] = []
    gen: Runnable[Any, Any] = RunnableGenerator(_unaddable_messages)
    with pytest.raises(ValueError, match="Unknown value types"):
        async for chunk in gen.astream(1, {"callbacks": [errors]}):
            got.append(chunk)
    assert len(got) == 2
    assert any(parent is None for _, parent in errors.errors)  # the root run ended too
    assert all(isinstance(e, ValueError) for e, _ in errors.errors)


async def test_an_unmergeable_recorded_input_does_not_replace_the_upstream_error() -> None:
    async def up(x: Any) -> AsyncIterator[AIMessageChunk]:
        async for chunk in _unaddable_messages(x):
            yield chunk
        raise _UpstreamError("upstream failed")

    async def down(chunks: AsyncIterator[Any]) -> AsyncIterator[Any]:
        yield await anext(aiter(chunks))

    errors = _ChainErrors()
    chain: Runnable[Any, Any] = RunnableGenerator(up) | RunnableGenerator(down)
    with pytest.raises(_UpstreamError):
        _ = [chunk async for chunk in chain.astream(1, {"callbacks": [errors]})]
    assert errors.errors
    assert all(isinstance(e, _UpstreamError) for e, _ in errors.errors)
