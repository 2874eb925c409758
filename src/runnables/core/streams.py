"""Async stream plumbing: a tee that feeds one stream to many steps, and a merge.

Both keep structured concurrency: ``merge`` starts a task per source and, however it
ends (exhausted, an error, the consumer leaving early, cancellation), cancels and awaits
every task it started before it returns.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

from runnables.core._util import ListIter

__all__ = ["merge", "tee"]


class _Tee:
    """Shared state of the copies of one source stream."""

    __slots__ = ("buffers", "done", "error", "lock", "source")

    def __init__(self, source: AsyncIterator[Any], n: int) -> None:
        self.source = source
        self.buffers: list[deque[Any]] = [deque() for _ in range(n)]
        self.lock = asyncio.Lock()
        self.done = False
        self.error: BaseException | None = None

    async def pull(self, i: int) -> Any:
        buf = self.buffers[i]
        while not buf:
            if self.error is not None:
                raise self.error
            if self.done:
                raise StopAsyncIteration
            async with self.lock:
                if buf or self.done or self.error is not None:
                    continue
                try:
                    item = await self.source.__anext__()
                except StopAsyncIteration:
                    self.done = True
                    raise
                except BaseException as exc:
                    self.error = exc
                    raise
                for b in self.buffers:
                    b.append(item)
        return buf.popleft()


class _TeeCopy(AsyncIterator[Any]):
    __slots__ = ("_i", "_tee")

    def __init__(self, tee: _Tee, i: int) -> None:
        self._tee = tee
        self._i = i

    def __aiter__(self) -> _TeeCopy:
        return self

    async def __anext__(self) -> Any:
        return await self._tee.pull(self._i)


def tee(source: AsyncIterator[Any], n: int) -> list[AsyncIterator[Any]]:
    """``n`` independent copies of one stream; the source is read once."""
    if type(source) is ListIter:
        return [ListIter(source.items) for _ in range(n)]
    shared = _Tee(source, n)
    return [_TeeCopy(shared, i) for i in range(n)]


_END = object()


async def merge(sources: list[AsyncIterator[Any]]) -> AsyncGenerator[tuple[int, Any], None]:
    """Yield ``(index, item)`` from all sources as items arrive, running them concurrently.

    The first error from any source cancels the others and is raised unchanged.
    """
    if len(sources) == 1:
        async for item in sources[0]:
            yield 0, item
        return
    ready: deque[tuple[int, Any, BaseException | None]] = deque()
    loop = asyncio.get_running_loop()
    wake: list[asyncio.Future[None] | None] = [None]

    def push(entry: tuple[int, Any, BaseException | None]) -> None:
        ready.append(entry)
        fut = wake[0]
        if fut is not None and not fut.done():
            fut.set_result(None)

    async def pump(i: int, source: AsyncIterator[Any]) -> None:
        try:
            async for item in source:
                push((i, item, None))
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            push((i, _END, exc))
            return
        push((i, _END, None))

    tasks = [loop.create_task(pump(i, s)) for i, s in enumerate(sources)]
    remaining = len(tasks)
    try:
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
            yield i, item
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for s in sources:
            aclose = getattr(s, "aclose", None)
            if aclose is not None:
                await aclose()
