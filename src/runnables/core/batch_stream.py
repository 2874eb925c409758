"""``abatch_stream``: a batch over an iterable of any length, in bounded memory.

``abatch`` and ``abatch_as_completed`` take a list and start every input at once (the
budget then decides which run). That is right for a few thousand inputs and wrong for a
file of millions: every input, pending coroutine and output sits in memory until the
end. Here a fixed pool of workers, as many as the budget (the *window*), shares a
counter of window places: a worker takes a place before it reads the next input, and
the place comes back only once the consumer has taken that input's result. So at most
``window`` inputs are read and not yet consumed at any moment, input is read lazily, and
a slow consumer stops the reading (backpressure) instead of piling results up.

:func:`batch_stream_chunks` is the form the file batch jobs use: it yields every result
ready at once as one list and leaves giving the places back to its caller, who does so
only once the results are safely written. That bounds what a crash can lose to one
window of rows.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from runnables.core.base import invoke_root
from runnables.core.config import Context
from runnables.core.leaf import (
    LeafHooks,
    call,
    lend_slot,
    mark_worker,
    plain_leaf,
    reclaim_slot,
    run_marked_leaf,
    run_plain_leaf,
    run_returned,
    unmark_worker,
)
from runnables.core.limiter import Limiter
from runnables.core.tasks import TaskGroup
from runnables.errors import ConfigError

if TYPE_CHECKING:
    from runnables.core.base import Runnable

__all__ = ["DEFAULT_WINDOW", "batch_stream_chunks", "batch_stream_root"]

#: Inputs in flight when the config sets no ``max_concurrency``: memory must be bounded
#: even then, and this is large enough that an I/O-bound step is not the bottleneck.
DEFAULT_WINDOW = 256

_DONE = -1  # a worker found the input exhausted
_FAILED = -2  # reading the input raised; the exception follows
_END = object()


def window_of(ctx: Context) -> int:
    """How many inputs a streamed batch holds at once under ``ctx``."""
    return ctx.limiter.limit if ctx.limiter is not None else DEFAULT_WINDOW


async def batch_stream_root(
    step: Runnable[Any, Any],
    inputs: Iterable[Any] | AsyncIterable[Any],
    ctx: Context,
) -> AsyncIterator[tuple[int, Any]]:
    """Yield ``(index, output_or_exception)`` as inputs finish; see ``Runnable.abatch_stream``."""
    places = Limiter(window_of(ctx))
    chunks = batch_stream_chunks(step, inputs, ctx, places)
    try:
        async for chunk in chunks:
            for pair in chunk:
                places.release()  # the consumer has this one now
                yield pair
    finally:
        await chunks.aclose()


async def batch_stream_chunks(
    step: Runnable[Any, Any],
    inputs: Iterable[Any] | AsyncIterable[Any],
    ctx: Context,
    places: Limiter,
) -> AsyncGenerator[list[tuple[int, Any]], None]:
    """Yield lists of ``(index, output_or_exception)``: all the results ready at once.

    A worker takes one of ``places`` before reading an input; the caller gives it back
    (``places.release()``) for each result it has finished with. The window is
    ``window_of(ctx)``; ``places`` should be a ``Limiter`` of that many (FIFO and O(1) a
    hand-over, where ``asyncio.Semaphore`` scans its waiters on every release).
    """
    sync_source: Iterator[Any] | None = None
    async_source: AsyncIterator[Any] | None = None
    if isinstance(inputs, AsyncIterable):
        async_source = aiter(inputs)
    elif isinstance(inputs, Iterable):
        sync_source = iter(inputs)
    else:
        raise ConfigError(
            f"abatch_stream needs an iterable or async iterable of inputs, got "
            f"{type(inputs).__name__} {inputs!r}; pass a list, a generator or an async "
            "generator."
        )
    window = window_of(ctx)
    # An async generator cannot be advanced by two workers at once.
    reading = asyncio.Lock() if async_source is not None else None
    # Results not yet taken by the consumer, and its wake-up when it waits for one.
    # A deque and one future, not an asyncio.Queue: a million rows put and get a
    # million entries, and the Queue's Python-level bookkeeping was a tenth of a
    # row's cost. Unbounded in type, bounded in fact: an entry holds a place until
    # consumed.
    finished: deque[tuple[int, Any]] = deque()
    wake: list[asyncio.Future[None] | None] = [None]
    counter = 0
    # invoke_root adds the deadline; without one the plain call is enough, and for an
    # async function under the budget, its plain function in one frame (W17: a row
    # is little more than its step, so each frame and check is a few per cent).
    run = invoke_root if ctx.deadline is not None else call
    fn = plain_leaf(step, ctx) if ctx.deadline is None else None
    marked = fn is not None and sync_source is not None

    def put(entry: tuple[int, Any]) -> None:
        finished.append(entry)
        waiter = wake[0]
        if waiter is not None:
            wake[0] = None
            if not waiter.done():
                waiter.set_result(None)

    async def next_async() -> Any:
        assert async_source is not None and reading is not None
        async with reading:
            return await anext(async_source, _END)

    async def worker() -> None:
        nonlocal counter
        # A worker running a plain async function over a sync iterable is marked once
        # as running the leaves (mark_worker), and reads its inputs in a copy of its
        # context from before: code the iterable runs never sees the marks.
        reads = contextvars.copy_context() if marked else None
        while True:
            # The plain reads and the free place stay synchronous: a coroutine a row
            # less (this loop runs once a row).
            if not places.try_acquire():
                await places.acquire()
            try:
                if reads is not None:
                    assert sync_source is not None
                    item = reads.run(next, sync_source, _END)
                elif sync_source is not None:
                    item = next(sync_source, _END)
                else:
                    item = await next_async()
            except Exception as exc:
                put((_FAILED, exc))
                return
            if item is _END:
                places.release()
                put((_DONE, None))
                return
            index = counter
            counter += 1
            try:
                if fn is not None:
                    if reads is not None:
                        mark_worker(ctx)
                        out: Any = await run_marked_leaf(step, ctx, fn, item)
                    else:  # an async iterable's code runs in this task: marks per input
                        out = await run_plain_leaf(step, ctx, fn, item)
                    if isinstance(out, LeafHooks):  # a runnable: the function runs it
                        if reads is not None:
                            unmark_worker(reads)  # as after a leaf; the next one marks
                        out = await run_returned(step, out, item, ctx)  # type: ignore[arg-type]
                else:
                    out = await run(step, item, ctx)
            except Exception as exc:
                out = exc
            del item  # not kept alive while the result waits for the consumer
            put((index, out))

    # Lend the caller's slot once, before the workers copy HOLDING (see batch_root).
    lent = lend_slot(ctx)
    try:
        async with TaskGroup() as group:
            for _ in range(window):
                group.start(worker())
            running = window
            loop = asyncio.get_running_loop()
            while running:
                if not finished:
                    waiter = wake[0] = loop.create_future()
                    await waiter
                chunk: list[tuple[int, Any]] = []
                while finished:
                    entry = finished.popleft()
                    index, out = entry
                    if index >= 0:
                        chunk.append(entry)
                    elif index == _DONE:
                        running -= 1
                    else:
                        raise out
                if chunk:
                    yield chunk
    finally:
        if lent is not None:
            await reclaim_slot(lent)
