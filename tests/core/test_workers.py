"""The bridge loop's worker pool: waiting workers are compensated, extras retire."""

from __future__ import annotations

import threading
import time

import pytest

from runnables.core.workers import WorkerPool, current_pool

TIMEOUT = 30


def test_a_worker_waiting_on_the_bridge_lets_queued_work_start() -> None:
    pool = WorkerPool(max_workers=2, keepalive=0.2)
    release = threading.Event()

    def waiter() -> bool:
        with pool.waiting():  # as run_on_bridge does when a worker waits on the bridge
            return release.wait(TIMEOUT)

    try:
        waiters = [pool.submit(waiter) for _ in range(2)]  # the whole pool waits
        setter = pool.submit(release.set)  # queued behind them: needs a compensating thread
        setter.result(TIMEOUT)
        assert [w.result(TIMEOUT) for w in waiters] == [True, True]
    finally:
        release.set()
        pool.shutdown()


def test_no_more_than_max_workers_run_code_at_once_and_extras_retire() -> None:
    pool = WorkerPool(max_workers=2, keepalive=0.1)
    lock = threading.Lock()
    running = peak = 0
    release = threading.Event()

    def work() -> None:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.01)
        with lock:
            running -= 1

    def waiter() -> None:
        with pool.waiting():
            release.wait(TIMEOUT)

    try:
        waiters = [pool.submit(waiter) for _ in range(6)]
        jobs = [pool.submit(work) for _ in range(40)]
        for job in jobs:
            job.result(TIMEOUT)
        release.set()
        for w in waiters:
            w.result(TIMEOUT)
        assert peak <= 2
        deadline = time.monotonic() + TIMEOUT
        while pool._n_threads > pool.max_workers and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pool._n_threads <= pool.max_workers  # the compensating threads left
    finally:
        release.set()
        pool.shutdown()


def test_workers_know_their_pool_and_errors_reach_the_future() -> None:
    pool = WorkerPool(max_workers=1)
    try:
        assert pool.submit(current_pool).result(TIMEOUT) is pool
        assert current_pool() is None

        def fail() -> None:
            raise KeyError("boom")

        with pytest.raises(KeyError, match="boom"):
            pool.submit(fail).result(TIMEOUT)

        def add(a: int, b: int = 0) -> int:
            return a + b

        assert pool.submit(add, 1, b=2).result(TIMEOUT) == 3
    finally:
        pool.shutdown()
    with pytest.raises(RuntimeError, match="after shutdown"):
        pool.submit(print)
