"""Sync entry points over the async engine.

The async implementation is the only one. Sync ``invoke``/``batch``/``stream`` reach it
in one of two ways:

1. **Inline drive.** When no step of the runnable needs an event loop (only sync
   functions, none found slow), the coroutine is driven with ``send(None)`` in the
   caller's thread. It never suspends, so no loop is created and no thread is used:
   a sync chain costs about what calling its functions costs.
2. **The bridge loop.** Otherwise the coroutine runs on one shared event loop in a
   daemon thread, and the caller's thread waits for it. This works the same in a
   plain script and inside a running event loop (a notebook cell, an async function),
   with no ``nest_asyncio`` and no "event loop is already running". Cancelling the
   wait (Ctrl-C) cancels the work.
   Its worker threads (:mod:`runnables.core.workers`) do not count a worker that
   waits for a nested sync call, so nested calls never deadlock however wide.

Waiting in a thread that runs an event loop blocks that loop; when the caller is a
coroutine (the seed's common mistake "calling .invoke() inside async functions") a
:class:`~runnables.errors.BlockingCallWarning` says so and suggests ``await ainvoke``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import inspect
import queue
import sys
import threading
import warnings
from collections.abc import AsyncIterator, Coroutine, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from runnables.core.tasks import aclose
from runnables.core.workers import WorkerPool, current_pool
from runnables.errors import BlockingCallWarning, StateError

if TYPE_CHECKING:
    from runnables.core.config import Context

__all__ = [
    "SYNC_CALLER",
    "drive",
    "is_sync_call",
    "drive_stream",
    "run_on_bridge",
    "stream_on_bridge",
]

T = TypeVar("T")

#: True in the context of a call that came in through a sync entry point (``invoke``,
#: ``batch``, ``stream``...) and runs on the bridge loop. Steps with a sync and an async
#: implementation (``RunnableLambda(func, afunc)``) read it to use the sync one there, as
#: langchain-core's sync methods do; ``ctx.sync`` alone cannot say it, since a bridged call
#: runs on a loop. Everything the call runs inherits it, nested calls made from its
#: functions included: they are part of the sync call. Only such steps read it, so no
#: other step pays for it.
SYNC_CALLER: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "runnables_sync_caller", default=False
)


def is_sync_call(ctx: Context) -> bool:
    """Whether a step with both a sync and an async implementation should use the sync one:
    the call came in through a sync entry point, driven inline or run on the bridge loop.

    Such steps ask only after checking they have both, so no other step pays for it.
    """
    return ctx.sync or SYNC_CALLER.get()


def _sync_caller_context() -> contextvars.Context:
    """A copy of the caller's context, marked as a sync caller's."""
    marked = contextvars.copy_context()
    marked.run(SYNC_CALLER.set, True)
    return marked


class _SuspendedError(StateError):
    pass


def drive(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never suspends to completion, in this thread, without a loop."""
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    coro.close()
    raise _SuspendedError(
        "internal error: a step expected to be synchronous suspended; please report it"
    )


def drive_stream(agen: AsyncIterator[T]) -> Iterator[T]:
    """Iterate an async generator that never suspends, in this thread, without a loop."""
    anext_ = agen.__anext__
    try:
        while True:
            step = anext_()
            try:
                step.send(None)  # type: ignore[attr-defined]
            except StopIteration as stop:
                item = stop.value
            except StopAsyncIteration:
                return
            else:
                step.close()  # type: ignore[attr-defined]
                raise _SuspendedError(
                    "internal error: a streaming step expected to be synchronous suspended"
                )
            yield item
    finally:
        aclose = getattr(agen, "aclose", None)
        if aclose is not None:
            closer = aclose()
            try:
                closer.send(None)
            except (StopIteration, StopAsyncIteration):
                pass
            except RuntimeError:
                closer.close()


