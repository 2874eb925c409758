"""Deadlines: one time budget per call, shared by nested steps and retries."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from engine_testing import other_tasks
from runnables import RunnableConfig, RunnableLambda, RunnableParallel, StepTimeoutError

GUARD = 10  # seconds: a missing deadline fails the test instead of hanging it


async def _hang(x: Any) -> Any:
    await asyncio.Event().wait()


def _chain_with_hanging_second_step() -> Any:
    return RunnableLambda(lambda x: x, name="first") | RunnableLambda(_hang, name="stuck")


async def test_with_timeout_raises_step_timeout_error_naming_the_hanging_step() -> None:
    chain = _chain_with_hanging_second_step().with_timeout(0.05)
    with pytest.raises(StepTimeoutError) as info:
        await asyncio.wait_for(chain.ainvoke(1), GUARD)
    assert isinstance(info.value, TimeoutError)
    assert info.value.step == "stuck"
    assert "'stuck'" in str(info.value)
    assert info.value.timeout == pytest.approx(0.05)


async def test_config_timeout_raises_step_timeout_error_naming_the_hanging_step() -> None:
    config: RunnableConfig = {"timeout": 0.05}
    with pytest.raises(TimeoutError) as info:
        await asyncio.wait_for(_chain_with_hanging_second_step().ainvoke(1, config), GUARD)
    assert isinstance(info.value, StepTimeoutError)
    assert info.value.step == "stuck"


async def test_timeout_applies_to_each_input_of_abatch_and_to_astream() -> None:
    chain = _chain_with_hanging_second_step()
    with pytest.raises(StepTimeoutError, match="'stuck'"):
        await asyncio.wait_for(chain.abatch([1, 2], {"timeout": 0.05}), GUARD)
    results = await asyncio.wait_for(
        chain.abatch([1, 2], {"timeout": 0.05}, return_exceptions=True), GUARD
    )
    assert [type(r) for r in results] == [StepTimeoutError, StepTimeoutError]

    async def drain() -> list[Any]:
        return [c async for c in chain.astream(1, {"timeout": 0.05})]

    with pytest.raises(StepTimeoutError, match="'stuck'"):
        await asyncio.wait_for(drain(), GUARD)


async def test_nested_ainvoke_inside_a_step_inherits_the_deadline() -> None:
    inner = RunnableLambda(_hang, name="inner_stuck")

    async def outer(x: Any) -> Any:
        # No config: the nested call finds the caller's deadline through the context.
        return await inner.ainvoke(x)

    chain = RunnableLambda(outer, name="outer").with_timeout(0.05)
    with pytest.raises(StepTimeoutError) as info:
        await asyncio.wait_for(chain.ainvoke(1), GUARD)
    assert info.value.step == "inner_stuck"


async def test_nested_with_timeout_cannot_extend_the_outer_deadline() -> None:
    inner = RunnableLambda(_hang, name="inner").with_timeout(60)
    chain = (RunnableLambda(lambda x: x) | inner).with_timeout(0.05)
    start = time.monotonic()
    with pytest.raises(StepTimeoutError):
        await asyncio.wait_for(chain.ainvoke(1), GUARD)
    assert time.monotonic() - start < GUARD / 2


async def test_function_with_config_sees_the_time_left() -> None:
    seen: list[float] = []

    def look(x: Any, config: RunnableConfig) -> Any:
        seen.append(config["timeout"] or 0.0)
        return x

    await RunnableLambda(look).ainvoke(1, {"timeout": 30})
    assert 0 < seen[0] <= 30


async def test_retries_share_the_deadline() -> None:
    attempts: list[float] = []

    async def flaky(x: Any) -> Any:
        attempts.append(time.monotonic())
        await asyncio.sleep(0.03)
        raise ConnectionError("upstream refused the connection")

    step = RunnableLambda(flaky, name="flaky").with_retry(
        stop_after_attempt=1000, wait_exponential_jitter=False
    )
    start = time.monotonic()
    with pytest.raises((StepTimeoutError, ConnectionError)):
        await asyncio.wait_for(step.ainvoke(1, {"timeout": 0.2}), GUARD)
    # 1000 attempts of 30 ms would take 30 s: the deadline stopped the retries.
    assert time.monotonic() - start < GUARD / 2
    assert len(attempts) < 1000


async def test_timeout_cancels_parallel_branches_and_leaves_no_task() -> None:
    cleaned: list[str] = []

    def branch(name: str) -> RunnableLambda[Any, Any]:
        async def hang(x: Any) -> Any:
            try:
                await asyncio.Event().wait()
            finally:
                cleaned.append(name)

        return RunnableLambda(hang, name=name)

    par = RunnableParallel(a=branch("a"), b=branch("b")).with_timeout(0.05)
    before = other_tasks()
    with pytest.raises(StepTimeoutError) as info:
        await asyncio.wait_for(par.ainvoke(1), GUARD)
    assert set(info.value.running) == {"a", "b"}
    assert sorted(cleaned) == ["a", "b"]
    assert other_tasks() <= before


async def test_timeout_in_a_streaming_generator_names_it() -> None:
    async def slow_tokens(x: Any) -> AsyncIterator[str]:
        yield "a"
        await asyncio.Event().wait()
        yield "b"

    step = RunnableLambda(slow_tokens, name="tokens")
    got: list[str] = []

    async def drain() -> None:
        async for c in step.astream(1, {"timeout": 0.05}):
            got.append(c)

    with pytest.raises(StepTimeoutError) as info:
        await asyncio.wait_for(drain(), GUARD)
    assert got == ["a"]
    assert info.value.step == "tokens"


async def test_external_cancellation_is_not_turned_into_a_timeout() -> None:
    chain = _chain_with_hanging_second_step().with_timeout(30)
    task = asyncio.ensure_future(chain.ainvoke(1))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_call_that_finishes_in_time_is_not_affected() -> None:
    assert (
        await (RunnableLambda[int, int](lambda x: x + 1) | _double).with_timeout(5).ainvoke(1) == 4
    )


async def _double(x: int) -> int:
    return x * 2


def test_sync_invoke_of_a_sync_step_that_overruns_names_it() -> None:
    def slow(x: Any) -> Any:
        time.sleep(0.05)
        return x

    chain = RunnableLambda(lambda x: x, name="quick") | RunnableLambda(slow, name="slow")
    with pytest.raises(StepTimeoutError) as info:
        chain.invoke(1, {"timeout": 0.01})
    assert info.value.step == "slow"


def test_sync_invoke_of_an_async_step_that_hangs_times_out() -> None:
    with pytest.raises(StepTimeoutError) as info:
        _chain_with_hanging_second_step().with_timeout(0.05).invoke(1)
    assert info.value.step == "stuck"
