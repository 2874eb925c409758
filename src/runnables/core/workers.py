"""The bridge loop's worker threads: a pool that cannot deadlock on nested sync calls.

Sync steps found blocking run on the bridge loop's default executor. Such a step may
call another chain's sync ``invoke``/``batch``/``stream``: its worker thread then waits
for the bridge loop, and the nested chain's own blocking steps need worker threads
from the same pool. With a fixed-size pool (the stdlib's ``min(32, cpu + 4)``), a
``batch`` wider than the pool fills every worker with a waiting step and the nested
steps queue behind them for ever.

:class:`WorkerPool` keeps the stdlib's size as the number of workers *running* code,
and does not count a worker while it waits on the bridge (:meth:`WorkerPool.waiting`):
for each such worker one more thread may start when work is queued (the "compensation"
of Java's ``ForkJoinPool.managedBlock``). Whatever the width or depth of the nesting,
queued work always gets a thread, and no more than ``max_workers`` threads run user
code at once. Threads beyond ``max_workers`` leave after ``keepalive`` idle seconds, so
a wide burst does not leave its threads behind.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from queue import Empty, SimpleQueue
from typing import Any, ParamSpec, TypeVar

from runnables.errors import StateError

__all__ = ["WorkerPool", "current_pool"]

P = ParamSpec("P")
T = TypeVar("T")

_local = threading.local()


def current_pool() -> WorkerPool | None:
    """The pool whose worker is the current thread, or None."""
    return getattr(_local, "pool", None)


class WorkerPool(ThreadPoolExecutor):
    """A thread pool that starts a thread for queued work while its workers wait on the
    bridge loop (see the module docstring).

    It derives from ``ThreadPoolExecutor`` only because ``loop.set_default_executor``
    requires one; ``submit`` and ``shutdown`` are its own and use none of the base's state.
    """

    def __init__(self, max_workers: int | None = None, keepalive: float = 30.0) -> None:
        self.max_workers = max_workers or min(32, (os.cpu_count() or 1) + 4)
        super().__init__(self.max_workers, thread_name_prefix="runnables-worker")
        self.keepalive = keepalive
        self._lock = threading.Lock()
        self._queue: SimpleQueue[tuple[Future[Any], Callable[..., Any], tuple[Any, ...]] | None]
        self._queue = SimpleQueue()
        self._queued = 0  # items put and not yet taken
        self._n_threads = 0  # live worker threads
        self._idle = 0  # workers waiting for an item
        self._waiting = 0  # workers waiting on the bridge: not counted against max_workers
        self._closed = False
        self._all: list[threading.Thread] = []

    def submit(  # type: ignore[override]
        self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs
    ) -> Future[T]:
        if kwargs:
            return self.submit(lambda: fn(*args, **kwargs))
        future: Future[T] = Future()
        with self._lock:
            if self._closed:
                raise StateError("cannot schedule new futures after shutdown")
            self._queued += 1
            self._queue.put((future, fn, args))
            self._maybe_start()
        return future

    def _maybe_start(self) -> None:
        """Start a worker if queued work has no idle worker to take it and fewer than
        ``max_workers`` threads run code. Called with the lock held."""
        if self._queued > self._idle and self._n_threads - self._waiting < self.max_workers:
            self._n_threads += 1
            thread = threading.Thread(
                target=self._work, name=f"runnables-worker-{len(self._all)}", daemon=True
            )
            self._all = [t for t in self._all if t.is_alive()]
            self._all.append(thread)
            thread.start()

    @contextmanager
    def waiting(self) -> Iterator[None]:
        """While inside, the current worker waits on the bridge and does not count
        against ``max_workers``."""
        with self._lock:
            self._waiting += 1
            self._maybe_start()
        try:
            yield
        finally:
            with self._lock:
                self._waiting -= 1

    def _work(self) -> None:
        _local.pool = self
        queue, lock = self._queue, self._lock
        while True:
            with lock:
                self._idle += 1
            try:
                item = queue.get(timeout=self.keepalive)
            except Empty:
                with lock:
                    self._idle -= 1
                    if self._queued or self._n_threads <= self.max_workers:
                        continue
                    self._n_threads -= 1
                return
            with lock:
                self._idle -= 1
                if item is not None:
                    self._queued -= 1
            if item is None:  # shutdown
                with lock:
                    self._n_threads -= 1
                return
            future, fn, args = item
            del item
            if future.set_running_or_notify_cancel():
                try:
                    result = fn(*args)
                except BaseException as exc:
                    future.set_exception(exc)
                    del exc
                else:
                    future.set_result(result)
                    del result
            del future, fn, args

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            self._closed = True
            if cancel_futures:
                while True:
                    try:
                        item = self._queue.get_nowait()
                    except Empty:
                        break
                    if item is not None:
                        self._queued -= 1
                        item[0].cancel()
            threads = list(self._all)
            for _ in threads:
                self._queue.put(None)
        if wait:
            for thread in threads:
                if thread is not threading.current_thread():
                    thread.join()
