"""A pool of model instances that callers on any event loop wait for without blocking it.

A llama.cpp model instance serves one generation at a time. Callers take an instance
from the pool on their event loop (waiting, without blocking the loop, when all are
busy) and the worker thread that ran the generation gives it back. A ``ChatLocal`` may
be called from several loops (the sync bridge's and the user's), so the pool is guarded
by a thread lock and hands an instance to a waiter on that waiter's own loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from typing import Generic, TypeVar

__all__ = ["InstancePool", "Slot"]

T = TypeVar("T")


class Slot(Generic[T]):
    """One place in the pool: the model instance, loaded on first use (``None`` until then)."""

    __slots__ = ("index", "instance")

    def __init__(self, index: int) -> None:
        self.index = index
        self.instance: T | None = None


class InstancePool(Generic[T]):
    """``size`` slots, each lent to one caller at a time, first come first served."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._free: list[Slot[T]] = []
        self._created = 0
        self._waiters: deque[tuple[asyncio.AbstractEventLoop, asyncio.Future[Slot[T]]]] = deque()

    @property
    def idle(self) -> int:
        """Slots not lent out right now (made or not yet made)."""
        with self._lock:
            return len(self._free) + (self.size - self._created)

    def unload_idle(self) -> list[T]:
        """Empty the idle slots (they load again on next use); returns what they held."""
        with self._lock:
            out = [s.instance for s in self._free if s.instance is not None]
            for s in self._free:
                s.instance = None
        return out

    async def acquire(self) -> Slot[T]:
        """A free slot; waits (without blocking the loop) while every slot is lent out."""
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._free:
                return self._free.pop()
            if self._created < self.size:
                self._created += 1
                return Slot(self._created - 1)
            fut: asyncio.Future[Slot[T]] = loop.create_future()
            self._waiters.append((loop, fut))
        try:
            return await fut
        except asyncio.CancelledError:
            with self._lock:
                try:
                    self._waiters.remove((loop, fut))
                except ValueError:
                    pass  # already handed a slot: _hand_over sees the cancel and returns it
            raise

    def release(self, slot: Slot[T]) -> None:
        """Give ``slot`` back: to the longest waiter if there is one. Any thread may call it."""
        with self._lock:
            while self._waiters:
                loop, fut = self._waiters.popleft()
                try:
                    loop.call_soon_threadsafe(self._hand_over, fut, slot)
                except RuntimeError:
                    continue  # that waiter's loop is closed: it will never take the slot
                return
            self._free.append(slot)

    def _hand_over(self, fut: asyncio.Future[Slot[T]], slot: Slot[T]) -> None:
        # Runs on the waiter's loop, so the future cannot be cancelled under our feet.
        if fut.done():
            self.release(slot)
        else:
            fut.set_result(slot)
