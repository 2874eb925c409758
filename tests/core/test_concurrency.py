"""max_concurrency is one budget for a whole call, and abatch pipelines inputs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

from engine_testing import Overlap
from runnables import RunnableGenerator, RunnableLambda, RunnableParallel


def _counted_leaf(overlap: Overlap, name: str) -> RunnableLambda[Any, Any]:
    async def leaf(x: Any) -> Any:
        overlap.enter()
        try:
            # Yield a few times so every other ready leaf gets the chance to start too.
            for _ in range(5):
                await asyncio.sleep(0)
            return x
        finally:
            overlap.leave()

    return RunnableLambda(leaf, name=name)


async def test_abatch_over_wide_parallel_holds_max_concurrency_across_all_branches(
    overlap: Overlap,
) -> None:
    # langchain-core applies max_concurrency per level: 2 inputs at once, each fanning
    # out to all 10 branches, so up to 20 leaves overlap.
    par = RunnableParallel({f"b{i}": _counted_leaf(overlap, f"b{i}") for i in range(10)})
    out = await par.abatch([1, 2, 3, 4], {"max_concurrency": 2})
    assert out == [{f"b{i}": x for i in range(10)} for x in [1, 2, 3, 4]]
    assert overlap.entered == 40
    assert overlap.peak == 2


async def test_ainvoke_max_concurrency_bounds_parallel_branches(overlap: Overlap) -> None:
    par = RunnableParallel({f"b{i}": _counted_leaf(overlap, f"b{i}") for i in range(6)})
    await par.ainvoke(0, {"max_concurrency": 3})
    assert overlap.peak == 3


async def test_nested_abatch_inside_a_step_shares_the_budget_and_does_not_deadlock(
    overlap: Overlap,
) -> None:
    inner = RunnableParallel(a=_counted_leaf(overlap, "a"), b=_counted_leaf(overlap, "b"))

    async def outer(x: int) -> list[Any]:
        # No config passed: the nested call inherits the caller's budget through the
        # context variable, and this step lends its own slot while it waits.
        return await inner.abatch([x, x + 10])

    step = RunnableLambda(outer)
    out = await asyncio.wait_for(step.abatch([1, 2, 3], {"max_concurrency": 1}), timeout=10)
    assert out == [[{"a": x, "b": x}, {"a": x + 10, "b": x + 10}] for x in [1, 2, 3]]
    assert overlap.peak == 1


async def test_nested_abatch_shares_a_budget_of_two(overlap: Overlap) -> None:
    inner = RunnableParallel({f"k{i}": _counted_leaf(overlap, f"k{i}") for i in range(4)})

    async def outer(x: int) -> list[Any]:
        return await inner.abatch([x, x, x])

    await asyncio.wait_for(
        RunnableLambda(outer).abatch(list(range(5)), {"max_concurrency": 2}), timeout=10
    )
    # Only the leaves inside count against the budget: the outer functions lend their
    # slot while they wait, so the inner leaves never exceed 2 at once.
    assert overlap.peak == 2


def test_sync_batch_of_async_steps_honours_max_concurrency(overlap: Overlap) -> None:
    par = RunnableParallel({f"b{i}": _counted_leaf(overlap, f"b{i}") for i in range(5)})
    par.batch([1, 2, 3], {"max_concurrency": 2})
    assert overlap.peak == 2


async def test_abatch_pipelines_inputs_through_a_sequence() -> None:
    # Input A reaches step 2 while input B is still in step 1: B's step 1 waits for an
    # event that only A's step 2 sets. Running the batch step by step (each step over
    # all inputs before the next step) would never set it.
    a_in_step_2 = asyncio.Event()
    order: list[str] = []

    async def step1(x: str) -> str:
        if x == "B":
            await a_in_step_2.wait()
        order.append(f"{x}1")
        return x

    async def step2(x: str) -> str:
        if x == "A":
            a_in_step_2.set()
        order.append(f"{x}2")
        return x.lower()

    seq = RunnableLambda(step1) | RunnableLambda(step2)
    out = await asyncio.wait_for(seq.abatch(["A", "B"]), timeout=10)
    assert out == ["a", "b"]
    assert order.index("A2") < order.index("B1")


async def test_abatch_pipelines_under_max_concurrency() -> None:
    a_in_step_2 = asyncio.Event()

    async def step1(x: str) -> str:
        if x == "B":
            await a_in_step_2.wait()
        return x

    async def step2(x: str) -> str:
        if x == "A":
            a_in_step_2.set()
        return x

    seq = RunnableLambda(step1) | RunnableLambda(step2)
    out = await asyncio.wait_for(seq.abatch(["A", "B"], {"max_concurrency": 2}), timeout=10)
    assert out == ["A", "B"]


async def test_abatch_with_more_inputs_than_budget_keeps_order_and_budget(
    overlap: Overlap,
) -> None:
    seq = _counted_leaf(overlap, "one") | _counted_leaf(overlap, "two")
    out = await seq.abatch(list(range(20)), {"max_concurrency": 3})
    assert out == list(range(20))
    assert overlap.peak == 3


async def test_max_concurrency_with_config_list_per_input(overlap: Overlap) -> None:
    leaf = _counted_leaf(overlap, "leaf")
    par = RunnableParallel(a=leaf, b=leaf, c=leaf)
    await par.abatch([1, 2], [{"max_concurrency": 1}, {"max_concurrency": 1}])
    # Each input has its own budget of 1.
    assert overlap.peak <= 2


async def test_nested_abatch_as_completed_shares_the_budget(overlap: Overlap) -> None:
    inner = _counted_leaf(overlap, "inner")

    async def outer(x: int) -> list[Any]:
        return [out async for out in inner.abatch_as_completed([x, x, x, x])]

    await asyncio.wait_for(RunnableLambda(outer).abatch([1, 2], {"max_concurrency": 1}), timeout=10)
    assert overlap.peak == 1


async def test_streaming_generators_share_a_budget_of_one_without_deadlock() -> None:
    # A generator waiting at a yield (for the next step to take its chunk) or waiting
    # for its own input is not doing work, so it must not sit on the only slot.
    async def double(chunks: AsyncIterator[str]) -> AsyncIterator[str]:
        async for c in chunks:
            yield c
            yield c

    async def shout(chunks: AsyncIterator[str]) -> AsyncIterator[str]:
        async for c in chunks:
            yield c.upper()

    def exclaim(chunks: Iterator[str]) -> Iterator[str]:
        for c in chunks:
            yield c + "!"

    chain = RunnableGenerator(double) | RunnableGenerator(shout) | exclaim

    async def drain() -> list[str]:
        return [c async for c in chain.astream("ab", {"max_concurrency": 1})]

    # The sync generator streams through too (on its own thread), under the same slot rules.
    assert await asyncio.wait_for(drain(), 10) == ["AB!", "AB!"]
    # A generator that calls another runnable lends its slot for the nested call.
    inner = RunnableLambda[int, int](lambda x: x * 2)

    async def nested(x: int) -> AsyncIterator[int]:
        yield await inner.ainvoke(x)
        yield await inner.ainvoke(x + 1)

    async def drain_nested() -> list[int]:
        return [c async for c in RunnableLambda(nested).astream(1, {"max_concurrency": 1})]

    assert await asyncio.wait_for(drain_nested(), 10) == [2, 4]


async def test_streaming_generator_branches_hold_the_budget(overlap: Overlap) -> None:
    def branch(name: str) -> RunnableLambda[Any, Any]:
        async def gen(x: int) -> AsyncIterator[int]:
            for i in range(3):
                overlap.enter()
                for _ in range(3):
                    await asyncio.sleep(0)
                overlap.leave()
                yield i

        return RunnableLambda(gen, name=name)

    par = RunnableParallel({f"g{i}": branch(f"g{i}") for i in range(5)})
    chunks = [c async for c in par.astream(0, {"max_concurrency": 2})]
    assert len(chunks) == 15
    assert overlap.peak == 2
