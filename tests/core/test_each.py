"""RunnableEach (``.map()``): a step applied to every item, sharing the call's budget."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from engine_testing import Overlap, other_tasks, settle
from runnables import RunnableLambda, RunnableParallel
from runnables.core.each import RunnableEach
from runnables.errors import InvalidInputError


def _leaf(overlap: Overlap, name: str = "leaf") -> RunnableLambda[Any, Any]:
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


def test_map_applies_the_step_to_each_item_in_order() -> None:
    doubled = RunnableLambda[int, int](lambda x: x * 2).map()
    assert isinstance(doubled, RunnableEach)
    assert doubled.invoke([1, 2, 3]) == [2, 4, 6]


async def test_ainvoke_returns_outputs_in_item_order_whatever_finishes_first() -> None:
    async def late_for_small(x: int) -> int:
        for _ in range(10 - x):
            await asyncio.sleep(0)
        return x

    assert await RunnableLambda(late_for_small).map().ainvoke([1, 5, 9]) == [1, 5, 9]


async def test_items_run_concurrently() -> None:
    started: list[int] = []
    all_started = asyncio.Event()

    async def wait_for_everyone(x: int) -> int:
        started.append(x)
        if len(started) == 3:
            all_started.set()
        # Would never finish if items ran one after another.
        await all_started.wait()
        return x

    out = await asyncio.wait_for(
        RunnableLambda(wait_for_everyone).map().ainvoke([1, 2, 3]), timeout=5
    )
    assert out == [1, 2, 3]


async def test_max_concurrency_bounds_the_items(overlap: Overlap) -> None:
    out = await _leaf(overlap).map().ainvoke(list(range(10)), {"max_concurrency": 3})
    assert out == list(range(10))
    assert overlap.entered == 10
    assert overlap.peak == 3


async def test_nested_map_inside_abatch_holds_one_budget_of_two(overlap: Overlap) -> None:
    # abatch runs 4 inputs; each maps over 5 items, each of which maps over 3 more. The
    # limit applies to the leaf functions across all of it: never more than 2 in flight.
    inner = _leaf(overlap).map()
    outer = inner.map()
    inputs = [[[i, i + 1, i + 2]] * 5 for i in range(4)]
    out = await asyncio.wait_for(outer.abatch(inputs, {"max_concurrency": 2}), timeout=10)
    assert out == inputs
    assert overlap.entered == 4 * 5 * 3
    assert overlap.peak == 2


async def test_map_of_a_parallel_shares_the_budget(overlap: Overlap) -> None:
    par = RunnableParallel(a=_leaf(overlap, "a"), b=_leaf(overlap, "b"), c=_leaf(overlap, "c"))
    out = await par.map().ainvoke([1, 2, 3, 4], {"max_concurrency": 2})
    assert out == [{"a": x, "b": x, "c": x} for x in [1, 2, 3, 4]]
    assert overlap.peak == 2


def test_sync_batch_of_a_map_holds_max_concurrency(overlap: Overlap) -> None:
    out = _leaf(overlap).map().batch([[1, 2, 3], [4, 5, 6]], {"max_concurrency": 2})
    assert out == [[1, 2, 3], [4, 5, 6]]
    assert overlap.peak == 2


async def test_a_failed_item_cancels_the_others_and_raises_its_error() -> None:
    cancelled: list[int] = []
    never = asyncio.Event()

    async def item(x: int) -> int:
        if x == 2:
            await asyncio.sleep(0)
            raise ValueError(f"bad item {x}")
        try:
            await never.wait()
        except asyncio.CancelledError:
            cancelled.append(x)
            raise
        return x

    with pytest.raises(ValueError, match="bad item 2"):
        await asyncio.wait_for(RunnableLambda(item).map().ainvoke([1, 2, 3]), timeout=5)
    await settle()
    assert sorted(cancelled) == [1, 3]
    assert not other_tasks()


async def test_a_failed_item_under_a_budget_stops_the_workers() -> None:
    calls: list[int] = []

    async def item(x: int) -> int:
        calls.append(x)
        await asyncio.sleep(0)
        if x == 1:
            raise KeyError(x)
        return x

    with pytest.raises(KeyError):
        await RunnableLambda(item).map().ainvoke(list(range(20)), {"max_concurrency": 2})
    await settle()
    assert len(calls) < 20
    assert not other_tasks()


def test_sync_invoke_runs_items_in_turn_without_a_loop() -> None:
    order: list[str] = []

    def step(x: int) -> int:
        try:
            asyncio.get_running_loop()
            order.append("loop!")
        except RuntimeError:
            pass
        order.append(f"start {x}")
        order.append(f"end {x}")
        return x

    mapped = RunnableLambda(step).map()
    assert mapped._needs_loop() is False
    assert mapped.invoke([1, 2]) == [1, 2]
    assert order == ["start 1", "end 1", "start 2", "end 2"]


def test_an_async_bound_needs_a_loop() -> None:
    async def afn(x: Any) -> Any:
        return x

    assert RunnableLambda(afn).map()._needs_loop() is True


async def test_an_empty_list_gives_an_empty_list() -> None:
    assert await RunnableLambda(lambda x: x).map().ainvoke([]) == []
    assert RunnableLambda(lambda x: x).map().invoke([]) == []


async def test_a_tuple_or_generator_input_is_accepted() -> None:
    mapped = RunnableLambda[int, int](lambda x: x + 1).map()
    # Typed as list (langchain-core's RunnableEach input); other iterables work too.
    assert await mapped.ainvoke((1, 2)) == [2, 3]  # type: ignore[arg-type]
    assert await mapped.ainvoke(x for x in [5]) == [6]  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["abc", {"a": 1}, 5, None])
def test_a_non_list_input_is_explained(bad: Any) -> None:
    with pytest.raises(InvalidInputError, match="each item of a list"):
        RunnableLambda(lambda x: x).map().invoke(bad)


async def test_astream_yields_the_whole_list_once() -> None:
    negate = RunnableLambda[int, int](lambda x: -x)
    chunks = [c async for c in negate.map().astream([1, 2])]
    assert chunks == [[-1, -2]]
    assert list(negate.map().stream([3])) == [[-3]]


def test_an_item_error_keeps_its_type_and_note() -> None:
    def fail(x: int) -> int:
        raise ZeroDivisionError(x)

    with pytest.raises(ZeroDivisionError) as info:
        RunnableLambda(fail).map().invoke([1])
    assert any("fail" in note for note in info.value.__notes__)


def test_call_arguments_are_passed_to_the_bound_step() -> None:
    def add(x: int, n: int = 0) -> int:
        return x + n

    assert RunnableLambda(add).map().bind(n=10).invoke([1, 2]) == [11, 12]


async def test_each_item_is_its_own_run_in_events() -> None:
    names = [
        e["name"]
        async for e in RunnableLambda(lambda x: x, name="item").map().astream_events([1, 2, 3])
        if e["event"] == "on_chain_start"
    ]
    assert names.count("item") == 3
    assert names[0] == "RunnableEach<item>"


def test_map_in_a_chain() -> None:
    chain = RunnableLambda(str.split) | RunnableLambda(len).map() | RunnableLambda(sum)
    assert chain.invoke("a bb ccc") == 6
