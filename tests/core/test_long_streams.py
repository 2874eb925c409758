"""Streaming through flat chains far longer than Python's recursion limit allows nesting.

Each step of a streaming chain is a generator nested in the next; a chain of 1,000
generator steps (or any long chain under tracing) used to raise ``RecursionError``.
These tests stream 1,000 steps of each kind, and check that the chain still behaves as
a nest: backpressure (gated, so buffering would deadlock), every generator closed when
the consumer leaves early, cancellation and errors reaching the step that waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Generator, Iterator
from typing import Any

import pytest

from engine_testing import other_tasks
from runnables import RunnableGenerator, RunnableLambda, RunnableParallel, RunnableSequence

N = 1000
TIMEOUT = 30


async def _add_one(chunks: AsyncIterator[int]) -> AsyncIterator[int]:
    async for c in chunks:
        yield c + 1


def _sync_add_one(chunks: Iterator[int]) -> Iterator[int]:
    for c in chunks:
        yield c + 1


def _spread(x: int) -> Iterator[int]:
    yield from (x, x + 10, x + 20)


def _chain(step: Any, n: int = N) -> RunnableSequence[Any, Any]:
    return RunnableSequence(RunnableLambda(_spread), *[step for _ in range(n)])


async def test_astream_through_1000_async_generator_steps_streams_every_chunk() -> None:
    chain = _chain(RunnableGenerator(_add_one))
    assert [c async for c in chain.astream(0)] == [N, N + 10, N + 20]

    async def add_one(x: int) -> AsyncIterator[int]:  # gathers its input, then streams
        yield x + 1

    as_lambdas = _chain(RunnableLambda(add_one))
    assert [c async for c in as_lambdas.astream(0)] == [N + 30]
    assert await chain.ainvoke(0) == N + 30  # invoke adds the chunks up first


def test_sync_stream_through_1000_generator_steps_streams_every_chunk() -> None:
    chain = _chain(RunnableGenerator(_sync_add_one))
    # on the bridge loop, each generator pulling its input on a thread of its own
    assert list(chain.stream(0)) == [N, N + 10, N + 20]
    mixed: RunnableSequence[int, int] = RunnableSequence(
        chain, RunnableGenerator(_add_one)
    )  # on the bridge loop
    assert list(mixed.stream(0)) == [N + 1, N + 11, N + 21]


async def test_astream_of_1000_sync_generator_steps_on_their_threads() -> None:
    chain = _chain(RunnableGenerator(_sync_add_one), 600)
    assert [c async for c in chain.astream(0)] == [600, 610, 620]


async def test_astream_events_through_1000_steps_reports_every_step() -> None:
    chain = _chain(RunnableGenerator(_add_one, name="add"))
    events = [e async for e in chain.astream_events(0, version="v2")]
    starts = [e for e in events if e["event"] == "on_chain_start"]
    ends = [e for e in events if e["event"] == "on_chain_end"]
    assert len(starts) == len(ends) == N + 2  # the chain, _spread, and N steps
    root = [e for e in events if e["event"] == "on_chain_stream" and not e["parent_ids"]]
    assert [e["data"]["chunk"] for e in root] == [N, N + 10, N + 20]
    plain: RunnableSequence[int, int] = RunnableSequence(
        *[RunnableLambda[int, int](lambda x: x + 1) for _ in range(N)]
    )
    streamed = [e async for e in plain.astream_events(0, version="v2")]
    assert streamed[-1]["event"] == "on_chain_end"
    assert streamed[-1]["data"]["output"] == N


def test_sync_stream_events_through_1000_generator_steps() -> None:
    chain = _chain(RunnableGenerator(_add_one))
    events = list(chain.stream_events(0, version="v2"))
    assert events[-1]["event"] == "on_chain_end"
    assert events[-1]["data"]["output"] == 3 * N + 30


class _Counting:
    """A callback handler counting chain starts and ends."""

    def __init__(self) -> None:
        self.starts = 0
        self.ends = 0

    def on_chain_start(self, serialized: Any, inputs: Any, **kw: Any) -> None:
        self.starts += 1

    async def on_chain_end(self, outputs: Any, **kw: Any) -> None:
        await asyncio.sleep(0)  # a handler that suspends
        self.ends += 1


async def test_astream_with_callbacks_through_1000_steps() -> None:
    handler = _Counting()
    chain = _chain(RunnableGenerator(_add_one))
    got = [c async for c in chain.astream(0, {"callbacks": [handler]})]
    assert got == [N, N + 10, N + 20]
    assert handler.starts == handler.ends == N + 2


def test_sync_stream_with_callbacks_through_1000_plain_steps() -> None:
    handler = _Counting()
    chain: RunnableSequence[int, int] = RunnableSequence(
        *[RunnableLambda[int, int](lambda x: x + 1) for _ in range(N)]
    )
    assert list(chain.stream(0, {"callbacks": [handler]})) == [N]
    assert handler.starts == handler.ends == N + 1


async def test_a_long_chain_keeps_backpressure() -> None:
    """The head produces chunk i + 1 only once the consumer holds chunk i: a chain that
    read ahead anywhere would wait forever."""
    received = [asyncio.Event() for _ in range(4)]

    async def head(chunks: AsyncIterator[int]) -> AsyncIterator[int]:
        async for _ in chunks:
            pass
        for i in range(4):
            if i:
                await received[i - 1].wait()
            yield i

    chain: RunnableSequence[int, int] = RunnableSequence(
        RunnableGenerator(head), *[RunnableGenerator(_add_one)] * N
    )

    async def consume() -> list[int]:
        out: list[int] = []
        async for c in chain.astream(0):
            received[len(out)].set()
            out.append(c)
        return out

    assert await asyncio.wait_for(consume(), TIMEOUT) == [N, N + 1, N + 2, N + 3]


def _closing_steps(closed: list[int], n: int) -> list[RunnableGenerator[int, int]]:
    def make(i: int) -> RunnableGenerator[int, int]:
        async def step(chunks: AsyncIterator[int]) -> AsyncIterator[int]:
            try:
                async for c in chunks:
                    yield c
            finally:
                closed.append(i)

        return RunnableGenerator(step)

    return [make(i) for i in range(n)]


async def test_leaving_a_long_stream_early_closes_every_generator_last_first() -> None:
    closed: list[int] = []

    async def endless(chunks: AsyncIterator[int]) -> AsyncIterator[int]:
        async for _ in chunks:
            pass
        i = 0
        while True:
            yield i
            i += 1

    chain: RunnableSequence[int, int] = RunnableSequence(
        RunnableGenerator(endless), *_closing_steps(closed, N)
    )
    async with contextlib.aclosing(chain.astream(0)) as stream:  # type: ignore[type-var]
        assert await anext(stream) == 0
    assert closed == list(reversed(range(N)))  # as a nest closes: outermost first


def test_leaving_a_long_sync_stream_early_closes_every_generator() -> None:
    closed: list[int] = []

    def make(i: int) -> RunnableGenerator[int, int]:
        def step(chunks: Iterator[int]) -> Iterator[int]:
            try:
                yield from chunks
            finally:
                closed.append(i)

        return RunnableGenerator(step)

    chain: RunnableSequence[int, int] = RunnableSequence(
        RunnableLambda(_spread), *[make(i) for i in range(N)]
    )
    stream = chain.stream(0)
    assert next(stream) == 0
    assert isinstance(stream, Generator)  # as stream documents, so it can be closed
    stream.close()  # cancels the stream on the bridge loop, which closes every step
    deadline = time.monotonic() + TIMEOUT
    while len(closed) < N and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sorted(closed) == list(range(N))


async def test_cancelling_a_long_stream_reaches_the_waiting_step_and_closes_all() -> None:
    closed: list[int] = []
    waiting = asyncio.Event()
    seen: list[BaseException] = []
    before = other_tasks()

    async def stuck(chunks: AsyncIterator[int]) -> AsyncIterator[int]:
        async for c in chunks:
            yield c
        try:
            waiting.set()
            await asyncio.Event().wait()
        except asyncio.CancelledError as exc:
            seen.append(exc)
            raise
        yield -1  # never reached

    steps = _closing_steps(closed, N)
    steps.insert(N // 2, RunnableGenerator(stuck))
    chain: RunnableSequence[int, int] = RunnableSequence(RunnableLambda(_spread), *steps)

    async def consume() -> list[int]:
        return [c async for c in chain.astream(0)]

    task = asyncio.ensure_future(consume())
    await asyncio.wait_for(waiting.wait(), TIMEOUT)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(seen) == 1
    assert sorted(closed) == list(range(N))
    assert other_tasks() - before == set()


async def test_an_error_deep_in_a_long_stream_reaches_the_consumer_unchanged() -> None:
    closed: list[int] = []

    class BoomError(Exception):
        pass

    async def fail(chunks: AsyncIterator[int]) -> AsyncIterator[int]:
        async for c in chunks:
            if c == 10:
                raise BoomError("deep")
            yield c

    steps = _closing_steps(closed, N)
    steps.insert(7, RunnableGenerator(fail))
    chain: RunnableSequence[int, int] = RunnableSequence(RunnableLambda(_spread), *steps)
    got: list[int] = []
    with pytest.raises(BoomError, match="deep"):
        async for c in chain.astream(0):
            got.append(c)
    assert got == [0]
    assert sorted(closed) == list(range(N))


async def test_parallel_and_nested_long_chains_inside_a_long_chain() -> None:
    """A parallel step reads its input in its branches' tasks, and a long chain as a
    step runs its own segments: both meet the outer chain's segments."""
    inner: RunnableSequence[int, int] = RunnableSequence(
        *[RunnableGenerator(_add_one)] * N, name="inner"
    )
    fan = RunnableParallel(a=RunnableGenerator(_add_one), b=inner)
    steps: list[Any] = [RunnableGenerator(_add_one)] * N
    for at in (1, 64, 65, 500, N - 1):
        steps.insert(at, inner)
    steps.insert(300, fan)
    steps.insert(301, RunnableLambda[dict[str, int], int](lambda d: d["a"] + d["b"]))
    chain: RunnableSequence[int, int] = RunnableSequence(
        RunnableLambda[int, int](lambda x: x), *steps
    )
    total = await chain.ainvoke(0)
    assert [c async for c in chain.astream(0)] == [total]
    events = [e async for e in chain.astream_events(0, version="v2")]
    assert events[-1]["data"]["output"] == total


