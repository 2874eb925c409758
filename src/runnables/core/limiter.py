"""One concurrency budget for a whole call.

``max_concurrency`` limits how many *leaf* steps (user functions, models) do work at
once across everything a call starts: batch inputs, parallel branches, ``.map()``
items, and nested calls made from inside a step. Containers (sequences, parallels,
batches) never hold a slot themselves, so nesting cannot deadlock and the limit is never
multiplied. A leaf that calls other runnables from inside lends its slot to them while
it waits (see ``lend``), so a budget of 1 still makes progress.
"""

from __future__ import annotations

import asyncio
from collections import deque
from contextvars import ContextVar

__all__ = ["Limiter"]

#: The limiter whose slot the running leaf holds, if any.
HOLDING: ContextVar[Limiter | None] = ContextVar("runnables_holding", default=None)


class Limiter:
    """A counting semaphore tuned for the engine: no lock, FIFO, cancellation-safe.

    ``parent`` chains budgets: a nested call with a smaller ``max_concurrency`` takes a
    slot from its own limiter and from the enclosing call's.
    """

    __slots__ = ("_waiters", "in_use", "limit", "parent", "peak")

    def __init__(self, limit: int, parent: Limiter | None = None) -> None:
        self.limit = limit
        self.in_use = 0
        self.peak = 0
        self.parent = parent
        self._waiters: deque[asyncio.Future[None]] = deque()

    def try_acquire(self) -> bool:
        """Take a slot if one is free now, without waiting."""
        if self.in_use < self.limit and not self._waiters:
            if self.parent is not None and not self.parent.try_acquire():
                return False
            self.in_use += 1
            if self.in_use > self.peak:
                self.peak = self.in_use
            return True
        return False

    async def acquire(self) -> None:
        """Wait for a slot, first come first served."""
        if self.in_use < self.limit and not self._waiters:
            self.in_use += 1
        else:
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(fut)
            try:
                await fut  # release() hands its slot over by resolving the future
            except BaseException:
                if fut.done() and not fut.cancelled():
                    self._release_own()  # the slot arrived as we were cancelled: pass it on
                raise
        if self.in_use > self.peak:
            self.peak = self.in_use
        if self.parent is not None:
            try:
                await self.parent.acquire()
            except BaseException:
                self._release_own()
                raise

    def release(self) -> None:
        """Give a slot back, waking the longest waiter."""
        if self.parent is not None:
            self.parent.release()
        self._release_own()

    def _release_own(self) -> None:
        waiters = self._waiters
        while waiters:
            fut = waiters.popleft()
            if not fut.done():
                fut.set_result(None)  # the slot moves to that waiter; in_use is unchanged
                return
        self.in_use -= 1

    def __repr__(self) -> str:
        return f"Limiter(limit={self.limit}, in_use={self.in_use}, waiting={len(self._waiters)})"
