"""Where a sync function runs when called from async code (the offload policy)."""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from runnables import (
    BlockingStepWarning,
    ConfigError,
    RunnableLambda,
    get_offload_policy,
    set_offload_policy,
)


def _where() -> RunnableLambda[Any, threading.Thread]:
    return RunnableLambda(lambda _: threading.current_thread(), name="where")


async def test_cheap_sync_function_runs_inline_on_the_loop_thread() -> None:
    # langchain-core sends every sync function to a thread pool from ainvoke.
    me = threading.current_thread()
    step = _where()
    assert await step.ainvoke(None) is me
    assert await (step | _where()).ainvoke(None) is me
    assert await step.abatch([1, 2, 3]) == [me, me, me]
    assert [t async for t in step.astream(None)] == [me]


@pytest.mark.usefixtures("offload_policy")
async def test_sync_function_that_blocks_is_named_in_a_warning_then_moved_to_a_thread() -> None:
    set_offload_policy(threshold=0.01)
    me = threading.current_thread()
    calls: list[threading.Thread] = []

    def slow_lookup(x: int) -> int:
        calls.append(threading.current_thread())
        if len(calls) == 1:
            time.sleep(0.05)
        return x

    step = RunnableLambda(slow_lookup)
    with pytest.warns(BlockingStepWarning, match="'slow_lookup'"):
        assert await step.ainvoke(1) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # warned once, not on every call
        assert await step.ainvoke(2) == 2
        assert await (RunnableLambda(lambda x: x) | step).ainvoke(3) == 3
    assert calls[0] is me
    assert all(t is not me for t in calls[1:])


@pytest.mark.usefixtures("offload_policy")
async def test_blocking_sync_generator_is_moved_to_a_thread() -> None:
    set_offload_policy(threshold=0.01)
    me = threading.current_thread()
    threads: list[threading.Thread] = []

    def slow_chunks(x: int) -> Iterator[int]:
        for i in range(3):
            threads.append(threading.current_thread())
            if i == 0:
                time.sleep(0.05)
            yield i

    step = RunnableLambda(slow_chunks)
    with pytest.warns(BlockingStepWarning, match="'slow_chunks'"):
        assert [c async for c in step.astream(0)] == [0, 1, 2]
    assert threads[0] is me
    assert all(t is not me for t in threads[1:])


@pytest.mark.usefixtures("offload_policy")
async def test_warning_can_be_switched_off() -> None:
    set_offload_policy(threshold=0.01, warn=False)

    def slow(x: int) -> int:
        time.sleep(0.03)
        return x

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert await RunnableLambda(slow).ainvoke(1) == 1


async def test_offload_always_runs_on_a_worker_thread() -> None:
    me = threading.current_thread()
    step = RunnableLambda[object, threading.Thread](
        lambda _: threading.current_thread(), offload="always"
    )
    assert await step.ainvoke(None) is not me
    assert all(t is not me for t in await step.abatch([1, 2]))


@pytest.mark.usefixtures("offload_policy")
async def test_offload_never_keeps_a_slow_function_inline_without_warning() -> None:
    set_offload_policy(threshold=0.01)
    me = threading.current_thread()

    def slow(_: Any) -> threading.Thread:
        time.sleep(0.03)
        return threading.current_thread()

    step = RunnableLambda(slow, offload="never")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert await step.ainvoke(None) is me
        assert await step.ainvoke(None) is me


def test_sync_invoke_runs_a_slow_function_inline_in_the_callers_thread() -> None:
    me = threading.current_thread()
    assert RunnableLambda[int, threading.Thread](
        lambda _: threading.current_thread(), offload="always"
    ).invoke(1)
    assert _where().invoke(None) is me


def test_offload_rejects_unknown_modes_and_thresholds() -> None:
    with pytest.raises(ConfigError, match="'sometimes'"):
        RunnableLambda(lambda x: x, offload="sometimes")  # type: ignore[call-overload]
    with pytest.raises(ConfigError, match="-1"):
        set_offload_policy(threshold=-1)
    assert get_offload_policy().threshold > 0


@pytest.mark.usefixtures("offload_policy")
def test_sync_batch_of_a_slow_function_overlaps_after_the_first_input() -> None:
    # langchain-core's batch runs sync functions on a thread pool; ours must not fall
    # back to one input at a time when the function turns out to block.
    set_offload_policy(threshold=0.01)
    running = 0
    peak = 0
    lock = threading.Lock()

    def slow(x: int) -> int:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.05)
        with lock:
            running -= 1
        return x

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # found slow in a sync drive: marked, no warning
        assert (RunnableLambda(slow) | (lambda x: x + 1)).batch(list(range(6))) == [
            1,
            2,
            3,
            4,
            5,
            6,
        ]
    assert peak >= 2


def test_step_marked_blocking_by_a_stall_is_rechecked_and_unmarked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from runnables.core import offload

    monkeypatch.setattr(offload, "RECHECK_AFTER", 0.0)
    stalls = [0.05]  # the first call stalls (as under CPU throttling), later ones do not
    threads: list[int] = []

    def trivial(x: int) -> int:
        if stalls:
            time.sleep(stalls.pop())
        threads.append(threading.get_ident())
        return x + 1

    step = RunnableLambda(trivial)
    chain = step | RunnableLambda(lambda x: x * 2)
    assert chain.invoke(1) == 4
    assert step._needs_loop()  # marked blocking by the stall
    assert chain.invoke(1) == 4  # on the bridge loop: re-checked inline, found cheap
    assert not step._needs_loop()
    assert not chain._needs_loop()
    threads.clear()
    assert chain.invoke(2) == 6
    assert threads == [threading.get_ident()]  # driven inline in this thread again


async def test_step_still_slow_at_its_recheck_stays_marked_and_waits_longer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from runnables.core import offload

    monkeypatch.setattr(offload, "RECHECK_AFTER", 0.001)
    where: list[str] = []

    def slow(x: int) -> int:
        time.sleep(0.05)
        where.append(threading.current_thread().name)
        return x

    step = RunnableLambda(slow)
    with pytest.warns(BlockingStepWarning):
        await step.ainvoke(1)
    assert step._blocking and step._recheck_wait == 0.001
    time.sleep(0.01)  # past the re-check time
    await step.ainvoke(1)  # due for its re-check: inline on the loop, still slow
    assert step._blocking and step._recheck_wait == 0.002
    assert where[-1] == threading.current_thread().name
    step._recheck_at = time.perf_counter() + 3600  # not due: a worker thread, as before
    await step.ainvoke(1)
    assert step._blocking and where[-1] != threading.current_thread().name
