"""Sync ``batch``: every input runs, then the first failure (in input order) is raised."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from runnables import RunnableLambda


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
    # max_concurrency sends the batch to the event loop (the inputs overlap there).
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
    assert RunnableLambda(lambda x: err).batch([1, 2]) == [err, err]
    assert RunnableLambda(lambda x: err).batch([1, 2], {"max_concurrency": 1}) == [err, err]
