"""Sync ``batch``: every input runs, then the first failure (in input order) is raised."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import pytest

from runnables import RunnableConfig, RunnableLambda


class BoomError(Exception):
    pass


def _fail_on(bad: set[int], ran: list[int]) -> Callable[[int], int]:
    lock = threading.Lock()

    def step(x: int) -> int:
        with lock:
            ran.append(x)
        if x in bad:
            raise BoomError(f"input {x}")
        return x * 10

    return step


def test_sync_batch_runs_every_input_then_raises_the_first_failure() -> None:
    ran: list[int] = []
    with pytest.raises(BoomError, match="input 1") as info:
        RunnableLambda(_fail_on({1, 3}, ran)).batch([0, 1, 2, 3, 4])
    assert sorted(ran) == [0, 1, 2, 3, 4]
    assert type(info.value) is BoomError  # the user's exception itself, not a wrapper


def test_sync_batch_of_a_sequence_runs_every_input_through_every_step() -> None:
    ran: list[int] = []
    after: list[int] = []
    chain = RunnableLambda(_fail_on({0}, ran)) | RunnableLambda(after.append)
    with pytest.raises(BoomError, match="input 0"):
        chain.batch([0, 1, 2])
    assert sorted(ran) == [0, 1, 2]
    assert sorted(after) == [10, 20]


def test_sync_batch_on_the_loop_path_runs_every_input_then_raises() -> None:
    # With max_concurrency the inputs run inline too until a step is found slow.
    ran: list[int] = []
    with pytest.raises(BoomError, match="input 2"):
        RunnableLambda(_fail_on({2, 4}, ran)).batch([0, 1, 2, 3, 4, 5], {"max_concurrency": 2})
    assert sorted(ran) == [0, 1, 2, 3, 4, 5]


def test_sync_batch_of_a_slow_step_runs_every_input_then_raises() -> None:
    # A slow step moves the rest of the batch onto the loop after the first input.
    ran: list[int] = []
    fail = _fail_on({0, 2}, ran)

    def slow(x: int) -> int:
        time.sleep(0.02)
        return fail(x)

    with pytest.raises(BoomError, match="input 0"):
        RunnableLambda(slow).batch([0, 1, 2, 3])
    assert sorted(ran) == [0, 1, 2, 3]


def test_sync_batch_with_return_exceptions_puts_each_error_in_place() -> None:
    ran: list[int] = []
    out = RunnableLambda(_fail_on({1}, ran)).batch([0, 1, 2], return_exceptions=True)
    assert out[0] == 0 and out[2] == 20
    assert isinstance(out[1], BoomError)


def test_sync_batch_keeps_an_exception_a_step_returns_as_its_output() -> None:
    err = ValueError("a value, not a failure")
    step = RunnableLambda[int, ValueError](lambda x: err)
    assert step.batch([1, 2]) == [err, err]
    assert step.batch([1, 2], {"max_concurrency": 1}) == [err, err]


def _slow_step_off_the_loop(seen: list[bool]) -> Callable[[int], int]:
    lock = threading.Lock()

    def slow(x: int) -> int:
        try:
            asyncio.get_running_loop()
            on_loop = True
        except RuntimeError:
            on_loop = False
        with lock:
            seen.append(on_loop)
        time.sleep(0.05)  # over the offload threshold: found slow on its first call
        return x * 10

    return slow


@pytest.mark.parametrize("max_concurrency", [None, 3])
def test_sync_batch_never_runs_a_slow_sync_step_on_an_event_loop(
    max_concurrency: int | None,
) -> None:
    # langchain-core runs a sync batch's calls on threads; runnables times an unknown step
    # on the caller's thread, then overlaps the rest on worker threads, never on the loop.
    seen: list[bool] = []
    config: RunnableConfig | None = (
        {"max_concurrency": max_concurrency} if max_concurrency else None
    )
    out = RunnableLambda(_slow_step_off_the_loop(seen)).batch(list(range(6)), config)
    assert out == [0, 10, 20, 30, 40, 50]
    assert seen == [False] * 6


def test_sync_batch_as_completed_never_runs_a_slow_sync_step_on_an_event_loop() -> None:
    seen: list[bool] = []
    step = RunnableLambda(_slow_step_off_the_loop(seen))
    pairs = list(step.batch_as_completed(list(range(6)), {"max_concurrency": 3}))
    assert sorted(pairs) == [(i, i * 10) for i in range(6)]
    assert seen == [False] * 6


def test_sync_batch_as_completed_of_cheap_steps_keeps_indexes_and_errors() -> None:
    ran: list[int] = []
    step = RunnableLambda(_fail_on({1}, ran))
    pairs = list(step.batch_as_completed([0, 1, 2], return_exceptions=True))
    assert [i for i, _ in pairs] == [0, 1, 2]
    assert isinstance(pairs[1][1], BoomError)
    with pytest.raises(BoomError, match="input 1"):
        list(step.batch_as_completed([0, 1, 2]))
    assert list(step.batch_as_completed([])) == []
