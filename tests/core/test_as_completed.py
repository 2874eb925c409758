"""batch_as_completed and abatch_as_completed: (index, output) pairs as inputs finish."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from engine_testing import Overlap, other_tasks, settle
from runnables import ConfigError, RunnableConfig, RunnableLambda


async def test_abatch_as_completed_yields_index_and_output_in_completion_order() -> None:
    gates = [asyncio.Event() for _ in range(3)]

    async def wait_for_gate(i: int) -> str:
        await gates[i].wait()
        return f"out{i}"

    # Open the gates one at a time, 2 then 0 then 1, each only after the previous
    # input's pair has arrived: the order of completion is set by events, not time.
    order = [2, 0, 1]
    gates[order[0]].set()
    seen: list[tuple[int, Any]] = []
    async for pair in RunnableLambda(wait_for_gate).abatch_as_completed([0, 1, 2]):
        seen.append(pair)
        if len(seen) < len(order):
            gates[order[len(seen)]].set()
    assert seen == [(2, "out2"), (0, "out0"), (1, "out1")]


async def test_abatch_as_completed_with_return_exceptions_yields_the_error_in_place() -> None:
    def maybe_fail(x: int) -> int:
        if x == 1:
            raise ValueError(f"bad input {x}")
        return x * 10

    pairs = dict(
        [
            pair
            async for pair in RunnableLambda(maybe_fail).abatch_as_completed(
                [0, 1, 2], return_exceptions=True
            )
        ]
    )
    assert pairs[0] == 0 and pairs[2] == 20
    assert isinstance(pairs[1], ValueError) and str(pairs[1]) == "bad input 1"


async def test_abatch_as_completed_without_return_exceptions_raises_and_cancels_the_rest() -> None:
    cancelled = asyncio.Event()
    never = asyncio.Event()

    async def step(x: int) -> int:
        if x == 0:
            raise ValueError("bad input 0")
        try:
            await never.wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return x

    before = other_tasks()
    with pytest.raises(ValueError, match="bad input 0"):
        async for _ in RunnableLambda(step).abatch_as_completed([0, 1, 2]):
            pass
    assert cancelled.is_set()
    assert other_tasks() <= before


async def test_abatch_as_completed_gives_each_input_its_own_config() -> None:
    def which(x: int, config: RunnableConfig) -> Any:
        return (x, config["configurable"]["k"], config["tags"])

    configs: list[RunnableConfig] = [
        {"configurable": {"k": "a"}, "tags": ["t0"]},
        {"configurable": {"k": "b"}, "tags": ["t1"]},
    ]
    pairs = dict([p async for p in RunnableLambda(which).abatch_as_completed([0, 1], configs)])
    assert pairs == {0: (0, "a", ["t0"]), 1: (1, "b", ["t1"])}


async def test_abatch_as_completed_rejects_a_config_list_of_the_wrong_length() -> None:
    with pytest.raises(ConfigError, match="abatch_as_completed got 3 inputs but 2 configs"):
        async for _ in RunnableLambda(lambda x: x).abatch_as_completed([1, 2, 3], [{}, {}]):
            pass


async def test_abatch_as_completed_holds_max_concurrency() -> None:
    overlap = Overlap()

    async def work(x: int) -> int:
        overlap.enter()
        try:
            await settle()  # give every other input the chance to start meanwhile
        finally:
            overlap.leave()
        return x

    pairs = [
        p
        async for p in RunnableLambda(work).abatch_as_completed(
            list(range(8)), {"max_concurrency": 2}
        )
    ]
    assert sorted(pairs) == [(i, i) for i in range(8)]
    assert overlap.peak == 2
    assert overlap.entered == 8


async def test_leaving_abatch_as_completed_early_cancels_the_rest() -> None:
    cancelled: list[int] = []
    never = asyncio.Event()

    async def step(x: int) -> int:
        if x == 0:
            return x
        try:
            await never.wait()
        except asyncio.CancelledError:
            cancelled.append(x)
            raise
        return x

    before = other_tasks()
    stream = RunnableLambda(step).abatch_as_completed([0, 1, 2, 3])
    async for pair in stream:
        assert pair == (0, 0)
        break
    await stream.aclose()  # type: ignore[attr-defined]
    assert sorted(cancelled) == [1, 2, 3]
    assert other_tasks() <= before


def test_batch_as_completed_yields_pairs_in_completion_order_from_sync_code() -> None:
    done: dict[str, asyncio.Event] = {}

    async def step(x: int) -> int:
        # Created on the loop the batch runs on; input 0 waits until input 1 is done.
        first_done = done.setdefault("1", asyncio.Event())
        if x == 0:
            await first_done.wait()
        else:
            first_done.set()
        return x * 10

    assert list(RunnableLambda(step).batch_as_completed([0, 1])) == [(1, 10), (0, 0)]


def test_batch_as_completed_with_return_exceptions_and_a_config_list() -> None:
    def step(x: int, config: RunnableConfig) -> Any:
        if x == 1:
            raise ValueError("bad input 1")
        return config["configurable"]["k"]

    configs: list[RunnableConfig] = [{"configurable": {"k": k}} for k in "abc"]
    pairs = dict(
        RunnableLambda(step).batch_as_completed([0, 1, 2], configs, return_exceptions=True)
    )
    assert pairs[0] == "a" and pairs[2] == "c"
    assert isinstance(pairs[1], ValueError)
    with pytest.raises(ConfigError, match="3 inputs but 1 configs"):
        list(RunnableLambda(step).batch_as_completed([0, 1, 2], configs[:1]))
