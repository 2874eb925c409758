"""Async stream plumbing: a tee that feeds one stream to many steps, a merge, and
``Segmented``, which pulls a long pipeline of streams without nesting them.

All keep structured concurrency: ``merge`` (from :mod:`runnables.core.tasks`, where
every task the engine starts is managed) starts a task per source and, however it ends,
cancels and awaits every task it started before it returns, with backpressure;
``Segmented`` starts no task at all.
"""

from __future__ import annotations

import asyncio
import types
from collections import deque
from collections.abc import AsyncIterator, Callable, Generator, Sequence
from typing import Any

from runnables.core.chunks import ListIter
from runnables.core.tasks import aclose, merge

__all__ = ["Segmented", "merge", "tee"]


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


class _Want:
    """What a segment's input yields to ask its chain's driver for the previous
    segment's next item (never seen by the event loop: the driver takes it)."""

    __slots__ = ("chain", "k")

    def __init__(self, chain: Segmented, k: int) -> None:
        self.chain = chain
        self.k = k


class _Link(AsyncIterator[Any]):
    """The input of segment ``k + 1``: the output of segment ``k``."""

    __slots__ = ("_chain", "_k")

    def __init__(self, chain: Segmented, k: int) -> None:
        self._chain = chain
        self._k = k

    def __aiter__(self) -> _Link:
        return self

    def __anext__(self) -> Any:
        return self._chain._pull(self._k)


class Segmented(AsyncIterator[Any]):
    """A long pipeline of nested streams, driven as segments without nesting them.

    A pipeline of streams nests one generator per step, and each pull goes through all
    of them on Python's stack, so a flat chain of some hundreds of streaming steps
    exceeds the recursion limit. Here the pipeline is cut into segments, each a nest
    of bounded depth, and a driver (a trampoline) pulls them in turn: when segment
    ``k`` needs input, its ``_Link`` yields a ``_Want`` up to the driver, which
    advances segment ``k - 1`` from its own frame and sends the item back down. The
    stack depth is one segment's, whatever the length.

    Everything else is as nested generators: pull-based (a segment runs only when the
    next one asks, so backpressure holds), one task (context variables, cancellation
    and errors reach the suspended step as they would through ``await``), and
    ``aclose`` closes every segment, the last first, as the nest would.

    A segment's input may be read from another task (a parallel step's branches read
    a tee in their own tasks); there no driver of this chain is running, so the read
    drives the earlier segments itself (``_active`` tells the two cases apart: it is
    set only while a driver of this chain is running, synchronously, on this stack).
    """

    __slots__ = ("_active", "_closing", "_segments")

    def __init__(
        self,
        inputs: AsyncIterator[Any],
        builders: Sequence[Callable[[AsyncIterator[Any]], AsyncIterator[Any]]],
    ) -> None:
        self._active = False
        self._closing = False
        segments = [builders[0](inputs)]
        for k in range(1, len(builders)):
            segments.append(builders[k](_Link(self, k - 1)))
        self._segments = segments

    def __aiter__(self) -> Segmented:
        return self

    def __anext__(self) -> Any:
        return self._pull(len(self._segments) - 1)

    @types.coroutine
    def _pull(self, k: int) -> Generator[Any, Any, Any]:
        """The next item of segment ``k``."""
        if self._closing:
            # A step's cleanup that reads its input once the pipeline is closing: the
            # earlier segments are closed or about to be, so there is nothing more.
            raise StopAsyncIteration
        if self._active:
            return (yield _Want(self, k))
        return (yield from self._drive(k))

    def _drive(self, k: int) -> Generator[Any, Any, Any]:
        segments = self._segments
        stack: list[Any] = [segments[k].__anext__()]
        value: Any = None
        error: BaseException | None = None
        while True:
            step = stack[-1]
            active = self._active
            self._active = True
            try:
                if error is not None:
                    thrown, error = error, None
                    yielded = step.throw(thrown)
                else:
                    yielded = step.send(value)
            except StopIteration as stop:  # the segment produced an item
                stack.pop()
                if not stack:
                    return stop.value
                value = stop.value
                continue
            except BaseException as exc:  # it ended or failed: the next one sees it
                stack.pop()
                if not stack:
                    raise
                error = exc
                continue
            finally:
                self._active = active
            if type(yielded) is _Want and yielded.chain is self:
                stack.append(segments[yielded.k].__anext__())
                value = None
                continue
            # A real suspension (a future, or another chain's _Want): pass it up, and
            # what comes back down to the step that made it.
            try:
                value = yield yielded
            except GeneratorExit:
                for pending in reversed(stack):
                    pending.close()
                raise
            except BaseException as exc:
                error = exc

    async def aclose(self) -> None:
        """Close every segment, the last first; the first error is raised at the end."""
        self._closing = True
        first: BaseException | None = None
        for segment in reversed(self._segments):
            try:
                await aclose(segment)
            except BaseException as exc:
                if first is None:
                    first = exc
        if first is not None:
            raise first
