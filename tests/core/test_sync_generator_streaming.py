"""A sync RunnableGenerator fed from async steps streams through on a thread of its own.

Ordering is by events: the async source produces chunk N+1 only after the consumer has
received chunk N, so a step that gathered its input would deadlock (and time out).
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from engine_testing import closable, other_tasks
from runnables import RunnableConfig, RunnableGenerator, RunnableLambda, get_config

TIMEOUT = 10
USER_VAR: contextvars.ContextVar[str] = contextvars.ContextVar("user_var", default="unset")


def generator_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("runnables-generator-")]


def gated_source(received: list[asyncio.Event], produced: list[int]) -> RunnableGenerator[Any, int]:
    async def source(inputs: AsyncIterator[Any]) -> AsyncIterator[int]:
        async for _ in inputs:
            pass
        for i in range(len(received)):
            if i > 0:
                await received[i - 1].wait()
            produced.append(i)
            yield i

    return RunnableGenerator(source)


async def test_sync_generator_between_async_generators_streams_each_chunk_through() -> None:
    received = [asyncio.Event() for _ in range(3)]
    produced: list[int] = []
    threads: set[str] = set()

    def double(chunks: Iterator[int]) -> Iterator[int]:
        for c in chunks:
            threads.add(threading.current_thread().name)
            yield c * 2

    async def plus_one(chunks: AsyncIterator[int]) -> AsyncIterator[int]:
        async for c in chunks:
            yield c + 1

    chain = gated_source(received, produced) | RunnableGenerator(double) | plus_one

    async def consume() -> list[tuple[int, list[int]]]:
        out = []
        async for chunk in chain.astream(None):
            out.append((chunk, list(produced)))
            received[len(out) - 1].set()
        return out

    out = await asyncio.wait_for(consume(), TIMEOUT)
    # The first output arrived when the source had produced only its first chunk.
    assert out == [(1, [0]), (3, [0, 1]), (5, [0, 1, 2])]
    assert threads == {"runnables-generator-double"}
    assert generator_threads() == []


async def test_sync_generator_pulls_its_input_only_as_it_needs_it() -> None:
    log: list[str] = []

    async def source(inputs: AsyncIterator[Any]) -> AsyncIterator[int]:
        async for _ in inputs:
            pass
        for i in range(3):
            log.append(f"source {i}")
            yield i

    def passthrough(chunks: Iterator[int]) -> Iterator[int]:
        for c in chunks:
            log.append(f"gen {c}")
            yield c

    async for chunk in (RunnableGenerator(source) | passthrough).astream(None):
        log.append(f"receive {chunk}")
    expected = []
    for i in range(3):
        expected += [f"source {i}", f"gen {i}", f"receive {i}"]
    assert log == expected


async def test_leaving_the_stream_early_closes_the_sync_generator_and_its_thread() -> None:
    log: list[str] = []

    async def source(inputs: AsyncIterator[Any]) -> AsyncIterator[int]:
        async for _ in inputs:
            pass
        for i in range(1000):
            yield i

    def numbers(chunks: Iterator[int]) -> Iterator[int]:
        try:
            yield from chunks
        except GeneratorExit:
            log.append("GeneratorExit")
            raise
        finally:
            log.append("finally")

    before = other_tasks()
    stream = closable((RunnableGenerator(source) | numbers).astream(None))
    async for chunk in stream:
        if chunk == 2:
            break
    await stream.aclose()  # returns once the generator is closed on its thread
    assert log == ["GeneratorExit", "finally"]
    assert other_tasks() <= before
    assert generator_threads() == []


async def test_cancelling_while_the_sync_generator_waits_for_input_ends_its_thread() -> None:
    log: list[str] = []
    waiting = asyncio.Event()

    async def stalled_source(inputs: AsyncIterator[Any]) -> AsyncIterator[int]:
        async for _ in inputs:
            pass
        yield 0
        waiting.set()
        await asyncio.Event().wait()  # the second chunk never comes
        yield 1

    def numbers(chunks: Iterator[int]) -> Iterator[int]:
        try:
            yield from chunks
        except GeneratorExit:
            log.append("GeneratorExit")  # raised by its input iterator
            raise
        finally:
            log.append("finally")

    got = []

    async def consume() -> None:
        async for chunk in (RunnableGenerator(stalled_source) | numbers).astream(None):
            got.append(chunk)

    task = asyncio.create_task(consume())
    await asyncio.wait_for(waiting.wait(), TIMEOUT)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, TIMEOUT)
    assert got == [0]
    assert log == ["GeneratorExit", "finally"]
    assert generator_threads() == []


async def test_cancelling_mid_chunk_waits_for_the_user_code_then_closes_the_generator() -> None:
    log: list[str] = []
    entered = asyncio.Event()
    release = threading.Event()
    loop = asyncio.get_running_loop()

    async def source(inputs: AsyncIterator[Any]) -> AsyncIterator[int]:
        async for _ in inputs:
            pass
        for i in range(3):
            yield i

    def slow(chunks: Iterator[int]) -> Iterator[int]:
        try:
            for c in chunks:
                if c == 1:
                    loop.call_soon_threadsafe(entered.set)
                    release.wait(TIMEOUT)  # busy in user code when the caller is cancelled
                    log.append("done with chunk 1")
                yield c
        except GeneratorExit:
            log.append("GeneratorExit")
            raise

    async def consume() -> None:
        async for _ in (RunnableGenerator(source) | slow).astream(None):
            pass

    task = asyncio.create_task(consume())
    await asyncio.wait_for(entered.wait(), TIMEOUT)
    task.cancel()
    await asyncio.sleep(0.05)
    assert not task.done()  # the thread is still in the user's code: the call waits
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, TIMEOUT)
    assert log == ["done with chunk 1", "GeneratorExit"]
    assert generator_threads() == []


async def test_an_error_in_the_sync_generator_reaches_the_caller_with_the_step_note() -> None:
    async def source(inputs: AsyncIterator[Any]) -> AsyncIterator[int]:
        async for _ in inputs:
            pass
        yield 1
        yield 2

    def fails_on_two(chunks: Iterator[int]) -> Iterator[int]:
        for c in chunks:
            if c == 2:
                raise ValueError(f"bad chunk {c}")
            yield c

    got = []
    with pytest.raises(ValueError, match="bad chunk 2") as info:
        async for chunk in (RunnableGenerator(source) | fails_on_two).astream(None):
            got.append(chunk)
    assert got == [1]
    assert info.value.__notes__ == ["(raised in runnables step 'fails_on_two')"]
    assert generator_threads() == []


async def test_an_upstream_error_is_raised_inside_the_sync_generator_from_its_input() -> None:
    seen: list[str] = []

    async def source(inputs: AsyncIterator[Any]) -> AsyncIterator[int]:
        async for _ in inputs:
            pass
        yield 1
        raise KeyError("upstream")

    def watch(chunks: Iterator[int]) -> Iterator[int]:
        try:
            yield from chunks
        except KeyError as exc:
            seen.append(repr(exc))
            raise

    with pytest.raises(KeyError) as info:
        async for _ in (RunnableGenerator(source) | watch).astream(None):
            pass
    assert seen == ["KeyError('upstream')"]
    assert info.value.__notes__ == ["(raised in runnables step 'source')"]


async def test_the_sync_generator_sees_its_config_and_the_callers_context() -> None:
    seen: dict[str, Any] = {}

    async def source(inputs: AsyncIterator[Any]) -> AsyncIterator[int]:
        async for _ in inputs:
            pass
        yield 1

    def inspect_it(chunks: Iterator[int], config: RunnableConfig) -> Iterator[int]:
        for c in chunks:
            seen["tags"] = config.get("tags")
            seen["current"] = get_config().get("metadata")
            seen["var"] = USER_VAR.get()
            yield c

    USER_VAR.set("from caller")
    chain = RunnableGenerator(source) | RunnableGenerator(inspect_it)
    out = [c async for c in chain.astream(None, {"tags": ["t"], "metadata": {"k": "v"}})]
    assert out == [1]
    assert seen["tags"] == ["t"]
    assert seen["current"] == {"k": "v"}
    assert seen["var"] == "from caller"


def test_sync_stream_of_sync_steps_runs_the_generator_inline() -> None:
    threads: list[str] = []

    def double(chunks: Iterator[int]) -> Iterator[int]:
        for c in chunks:
            threads.append(threading.current_thread().name)
            yield c * 2

    chain = RunnableLambda(lambda x: x) | double
    assert list(chain.stream(3)) == [6]
    assert threads == [threading.current_thread().name]
