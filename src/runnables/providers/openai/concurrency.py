"""Adaptive concurrency: how many requests may be in flight to one endpoint.

The limit follows AIMD (additive increase, multiplicative decrease), as TCP does for
its window: a 429 halves it, and it grows back by one after every ``grow_after``
successful requests, up to ``max_limit``. Several 429s that answer requests sent under
the same limit count as one signal (the ``epoch`` of a permit), so a burst of 429s
halves the limit once, not once per request.

Waiting for a permit gives the engine's ``max_concurrency`` slot back for the wait
(:func:`runnables.core.leaf.wait_without_slot`): a request held back by the server's
rate limit must not stop other steps of the call from running.
"""

from __future__ import annotations

import asyncio
from collections import deque

from runnables.core.leaf import wait_without_slot  # the leaf scope's; exported here too
from runnables.errors import InvalidArgumentError

__all__ = ["AdaptiveConcurrency", "wait_without_slot"]


class AdaptiveConcurrency:
    """An AIMD limit on in-flight requests to one endpoint.

    ``acquire()`` returns a permit (the epoch it was granted in); give it back with
    ``release(epoch, rate_limited=...)``. ``limit`` starts at ``max_limit``.
    """

    __slots__ = (
        "_waiters",
        "epoch",
        "grow_after",
        "in_flight",
        "limit",
        "max_limit",
        "min_limit",
        "successes",
    )

    def __init__(self, max_limit: int = 256, *, min_limit: int = 1, grow_after: int = 8) -> None:
        if min_limit < 1 or max_limit < min_limit:
            raise InvalidArgumentError(
                f"AdaptiveConcurrency needs 1 <= min_limit <= max_limit, got "
                f"min_limit={min_limit!r}, max_limit={max_limit!r}."
            )
        if grow_after < 1:
            raise InvalidArgumentError(f"grow_after must be at least 1, got {grow_after!r}.")
        self.max_limit = max_limit
        self.min_limit = min_limit
        self.grow_after = grow_after
        self.limit = max_limit
        self.in_flight = 0
        self.successes = 0
        self.epoch = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    def try_acquire(self) -> int | None:
        """A permit if one is free now (its epoch), else ``None``."""
        if self.in_flight < self.limit and not self._waiters:
            self.in_flight += 1
            return self.epoch
        return None

    async def acquire(self) -> int:
        """Wait for a permit, first come first served; returns its epoch."""
        got = self.try_acquire()
        if got is not None:
            return got
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        try:
            await fut  # _wake hands a permit over by resolving the future
        except BaseException:
            if fut.done() and not fut.cancelled():
                self.in_flight -= 1  # the permit arrived as we were cancelled: pass it on
                self._wake()
            raise
        return self.epoch

    def release(self, epoch: int, *, rate_limited: bool = False, ok: bool = True) -> None:
        """Give a permit back. ``rate_limited``: the server answered 429."""
        if rate_limited:
            if epoch == self.epoch:
                # Halve from what was really in flight: a limit far above the real load
                # would otherwise take many 429s to come down.
                self.limit = max(self.min_limit, min(self.limit, self.in_flight) // 2)
                self.epoch += 1
                self.successes = 0
        elif ok and self.limit < self.max_limit:
            self.successes += 1
            if self.successes >= self.grow_after:
                self.successes = 0
                self.limit += 1
        self.in_flight -= 1
        self._wake()

    def raise_max(self, max_limit: int) -> None:
        """Let the limit grow to ``max_limit`` if that is above the current ceiling.

        A limit still at its ceiling (never cut by a 429) moves up with it; one that was
        cut keeps growing back one step at a time, as before.
        """
        if max_limit > self.max_limit:
            if self.limit == self.max_limit:
                self.limit = max_limit
            self.max_limit = max_limit
            self._wake()

    def _wake(self) -> None:
        waiters = self._waiters
        while waiters and self.in_flight < self.limit:
            fut = waiters.popleft()
            if not fut.done():
                self.in_flight += 1
                fut.set_result(None)

    def __repr__(self) -> str:
        return (
            f"AdaptiveConcurrency(limit={self.limit}, in_flight={self.in_flight}, "
            f"waiting={len(self._waiters)})"
        )
