"""abatch_stream: a batch over an iterable of any length in memory bounded by the budget."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from engine_testing import Overlap, other_tasks, settle
from runnables import ConfigError, RunnableLambda
from runnables.core.config import CURRENT
from runnables.core.limiter import HOLDING


async def test_abatch_stream_yields_every_index_once_with_its_output() -> None:
    async def double(x: int) -> int:
        await asyncio.sleep(0)
        return x * 2

    pairs = [p async for p in RunnableLambda(double).abatch_stream(range(1000))]
    assert sorted(pairs) == [(i, i * 2) for i in range(1000)]


async def test_abatch_stream_yields_in_completion_order() -> None:
    gates = [asyncio.Event() for _ in range(3)]

    async def wait_for_gate(i: int) -> int:
        await gates[i].wait()
        return i

    order = [2, 0, 1]
    gates[order[0]].set()
    seen = []
    async for index, _ in RunnableLambda(wait_for_gate).abatch_stream([0, 1, 2]):
        seen.append(index)
        if len(seen) < 3:
            gates[order[len(seen)]].set()
    assert seen == order


async def test_abatch_stream_holds_max_concurrency_and_fills_it() -> None:
    overlap = Overlap()
    release = asyncio.Event()

    async def step(x: int) -> int:
        overlap.enter()
        if overlap.now == 4:
            release.set()  # the budget is full: let everyone finish
        await release.wait()
        overlap.leave()
        return x

    chain = RunnableLambda(step)
    out = [p async for p in chain.abatch_stream(range(50), {"max_concurrency": 4})]
    assert len(out) == 50
    assert overlap.peak == 4


async def test_abatch_stream_reads_input_lazily_from_a_generator() -> None:
    pulled = 0
    started = asyncio.Event()
    gate = asyncio.Event()

    def source() -> Iterator[int]:
        nonlocal pulled
        for i in range(10_000):
            pulled += 1
            yield i

    async def step(x: int) -> int:
        started.set()
        await gate.wait()
        return x

    stream = RunnableLambda(step).abatch_stream(source(), {"max_concurrency": 8})
    first = asyncio.ensure_future(anext(stream))
    await started.wait()
    await settle()
    # Eight slots: eight inputs read, not ten thousand.
    assert pulled == 8
    gate.set()
    await first
    await stream.aclose()  # type: ignore[attr-defined]


async def test_abatch_stream_stops_reading_while_the_consumer_is_slow() -> None:
    pulled = 0

    async def source() -> AsyncIterator[int]:
        nonlocal pulled
        for i in range(100_000):
            pulled += 1
            yield i

    async def step(x: int) -> int:
        await asyncio.sleep(0)
        return x

    stream = RunnableLambda(step).abatch_stream(source(), {"max_concurrency": 5})
    await anext(stream)
    # The consumer now does not ask for more: the workers finish what they hold and
    # stop. Nothing more is read however long we wait.
    await settle(50)
    stalled_at = pulled
    await settle(50)
    assert pulled == stalled_at
    # The one consumed plus a full window waiting for the consumer, no more.
    assert stalled_at <= 1 + 5
    rest = [p async for p in stream]
    assert len(rest) == 100_000 - 1


async def test_abatch_stream_yields_a_failed_input_as_its_exception_and_goes_on() -> None:
    def maybe_fail(x: int) -> int:
        if x % 10 == 3:
            raise ValueError(f"bad input {x}")
        return x

    pairs = dict([p async for p in RunnableLambda(maybe_fail).abatch_stream(range(30))])
    assert len(pairs) == 30
    errors = {i for i, v in pairs.items() if isinstance(v, ValueError)}
    assert errors == {3, 13, 23}
    assert str(pairs[13]) == "bad input 13"


async def test_abatch_stream_raises_the_error_of_the_input_iterable() -> None:
    def source() -> Iterator[int]:
        yield 1
        raise OSError("disk gone")

    with pytest.raises(OSError, match="disk gone"):
        async for _ in RunnableLambda(lambda x: x).abatch_stream(source()):
            pass
    await settle()
    assert not other_tasks()


async def test_closing_abatch_stream_cancels_running_inputs_and_leaves_no_task() -> None:
    cancelled = 0
    never = asyncio.Event()

    async def step(x: int) -> int:
        nonlocal cancelled
        if x == 0:
            return x
        try:
            await never.wait()
        except asyncio.CancelledError:
            cancelled += 1
            raise
        return x

    stream = RunnableLambda(step).abatch_stream(range(100), {"max_concurrency": 3})
    assert await anext(stream) == (0, 0)
    await settle()  # input 0's place went to input 3: three inputs wait now
    await stream.aclose()  # type: ignore[attr-defined]
    assert cancelled == 3
    assert not other_tasks()


async def test_abatch_stream_shares_the_budget_with_nested_parallel_steps() -> None:
    overlap = Overlap()

    async def leaf(x: Any) -> Any:
        overlap.enter()
        await asyncio.sleep(0)
        overlap.leave()
        return x

    chain = RunnableLambda(leaf) | {"a": RunnableLambda(leaf), "b": RunnableLambda(leaf)}
    out = [p async for p in chain.abatch_stream(range(40), {"max_concurrency": 3})]
    assert len(out) == 40
    assert overlap.peak <= 3


async def test_abatch_stream_of_an_async_function_holds_its_slot_so_a_nested_call_lends_it() -> (
    None
):
    # Budget 1, and the function makes a nested call: the workers run it on its plain
    # path (plain_leaf), which must mark the slot held as run_leaf does, or the nested
    # step would wait for ever for the one slot its caller holds.
    inner: RunnableLambda[int, int] = RunnableLambda(lambda x: x + 1)

    async def outer(x: int) -> int:
        assert HOLDING.get() is not None and CURRENT.get() is not None
        if x < 0:
            raise ValueError("negative")
        return await inner.ainvoke(x) * 10

    pairs = [
        p async for p in RunnableLambda(outer).abatch_stream([1, -1, 2], {"max_concurrency": 1})
    ]
    assert [(i, o) for i, o in pairs if i != 1] == [(0, 20), (2, 30)]
    failed = dict(pairs)[1]
    assert isinstance(failed, ValueError)
    assert failed.__notes__ == ["(raised in runnables step 'outer')"]


async def test_abatch_stream_reads_a_generator_without_the_marks_of_a_running_leaf() -> None:
    # The workers keep a running leaf's marks (HOLDING, CURRENT) set between inputs
    # (mark_worker); the input generator's code runs in a worker too, and must see
    # neither, or a call it makes would lend a slot it does not hold.
    seen: list[tuple[object, object]] = []

    def inputs() -> Iterator[int]:
        for i in range(40):
            seen.append((HOLDING.get(), CURRENT.get()))
            yield i

    async def step(x: int) -> int:
        assert HOLDING.get() is not None and CURRENT.get() is not None
        await asyncio.sleep(0)
        return x

    pairs = RunnableLambda(step).abatch_stream(inputs(), {"max_concurrency": 4})
    assert sorted([p async for p in pairs]) == [(i, i) for i in range(40)]
    assert seen == [(None, None)] * 40


async def test_abatch_stream_runs_the_runnable_an_async_function_returns() -> None:
    tens: RunnableLambda[int, int] = RunnableLambda(lambda x: x * 10)

    async def pick(x: int) -> Any:
        return tens

    pairs = RunnableLambda(pick).abatch_stream(range(3), {"max_concurrency": 2})
    assert sorted([p async for p in pairs]) == [(0, 0), (1, 10), (2, 20)]


async def test_abatch_stream_rejects_a_non_iterable_naming_it() -> None:
    with pytest.raises(ConfigError, match="got int 5"):
        async for _ in RunnableLambda(lambda x: x).abatch_stream(5):  # type: ignore[arg-type]
            pass
