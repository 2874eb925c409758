"""The structured-concurrency toolkit (core/tasks.py): task group, gather, aclose, merge."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from engine_testing import closable, other_tasks, settle
from runnables import RunnableGenerator, RunnableParallel, RunnablePassthrough
from runnables.core.tasks import (
    AHEAD,
    TaskGroup,
    aclose,
    aclosing,
    cancel_and_wait,
    gather_all,
    merge,
)

TIMEOUT = 10


async def spin(rounds: int = 50) -> None:
    """Give every runnable task many turns: whatever is not blocked runs as far as it can."""
    for _ in range(rounds):
        await asyncio.sleep(0)


class Counted:
    """A fast stream of ``n`` items that counts how many it has produced."""

    def __init__(self, n: int = 100) -> None:
        self.n = n
        self.produced = 0
        self.closed = False

    async def stream(self, inputs: AsyncIterator[Any]) -> AsyncIterator[int]:
        async for _ in inputs:
            pass
        try:
            for i in range(self.n):
                self.produced += 1
                yield i
        finally:
            self.closed = True


async def test_parallel_fast_branch_runs_only_a_bounded_number_of_chunks_ahead() -> None:
    fast = Counted()
    gate = asyncio.Event()

    async def slow(inputs: AsyncIterator[Any]) -> AsyncIterator[str]:
        async for _ in inputs:
            pass
        await gate.wait()
        yield "done"

    par = RunnableParallel(a=RunnableGenerator(fast.stream), b=RunnableGenerator(slow))
    stream = par.astream(None)
    first = await asyncio.wait_for(anext(stream), TIMEOUT)
    assert first == {"a": 0}
    await spin()  # the consumer took one chunk and is busy elsewhere
    # One taken, at most AHEAD waiting for the consumer, none more (without backpressure
    # the branch ran to its end: 100 produced while one was taken).
    assert fast.produced <= 1 + AHEAD
    gate.set()
    rest = [chunk async for chunk in stream]
    assert sum(1 for c in rest if "a" in c) == fast.n - 1
    assert {"b": "done"} in rest


async def test_assign_fast_mapper_waits_for_its_consumer() -> None:
    fast = Counted()
    chain = RunnablePassthrough.assign(n=RunnableGenerator(fast.stream))
    stream = closable(chain.astream({"x": 1}))
    await asyncio.wait_for(anext(stream), TIMEOUT)
    await spin()
    assert fast.produced <= 2 + AHEAD
    await stream.aclose()
    await settle()
    assert fast.closed


async def test_merge_pauses_each_source_independently() -> None:
    a, b = Counted(10), Counted(10)
    merged = merge([a.stream(_one()), b.stream(_one())], ahead=1)
    await anext(merged)
    await spin()
    assert a.produced <= 2 and b.produced <= 2
    items = [item async for item in merged]
    assert len(items) == 19
    assert a.closed and b.closed


async def _one() -> AsyncIterator[None]:
    yield None


async def test_merge_consumer_leaving_early_cancels_and_closes_every_source() -> None:
    a, b = Counted(), Counted()
    merged = merge([a.stream(_one()), b.stream(_one())])
    await anext(merged)
    await merged.aclose()
    assert a.closed and b.closed
    assert not other_tasks()


async def test_merge_raises_a_sources_error_unchanged_and_stops_the_others() -> None:
    other = Counted(10_000)
    boom = ValueError("boom")

    async def failing() -> AsyncIterator[int]:
        yield 1
        raise boom

    with pytest.raises(ValueError) as info:
        async for _ in merge([failing(), other.stream(_one())]):
            pass
    assert info.value is boom
    assert other.closed
    assert not other_tasks()


async def test_task_group_reraises_the_first_error_unchanged_and_cancels_siblings() -> None:
    cancelled = asyncio.Event()
    boom = KeyError("first")

    async def hang() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async def fail() -> None:
        await asyncio.sleep(0)
        raise boom

    with pytest.raises(KeyError) as info:
        async with TaskGroup() as group:
            group.start(hang())
            group.start(fail())
    assert info.value is boom  # the original, not an ExceptionGroup
    assert cancelled.is_set()
    assert not other_tasks()


async def test_task_group_left_by_an_exception_cancels_and_awaits_its_tasks() -> None:
    ended = asyncio.Event()

    async def hang() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            ended.set()

    with pytest.raises(RuntimeError, match="body"):
        async with TaskGroup() as group:
            group.start(hang())
            await asyncio.sleep(0)
            raise RuntimeError("body")
    assert ended.is_set()
    assert all(t.done() for t in group.tasks)


async def test_task_group_waits_for_its_tasks_when_left_normally() -> None:
    results: list[int] = []

    async def work(i: int) -> None:
        await asyncio.sleep(0)
        results.append(i)

    async with TaskGroup() as group:
        for i in range(3):
            group.start(work(i))
    assert sorted(results) == [0, 1, 2]


async def test_task_group_cancelled_while_waiting_leaves_no_task_behind() -> None:
    started = asyncio.Event()

    async def hang() -> None:
        started.set()
        await asyncio.Event().wait()

    async def host() -> None:
        async with TaskGroup() as group:
            group.start(hang())

    task = asyncio.ensure_future(host())
    await asyncio.wait_for(started.wait(), TIMEOUT)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await settle()
    assert not other_tasks()


async def test_gather_all_returns_results_in_order_and_reraises_the_original() -> None:
    async def value(i: int) -> int:
        await asyncio.sleep(0)
        return i

    assert await gather_all([value(i) for i in range(3)]) == [0, 1, 2]
    boom = TypeError("original")
    hung = asyncio.Event()

    async def hang() -> int:
        try:
            await asyncio.Event().wait()
        finally:
            hung.set()
        return 0

    async def fail() -> int:
        raise boom

    with pytest.raises(TypeError) as info:
        await gather_all([hang(), fail()])
    assert info.value is boom
    assert hung.is_set()


async def test_cancel_and_wait_ends_every_task() -> None:
    tasks = [asyncio.ensure_future(asyncio.Event().wait()) for _ in range(3)]
    await cancel_and_wait(tasks)
    assert all(t.cancelled() for t in tasks)


async def test_aclose_closes_generators_and_ignores_plain_iterators() -> None:
    closed = False

    async def gen() -> AsyncIterator[int]:
        nonlocal closed
        try:
            yield 1
            yield 2
        finally:
            closed = True

    it = gen()
    await anext(it)
    await aclose(it)
    assert closed
    await aclose(iter([1, 2]))  # nothing to close: no error


async def test_aclosing_closes_the_stream_when_the_block_is_left_early() -> None:
    closed: list[str] = []

    async def numbers() -> AsyncIterator[int]:
        try:
            for i in range(10):
                yield i
        finally:
            closed.append("closed")

    async with aclosing(numbers()) as stream:
        async for i in stream:
            if i == 1:
                break
        assert closed == []  # still open inside the block
    assert closed == ["closed"]

    with pytest.raises(ValueError, match="boom"):
        async with aclosing(numbers()) as stream:
            await stream.__anext__()
            raise ValueError("boom")
    assert closed == ["closed", "closed"]

    # A stream without aclose is accepted and left alone.
    async with aclosing(iter([1])) as plain:
        assert next(plain) == 1
