"""Structured cancellation: no task or generator outlives the call that started it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from engine_testing import closable, other_tasks, settle
from runnables import RunnableGenerator, RunnableLambda, RunnableParallel

TIMEOUT = 10


class Hang:
    """Branches that start, then wait forever; records which started and which cleaned up."""

    def __init__(self) -> None:
        self.started: set[str] = set()
        self.cleaned: set[str] = set()
        self.all_started = asyncio.Event()
        self.expected = 0

    def branch(self, name: str) -> RunnableLambda[Any, Any]:
        self.expected += 1

        async def hang(x: Any) -> Any:
            self.started.add(name)
            if len(self.started) == self.expected:
                self.all_started.set()
            try:
                await asyncio.Event().wait()
            finally:
                self.cleaned.add(name)

        return RunnableLambda(hang, name=name)


async def _cancel_when_started(hang: Hang, coro: Any) -> None:
    before = other_tasks()
    task = asyncio.ensure_future(coro)
    await asyncio.wait_for(hang.all_started.wait(), TIMEOUT)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # Every branch has already run its finally by the time the awaited call returns:
    # nothing was left behind to be cleaned up later.
    assert hang.cleaned == hang.started
    assert other_tasks() <= before


async def test_cancelling_ainvoke_of_parallel_cancels_every_branch_at_once() -> None:
    hang = Hang()
    par = RunnableLambda(lambda x: x) | RunnableParallel(
        {f"b{i}": hang.branch(f"b{i}") for i in range(5)}
    )
    await _cancel_when_started(hang, par.ainvoke(1))
    assert len(hang.cleaned) == 5


async def test_cancelling_abatch_cancels_every_input_and_branch() -> None:
    hang = Hang()
    par = RunnableParallel(a=hang.branch("a"), b=hang.branch("b"))
    hang.expected = 2  # two names, shared by three inputs
    await _cancel_when_started(hang, par.abatch([1, 2, 3]))
    assert hang.cleaned == {"a", "b"}


async def test_cancelling_abatch_with_max_concurrency_leaves_no_task() -> None:
    hang = Hang()
    par = RunnableParallel(a=hang.branch("a"), b=hang.branch("b"))
    await _cancel_when_started(hang, par.abatch([1, 2, 3, 4], {"max_concurrency": 2}))


async def test_failing_branch_cancels_siblings_and_raises_the_original_exception() -> None:
    hang = Hang()
    boom = ValueError("branch c failed")

    async def fail(x: Any) -> Any:
        await hang.all_started.wait()
        raise boom

    par = RunnableParallel(a=hang.branch("a"), b=hang.branch("b"), c=RunnableLambda(fail))
    before = other_tasks()
    with pytest.raises(ValueError, match="branch c failed") as info:
        await asyncio.wait_for(par.ainvoke(1), TIMEOUT)
    assert info.value is boom
    assert hang.cleaned == {"a", "b"}
    assert other_tasks() <= before


async def test_failing_input_in_abatch_cancels_the_other_inputs() -> None:
    hang = Hang()
    hang_step = hang.branch("slow")

    async def route(x: int) -> Any:
        if x == 0:
            await hang.all_started.wait()
            raise KeyError("input 0")
        return await hang_step.ainvoke(x)

    before = other_tasks()
    with pytest.raises(KeyError, match="input 0"):
        await asyncio.wait_for(RunnableLambda(route).abatch([0, 1]), TIMEOUT)
    assert hang.cleaned == {"slow"}
    assert other_tasks() <= before


class GenLog:
    def __init__(self) -> None:
        self.closed: list[str] = []


async def test_breaking_out_of_astream_closes_every_generator_and_branch() -> None:
    log = GenLog()

    async def agen(inputs: AsyncIterator[Any]) -> AsyncIterator[int]:
        try:
            async for _ in inputs:
                pass
            for i in range(1000):
                yield i
                await asyncio.sleep(0)
        finally:
            log.closed.append("async")

    def sgen(inputs: Iterator[Any]) -> Iterator[int]:
        try:
            for _ in inputs:
                pass
            yield from range(1000)
        finally:
            log.closed.append("sync")

    async def hang_branch(inputs: AsyncIterator[Any]) -> AsyncIterator[int]:
        try:
            yield 0
            await asyncio.Event().wait()
            yield 1
        finally:
            log.closed.append("hang")

    async def lambda_gen(x: Any) -> AsyncIterator[int]:
        try:
            for i in range(1000):
                yield i
                await asyncio.sleep(0)
        finally:
            log.closed.append("lambda")

    chain = RunnableLambda(lambda x: x) | RunnableParallel(
        a=RunnableGenerator(agen),
        s=RunnableGenerator(sgen),
        h=RunnableGenerator(hang_branch),
        l=RunnableLambda(lambda_gen),
    )
    before = other_tasks()
    stream = closable(chain.astream(None))
    count = 0
    async for _ in stream:
        count += 1
        if count == 10:
            break
    await stream.aclose()  # explicit aclose: everything inside is closed when it returns
    assert sorted(log.closed) == ["async", "hang", "lambda", "sync"]
    assert other_tasks() <= before


async def test_abandoning_astream_without_aclose_closes_generators_soon() -> None:
    log = GenLog()

    async def agen(x: Any) -> AsyncIterator[int]:
        try:
            for i in range(1000):
                yield i
                await asyncio.sleep(0)
        finally:
            log.closed.append("async")

    def sgen(x: Any) -> Iterator[int]:
        try:
            yield from range(1000)
        finally:
            log.closed.append("sync")

    chain = RunnableLambda(lambda x: x) | {"a": agen, "s": sgen}

    async def take_three() -> None:
        async for i, _ in _enumerate(chain.astream(None)):
            if i == 2:
                break

    await take_three()
    # The abandoned async generator is finalized by the loop's asyncgen hook; the sync
    # generator (fed from an async step) is closed on its own thread, so wait for that.
    await settle(5)
    for _ in range(1000):
        if len(log.closed) == 2:
            break
        await asyncio.sleep(0.005)
    assert sorted(log.closed) == ["async", "sync"]


async def _enumerate(it: AsyncIterator[Any]) -> AsyncIterator[tuple[int, Any]]:
    i = 0
    async for x in it:
        yield i, x
        i += 1


def test_breaking_out_of_sync_stream_closes_generators() -> None:
    closed: list[str] = []

    def sgen(x: Any) -> Iterator[int]:
        try:
            yield from range(1000)
        finally:
            closed.append("sync")

    stream = (RunnableLambda(lambda x: x) | sgen).stream(None)
    for i in stream:
        if i == 3:
            break
    stream.close()  # type: ignore[attr-defined]
    assert closed == ["sync"]


def test_breaking_out_of_sync_stream_of_async_generator_closes_it() -> None:
    closed = asyncio.Event()  # set from the bridge loop; read here after a join
    import threading

    done = threading.Event()

    async def agen(x: Any) -> AsyncIterator[int]:
        try:
            for i in range(10_000):
                yield i
                await asyncio.sleep(0)
        finally:
            closed.set()
            done.set()

    stream = RunnableLambda(agen).stream(None)
    for i in stream:
        if i == 3:
            break
    stream.close()  # type: ignore[attr-defined]
    assert done.wait(TIMEOUT)