class _Bridge:
    """A daemon thread running an event loop, started on first use."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def get_loop(self) -> asyncio.AbstractEventLoop:
        loop = self.loop
        if loop is not None:
            return loop
        with self._lock:
            if self.loop is None:
                ready = threading.Event()

                def main() -> None:
                    try:
                        loop = asyncio.new_event_loop()
                        loop.set_default_executor(WorkerPool())
                        self.loop = loop
                        asyncio.set_event_loop(loop)
                    finally:
                        ready.set()  # a failure above must not hang the caller
                    loop.run_forever()

                self.thread = threading.Thread(target=main, name="runnables-bridge", daemon=True)
                self.thread.start()
                ready.wait()
            loop = self.loop
            if loop is None:
                raise StateError("internal error: the bridge loop failed to start")
            return loop


_BRIDGE = _Bridge()


def _warn_if_called_from_coroutine() -> None:
    """Warn when a sync call blocks a running loop from inside a coroutine function."""
    frame = sys._getframe(2)
    while frame is not None and frame.f_globals.get("__name__", "").startswith("runnables."):
        frame = frame.f_back  # type: ignore[assignment]
    if frame is not None and frame.f_code.co_flags & inspect.CO_COROUTINE:
        registry = frame.f_globals.setdefault("__warningregistry__", {})
        warnings.warn_explicit(
            f"A sync runnables call (invoke/batch/stream) was made inside the coroutine "
            f"{frame.f_code.co_name!r}; it blocks that event loop until the call is done. "
            "Use 'await runnable.ainvoke(...)' (or abatch/astream) in async code.",
            BlockingCallWarning,
            frame.f_code.co_filename,
            frame.f_lineno,
            module=frame.f_globals.get("__name__"),
            registry=registry,
        )


def _target_loop() -> asyncio.AbstractEventLoop | None:
    """The bridge loop, or None when this thread *is* the bridge (use a private loop)."""
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        return _BRIDGE.get_loop()
    _warn_if_called_from_coroutine()
    if running is _BRIDGE.loop:
        return None
    return _BRIDGE.get_loop()


def run_on_bridge(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on the bridge loop and wait for its result in this thread."""
    loop = _target_loop()
    if loop is None:
        # A step running on the bridge called a sync API: a private loop in a new thread
        # avoids waiting on ourselves.
        box: dict[str, Any] = {}
        context = _sync_caller_context()  # asyncio.run's task copies it

        def main() -> None:
            try:
                box["result"] = context.run(asyncio.run, coro)
            except BaseException as exc:
                box["error"] = exc

        thread = threading.Thread(target=main, name="runnables-bridge-nested", daemon=True)
        thread.start()
        thread.join()
        if "error" in box:
            raise box["error"]
        return box["result"]  # type: ignore[no-any-return]
    context = _sync_caller_context()
    future: concurrent.futures.Future[T] = concurrent.futures.Future()

    def start() -> None:
        task = loop.create_task(coro, context=context)

        def done(t: asyncio.Task[T]) -> None:
            if future.cancelled():
                return
            if t.cancelled():
                future.cancel()
            elif (exc := t.exception()) is not None:
                future.set_exception(exc)
            else:
                future.set_result(t.result())

        task.add_done_callback(done)
        future.add_done_callback(
            lambda f: loop.call_soon_threadsafe(task.cancel) if f.cancelled() else None
        )

    loop.call_soon_threadsafe(start)
    try:
        pool = current_pool()
        if pool is None:
            return future.result()
        with pool.waiting():  # a worker of the bridge waits for the bridge: see workers.py
            return future.result()
    except BaseException:
        future.cancel()
        raise


_DONE = object()


def stream_on_bridge(agen_factory: Any, buffer: int = 64) -> Iterator[Any]:
    """Iterate an async iterator (made by ``agen_factory()`` on the loop) from sync code.

    At most ``buffer`` items run ahead of the consumer. Closing the sync iterator early
    cancels the producer and closes the async iterator.
    """
    loop = _target_loop()
    if loop is None:
        # Nested on the bridge thread: collect on a private loop (rare; no live streaming).
        async def collect() -> list[Any]:
            return [item async for item in agen_factory()]

        yield from run_on_bridge(collect())
        return
    items: queue.SimpleQueue[Any] = queue.SimpleQueue()
    credits: list[asyncio.Semaphore] = []
    context = _sync_caller_context()
    started = threading.Event()
    task_box: list[asyncio.Task[None]] = []

    async def produce() -> None:
        sem = asyncio.Semaphore(buffer)
        credits.append(sem)
        started.set()
        try:
            agen = agen_factory()
            try:
                async for item in agen:
                    await sem.acquire()
                    items.put((True, item))
            finally:
                await aclose(agen)
        except BaseException as exc:
            items.put((False, exc))
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            return
        items.put((False, _DONE))

    def start() -> None:
        task_box.append(loop.create_task(produce(), context=context))

    loop.call_soon_threadsafe(start)
    finished = False
    pool = current_pool()
    try:
        while True:
            if pool is None:
                ok, item = items.get()
            else:
                try:
                    ok, item = items.get_nowait()
                except queue.Empty:
                    with pool.waiting():  # see workers.py
                        ok, item = items.get()
            if not ok:
                finished = True
                if item is _DONE:
                    return
                if isinstance(item, asyncio.CancelledError):
                    raise item
                raise item
            started.wait()
            loop.call_soon_threadsafe(credits[0].release)
            yield item
    finally:
        if not finished:
            started.wait()

            def cancel() -> None:
                for t in task_box:
                    t.cancel()

            loop.call_soon_threadsafe(cancel)