def test_sync_stream_with_callbacks_through_plain_steps_and_a_generator() -> None:
    handler = _Counting()
    plain = [RunnableLambda[int, int](lambda x: x + 1) for _ in range(N)]
    chain: RunnableSequence[int, int] = RunnableSequence(*plain, RunnableGenerator(_sync_add_one))
    assert list(chain.stream(0, {"callbacks": [handler]})) == [N + 1]
    assert handler.starts == handler.ends == N + 2


async def test_a_deadline_stops_a_long_stream_waiting_deep_inside() -> None:
    from runnables import StepTimeoutError

    closed: list[int] = []

    async def hang(chunks: AsyncIterator[int]) -> AsyncIterator[int]:
        async for c in chunks:
            yield c
        await asyncio.Event().wait()
        yield -1  # never reached

    steps = _closing_steps(closed, N)
    steps.insert(N - 10, RunnableGenerator(hang))
    chain = RunnableSequence[int, int](RunnableLambda(_spread), *steps)
    # The deadline has to fire once the chunks are through and `hang` waits: a machine
    # too loaded to pass them through 1,000 steps in time tries a longer deadline.
    for timeout in (0.5, 2.0, 8.0, TIMEOUT):
        closed.clear()
        got: list[int] = []
        with pytest.raises(StepTimeoutError):
            async for c in chain.with_timeout(timeout).astream(0):
                got.append(c)
        assert sorted(closed) == list(range(N))  # every step closed, whenever it fired
        if len(got) == 3:
            break
    assert got == [0, 10, 20]


def test_sync_stream_of_long_chains_without_sync_generators_stays_inline() -> None:
    """Only a sync generator pulling its input needs the bridge loop; other long chains
    are still driven inline (and invoked inline), nested parallel steps included."""
    from runnables import RunnablePassthrough, RunnablePick

    def letters(x: int) -> Iterator[str]:
        yield from "abc"

    passthroughs: RunnableSequence[int, str] = RunnableSequence(
        RunnableLambda(letters), *[RunnablePassthrough()] * N
    )
    assert not passthroughs._needs_loop()
    assert list(passthroughs.stream(0)) == ["a", "b", "c"]
    fan = RunnableParallel(a=RunnablePassthrough(), b=RunnablePassthrough())
    ends = [RunnablePassthrough[str]()] * (N // 2)
    chain: RunnableSequence[int, str] = RunnableSequence(
        RunnableLambda(letters), *ends, fan, RunnablePick("a"), *ends
    )
    assert not chain._needs_loop()
    short: RunnableSequence[int, str] = RunnableSequence(
        RunnableLambda(letters), fan, RunnablePick("a")
    )
    assert list(chain.stream(0)) == list(short.stream(0))
    assert chain.invoke(0) == "abc"
