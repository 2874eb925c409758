"""Structured concurrency for the engine: no task a step starts outlives the step.

Every place that runs work concurrently goes through this module, so what happens
when one part fails, when the caller leaves early and when the call is cancelled is
decided once:

- :func:`gather_all`: run awaitables concurrently and return their results; on the
  first error cancel the others, wait for them, and raise the *original* exception
  (never an ``ExceptionGroup``, unlike ``asyncio.TaskGroup``).
- :class:`TaskGroup`: the same for tasks started one by one (workers, pumps) in an
  ``async with`` block; leaving the block by an exception (an error, the consumer of
  an async generator leaving early, cancellation) cancels and awaits every task.
- :func:`cancel_and_wait`: the cancel-then-await step the two above end with.
- :func:`aclose`: close a stream if it can be closed (async generators, our streams);
  :class:`aclosing` does it on leaving an ``async with`` block.
- :func:`merge`: the items of several streams as they arrive, with backpressure: a
  fast source runs at most :data:`AHEAD` items ahead of the consumer.

This module imports nothing from the engine, so every layer can use it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Coroutine, Sequence
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import Any, TypeVar

__all__ = [
    "AHEAD",
    "TaskGroup",
    "aclose",
    "aclosing",
    "cancel_and_wait",
    "gather_all",
    "merge",
]

T = TypeVar("T")

AHEAD = 2
"""How many items one source of :func:`merge` may have produced and the consumer not
taken yet before the source is paused (backpressure)."""


async def aclose(stream: object) -> None:
    """Close ``stream`` if it has an ``aclose`` (async generators do); else do nothing.

    Streams are closed where they were opened, in ``finally``, so a step's cleanup runs
    when its consumer stops early, not whenever the garbage collector finds it.
    """
    close = getattr(stream, "aclose", None)
    if close is not None:
        await close()


class aclosing(AbstractAsyncContextManager[T]):  # noqa: N801 (named as contextlib's)
    """``async with aclosing(stream) as s:`` closes ``stream`` (:func:`aclose`) when the
    block is left, however it is left: a consumer that breaks out of an
    ``astream_events`` loop stops the run there, not when the generator is collected.

    Unlike :func:`contextlib.aclosing`, a stream without ``aclose`` is accepted (and left
    as it is), as langchain-core's ``aclosing`` does.
    """

    def __init__(self, thing: T) -> None:
        self.thing = thing

    async def __aenter__(self) -> T:
        return self.thing

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await aclose(self.thing)


async def cancel_and_wait(tasks: Sequence[asyncio.Future[Any]]) -> None:
    """Cancel every task not done yet and wait until all have ended (results dropped)."""
    for task in tasks:
        task.cancel()
    # gather waits for every task even if this await is cancelled in turn (it cancels
    # them and completes only once they are all done), so none is left running.
    await asyncio.gather(*tasks, return_exceptions=True)


async def gather_all(aws: Sequence[Awaitable[T]], return_exceptions: bool = False) -> list[Any]:
    """Run awaitables concurrently; on the first error cancel the rest, wait, re-raise it.

    Unlike ``asyncio.gather``, no task outlives the call: when one fails (and
    ``return_exceptions`` is false) or the caller is cancelled, every other task is
    cancelled and awaited before this returns, and the *original* exception is raised.
    """
    if len(aws) == 1 and not return_exceptions:
        return [await aws[0]]
    loop = asyncio.get_running_loop()
    tasks = [loop.create_task(a) if not isinstance(a, asyncio.Future) else a for a in aws]  # type: ignore[arg-type]
    try:
        return await asyncio.gather(*tasks, return_exceptions=return_exceptions)
    except BaseException:
        await cancel_and_wait(tasks)
        raise


class TaskGroup:
    """Tasks started one by one that all end before the ``async with`` block does.

    >>> async def main() -> None:
    ...     async with TaskGroup() as group:
    ...         group.start(asyncio.sleep(0))

    - The block left normally: wait for every task. If one failed, the others were
      cancelled when it did, and its exception (the first, unchanged) is raised here.
    - The block left by an exception (its own error, ``GeneratorExit`` when the
      consumer of an async generator stops early, cancellation): every task is
      cancelled and awaited, and that exception propagates.

    Unlike ``anyio``'s task group, a failing task does not cancel the block's own code:
    the block may be the body of an async generator, suspended in its consumer's task,
    and cancelling that task would hit the consumer's unrelated work. Each use here
    waits on its tasks' results (a queue, ``as_completed``), so it sees a failure there.
    """

    __slots__ = ("_error", "_tasks")

    def __init__(self) -> None:
        self._tasks: list[asyncio.Task[Any]] = []
        self._error: BaseException | None = None

    @property
    def tasks(self) -> list[asyncio.Task[Any]]:
        """The tasks started so far, in order."""
        return self._tasks

    def start(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        """Start ``coro`` as a task of this group (in a copy of the current context)."""
        task = asyncio.get_running_loop().create_task(coro)
        task.add_done_callback(self._on_done)
        self._tasks.append(task)
        return task

    def _on_done(self, task: asyncio.Task[Any]) -> None:
        if task.cancelled():
            return
        exc = task.exception()  # also marks it retrieved: the group answers for it
        if exc is not None and self._error is None:
            self._error = exc
            for other in self._tasks:
                if not other.done():
                    other.cancel()

    async def __aenter__(self) -> TaskGroup:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        tasks = self._tasks
        if exc_type is not None:
            await cancel_and_wait(tasks)
            return
        try:
            await asyncio.gather(*tasks, return_exceptions=True)
        except BaseException:  # cancelled while waiting: gather has cancelled them
            await cancel_and_wait(tasks)
            raise
        if self._error is not None:
            raise self._error


_END = object()


async def merge(
    sources: list[AsyncIterator[Any]], ahead: int = AHEAD
) -> AsyncGenerator[tuple[int, Any], None]:
    """Yield ``(index, item)`` from all sources as items arrive, running them concurrently.

    Backpressure: a source that has ``ahead`` items the consumer has not taken yet is
    paused until the consumer takes one, so a fast source never runs more than that
    far ahead of a slow consumer (as a nested stream would not run ahead at all).

    The first error from any source cancels the others and is raised unchanged.
    However it ends (exhausted, an error, the consumer leaving early, cancellation),
    every task it started is cancelled and awaited, and every source closed, before it
    returns.
    """
    if len(sources) == 1:
        async for item in sources[0]:
            yield 0, item
        return
    ready: deque[tuple[int, Any, BaseException | None]] = deque()
    loop = asyncio.get_running_loop()
    wake: list[asyncio.Future[None] | None] = [None]
    # Per source: items produced and not yet taken, and the future it waits on when full.
    unread = [0] * len(sources)
    paused: list[asyncio.Future[None] | None] = [None] * len(sources)

    def push(entry: tuple[int, Any, BaseException | None]) -> None:
        ready.append(entry)
        fut = wake[0]
        if fut is not None and not fut.done():
            fut.set_result(None)

    async def pump(i: int, source: AsyncIterator[Any]) -> None:
        try:
            async for item in source:
                push((i, item, None))
                unread[i] += 1
                if unread[i] >= ahead:
                    fut = paused[i] = loop.create_future()
                    await fut
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            push((i, _END, exc))
            return
        push((i, _END, None))

    try:
        async with TaskGroup() as group:
            for i, s in enumerate(sources):
                group.start(pump(i, s))
            remaining = len(sources)
            while remaining:
                if not ready:
                    fut = loop.create_future()
                    wake[0] = fut
                    await fut
                    wake[0] = None
                i, item, exc = ready.popleft()
                if exc is not None:
                    raise exc
                if item is _END:
                    remaining -= 1
                    continue
                unread[i] -= 1
                waiting = paused[i]
                if waiting is not None:
                    paused[i] = None
                    if not waiting.done():
                        waiting.set_result(None)
                yield i, item
    finally:
        for s in sources:
            await aclose(s)
