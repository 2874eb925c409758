"""Sync entry points over async runnables: plain threads, running loops, nested calls."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from typing import Any

import pytest

from runnables import BlockingCallWarning, RunnableLambda, RunnableParallel

TIMEOUT = 10


async def _double(x: int) -> int:
    await asyncio.sleep(0)
    return x * 2


async def _count_to(n: int) -> AsyncIterator[int]:
    for i in range(n):
        await asyncio.sleep(0)
        yield i


ASYNC_DOUBLE = RunnableLambda(_double)
ASYNC_COUNT = RunnableLambda(_count_to)


def _in_plain_thread(fn: Any) -> Any:
    box: dict[str, Any] = {}

    def main() -> None:
        try:
            box["out"] = fn()
        except BaseException as exc:
            box["err"] = exc

    t = threading.Thread(target=main)
    t.start()
    t.join(TIMEOUT)
    assert not t.is_alive(), "the sync call did not return"
    if "err" in box:
        raise box["err"]
    return box["out"]


def test_invoke_batch_stream_of_async_only_runnable_in_a_plain_thread() -> None:
    def run() -> tuple[Any, Any, Any]:
        with pytest.raises(RuntimeError):
            asyncio.get_running_loop()  # really no loop in this thread
        return (
            ASYNC_DOUBLE.invoke(2),
            ASYNC_DOUBLE.batch([1, 2, 3]),
            list(ASYNC_COUNT.stream(3)),
        )

    assert _in_plain_thread(run) == (4, [2, 4, 6], [0, 1, 2])


async def test_invoke_from_a_coroutine_works_and_warns_that_it_blocks() -> None:
    # What a notebook cell does: call the sync API while a loop is running in this thread.
    with pytest.warns(BlockingCallWarning, match="ainvoke"):
        assert ASYNC_DOUBLE.invoke(5) == 10
    with pytest.warns(BlockingCallWarning):
        assert ASYNC_DOUBLE.batch([1, 2]) == [2, 4]
    with pytest.warns(BlockingCallWarning):
        assert list(ASYNC_COUNT.stream(3)) == [0, 1, 2]


async def test_blocking_call_warning_points_at_the_callers_line() -> None:
    with pytest.warns(BlockingCallWarning) as record:
        ASYNC_DOUBLE.invoke(1)
    assert record[0].filename == __file__


def test_sync_invoke_in_a_plain_function_does_not_warn() -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ASYNC_DOUBLE.invoke(1) == 2
        assert RunnableLambda[int, int](lambda x: x + 1).invoke(1) == 2


def test_sync_step_on_the_bridge_can_invoke_an_async_runnable() -> None:
    # The chain needs the bridge loop (it has an async step); its sync step runs on the
    # bridge thread and calls the sync API of another async runnable from there. Waiting
    # on the bridge from the bridge would deadlock.
    threads: list[str] = []

    def sync_step(x: int) -> int:
        threads.append(threading.current_thread().name)
        return ASYNC_DOUBLE.invoke(x) + 1

    chain = ASYNC_DOUBLE | RunnableLambda(sync_step, offload="never")
    assert _in_plain_thread(lambda: chain.invoke(1)) == 5
    assert threads == ["runnables-bridge"]
    assert _in_plain_thread(lambda: chain.batch([1, 2])) == [5, 9]
    assert _in_plain_thread(lambda: list(chain.stream(1))) == [5]


def test_sync_step_on_the_bridge_can_stream_an_async_runnable() -> None:
    def sync_step(x: int) -> list[int]:
        return list(ASYNC_COUNT.stream(x))

    chain = ASYNC_DOUBLE | RunnableLambda(sync_step, offload="never")
    assert _in_plain_thread(lambda: chain.invoke(2)) == [0, 1, 2, 3]


def test_sync_chain_of_sync_functions_runs_inline_in_the_callers_thread() -> None:
    seen: list[threading.Thread] = []

    def record(x: int) -> int:
        seen.append(threading.current_thread())
        return x

    chain = RunnableLambda(record) | {"a": record, "b": record}
    assert chain.invoke(1) == {"a": 1, "b": 1}
    assert list(chain.stream(1)) == [{"a": 1}, {"b": 1}]
    assert chain.batch([1, 2]) == [{"a": 1, "b": 1}, {"a": 2, "b": 2}]
    assert set(seen) == {threading.current_thread()}


def test_sync_error_from_the_bridge_is_the_original_exception() -> None:
    boom = LookupError("no such key 'k'")

    async def fail(x: Any) -> Any:
        raise boom

    with pytest.raises(LookupError) as info:
        RunnableLambda(fail).invoke(1)
    assert info.value is boom


def test_closing_a_sync_stream_early_stops_the_producer() -> None:
    stopped = threading.Event()

    async def forever(x: Any) -> AsyncIterator[int]:
        try:
            i = 0
            while True:
                yield i
                i += 1
                await asyncio.sleep(0)
        finally:
            stopped.set()

    stream = RunnableLambda(forever).stream(None)
    for i in stream:
        if i == 5:
            break
    stream.close()  # type: ignore[attr-defined]
    assert stopped.wait(TIMEOUT)


def test_parallel_of_async_branches_runs_them_concurrently_from_sync_invoke() -> None:
    # Each branch waits for the other to have started: only concurrent branches finish.
    # (Events are made on first use, inside the bridge loop that runs the branches.)
    events: dict[str, asyncio.Event] = {}

    def branch(name: str, other: str) -> RunnableLambda[Any, str]:
        async def run(x: Any) -> str:
            events.setdefault(name, asyncio.Event()).set()
            await asyncio.wait_for(events.setdefault(other, asyncio.Event()).wait(), TIMEOUT)
            return name

        return RunnableLambda(run)

    par = RunnableParallel(a=branch("a", "b"), b=branch("b", "a"))
    assert par.invoke(None) == {"a": "a", "b": "b"}


# ---------------------------------------------------------------- nested sync calls

# Wider than the bridge's worker pool on any machine (Python caps it at 32).
WIDE = 48


def _bounded(fn: Any, timeout: float = 30) -> Any:
    """Run ``fn`` on a daemon thread; a hang becomes a test failure, not a hung CI."""
    box: dict[str, Any] = {}

    def main() -> None:
        try:
            box["out"] = fn()
        except BaseException as exc:
            box["err"] = exc

    t = threading.Thread(target=main, daemon=True)
    t.start()
    t.join(timeout)
    assert not t.is_alive(), f"the nested sync call deadlocked (no result in {timeout} s)"
    if "err" in box:
        raise box["err"]
    return box["out"]


def test_batch_of_steps_that_invoke_a_blocking_chain_does_not_deadlock() -> None:
    # The repro: inner is found blocking (50 ms > 20 ms) by the first invoke, so
    # is outer; the batch then puts 12 outers on worker threads, each waiting for an
    # inner that needs a worker thread too.
    import time

    def lookup(x: int) -> int:
        time.sleep(0.05)
        return x + 1

    inner = RunnableLambda(lookup)
    outer = RunnableLambda[int, int](lambda x: inner.invoke(x))
    assert _bounded(lambda: outer.invoke(0)) == 1
    assert _bounded(lambda: outer.batch(list(range(12)))) == list(range(1, 13))


def test_nested_sync_calls_three_levels_deep_far_wider_than_the_pool() -> None:
    inner = RunnableLambda[int, int](lambda x: x + 1, offload="always")
    middle = RunnableLambda[int, int](lambda x: inner.invoke(x) * 10, offload="always")
    outer = RunnableLambda[int, int](lambda x: middle.batch([x, x])[0], offload="always")
    expected = [(x + 1) * 10 for x in range(WIDE)]
    assert _bounded(lambda: outer.batch(list(range(WIDE)))) == expected


def test_stream_nested_in_a_wide_batch_does_not_deadlock() -> None:
    def count(x: int) -> Any:
        yield from range(x % 3 + 1)

    inner = RunnableLambda(count, offload="always")
    outer = RunnableLambda[int, list[int]](lambda x: list(inner.stream(x)), offload="always")
    expected = [list(range(x % 3 + 1)) for x in range(WIDE)]
    assert _bounded(lambda: outer.batch(list(range(WIDE)))) == expected


def test_nested_calls_from_a_wide_abatch_in_the_callers_own_loop() -> None:
    inner = RunnableLambda[int, int](lambda x: x * 2, offload="always")
    outer = RunnableLambda[int, int](lambda x: inner.batch([x])[0], offload="always")

    async def main() -> list[int]:
        return await outer.abatch(list(range(WIDE)))

    assert _bounded(lambda: asyncio.run(main())) == [x * 2 for x in range(WIDE)]
