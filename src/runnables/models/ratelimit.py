"""A rate limiter shared by model calls: requests per minute and tokens per minute.

Each limit is a bucket that refills continuously. A request *reserves* its share at
once: it takes one request and its estimated tokens from the buckets (which may go
below zero), and the time it must wait is computed from how far below zero they went.
So there is no polling (the waiter sleeps exactly as long as needed), requests are
served first come first served, and a burst of callers queue at the right spacing.

A waiter that is cancelled gives its share back, and the callers queued after it have
their waits shortened at once by that share (they are woken and sleep the rest).

When the response reports its real token usage, :meth:`RateLimiter.correct` settles the
difference with the estimate: a response that used more tokens than estimated delays
later requests, one that used fewer frees budget for them.

A model waits for the limiter *before* taking a ``max_concurrency`` slot, so callers
waiting for their turn never block calls that could run.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

from runnables.errors import ConfigError

__all__ = ["InMemoryRateLimiter", "RateLimiter", "Reservation", "estimate_tokens"]

#: The cancel message that wakes a queued waiter early (see ``RateLimiter._wait``).
_WAKE = "runnables-ratelimit-wake"


def estimate_tokens(text_length: int) -> int:
    """A rough token count for ``text_length`` characters (four characters a token)."""
    return max(1, math.ceil(text_length / 4))


class Reservation:
    """One request's claim on the limiter (returned by :meth:`RateLimiter.aacquire`)."""

    __slots__ = ("ready_requests", "ready_tokens", "seq", "settled", "taken", "tokens", "wake")

    def __init__(self, tokens: int, taken: float | None = None) -> None:
        #: The tokens the request asked for.
        self.tokens = tokens
        #: The tokens actually taken from the bucket (at most its capacity): what a
        #: correction or a cancellation settles against.
        self.taken = float(tokens) if taken is None else taken
        self.settled = False
        # While queued: its place, when each bucket lets it go, and how to wake it early.
        self.seq = 0
        self.ready_requests = 0.0
        self.ready_tokens = 0.0
        self.wake: asyncio.Task[Any] | None = None


class _Bucket:
    __slots__ = ("capacity", "level", "rate", "updated")

    def __init__(self, rate_per_second: float, capacity: float, now: float) -> None:
        self.rate = rate_per_second
        self.capacity = capacity
        self.level = capacity
        self.updated = now

    def refill(self, now: float) -> None:
        if now > self.updated:
            self.level = min(self.capacity, self.level + (now - self.updated) * self.rate)
            self.updated = now

    def wait_after_taking(self, amount: float) -> float:
        """Take ``amount`` and say how long until the level is back to zero."""
        self.level -= amount
        return 0.0 if self.level >= 0 else -self.level / self.rate


class RateLimiter:
    """Limit requests and tokens per minute across every call that shares this object.

    >>> limiter = RateLimiter(requests_per_minute=60, tokens_per_minute=40_000)
    >>> # model = SomeChatModel(rate_limiter=limiter)

    ``max_bucket_size`` is how many requests may start back to back before the rate
    applies (1: evenly spaced); ``max_token_bucket`` how many tokens may be spent in a
    burst (default: one minute's worth). ``clock`` and ``sleep`` can be replaced in tests.
    """

    def __init__(
        self,
        *,
        requests_per_minute: float | None = None,
        tokens_per_minute: float | None = None,
        requests_per_second: float | None = None,
        max_bucket_size: float = 1,
        max_token_bucket: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        if requests_per_second is not None:
            if requests_per_minute is not None:
                raise ConfigError(
                    "Pass requests_per_minute or requests_per_second, not both "
                    f"(got {requests_per_minute!r} and {requests_per_second!r})."
                )
            requests_per_minute = requests_per_second * 60
        for label, value in (
            ("requests_per_minute", requests_per_minute),
            ("tokens_per_minute", tokens_per_minute),
        ):
            if value is not None and not value > 0:
                raise ConfigError(f"{label} must be a number above 0 or None, got {value!r}.")
        if requests_per_minute is None and tokens_per_minute is None:
            raise ConfigError(
                "A RateLimiter needs requests_per_minute (or requests_per_second), "
                "tokens_per_minute, or both."
            )
        if not max_bucket_size >= 1:
            raise ConfigError(f"max_bucket_size must be at least 1, got {max_bucket_size!r}.")
        self._clock = clock
        self._sleep = sleep
        now = clock()
        self.requests_per_minute = requests_per_minute
        self.tokens_per_minute = tokens_per_minute
        self._requests = (
            _Bucket(requests_per_minute / 60.0, max_bucket_size, now)
            if requests_per_minute is not None
            else None
        )
        self._tokens = (
            _Bucket(
                tokens_per_minute / 60.0,
                max_token_bucket if max_token_bucket is not None else tokens_per_minute,
                now,
            )
            if tokens_per_minute is not None
            else None
        )
        # Waiting in aacquire, by seq. A cancelled waiter's share is recorded by seq in
        # two prefix-sum trees (seconds each bucket gives back), so a waiter's turn moves
        # forward by the credits of those before it in O(log n), and a storm of cancels
        # costs one wake-up pass per loop iteration, not one per cancel.
        self._queued: dict[int, Reservation] = {}
        self._seq = 0
        self._base = 0  # the seq the trees start after; reset whenever no one waits
        self._credit_requests = _PrefixSums()
        self._credit_tokens = _PrefixSums()
        self._wake_scheduled = False

    def reserve(self, tokens: int = 0) -> tuple[Reservation, float]:
        """Claim one request and ``tokens`` now; return the claim and the seconds to wait."""
        now = self._clock()
        wait_requests = wait_tokens = 0.0
        taken = 0.0
        if self._requests is not None:
            self._requests.refill(now)
            wait_requests = self._requests.wait_after_taking(1)
        if self._tokens is not None:
            self._tokens.refill(now)
            # A request bigger than the whole bucket could never fit; it waits for a full
            # bucket instead of forever.
            taken = min(tokens, self._tokens.capacity)
            wait_tokens = self._tokens.wait_after_taking(taken)
        reservation = Reservation(tokens, taken)
        self._seq += 1
        reservation.seq = self._seq
        reservation.ready_requests = now + wait_requests
        reservation.ready_tokens = now + wait_tokens
        return reservation, max(wait_requests, wait_tokens)

    async def aacquire(self, tokens: int = 0) -> Reservation:
        """Wait until one more request (with about ``tokens`` tokens) fits the limits."""
        reservation, wait = self.reserve(tokens)
        if wait > 0:
            self._queued[reservation.seq] = reservation
            try:
                await self._wait(reservation, wait)
            except BaseException:
                self.cancel(reservation)  # a cancelled waiter gives its share back
                raise
            finally:
                reservation.wake = None
                self._dequeue(reservation)
        return reservation

    async def _wait(self, reservation: Reservation, wait: float) -> None:
        """Sleep ``wait`` seconds, starting again (shorter) when an earlier waiter's
        cancellation moves this one's turn forward.

        The early wake-up cancels this task's sleep with a marker, as ``asyncio.timeout``
        does, so the sleep is awaited directly (no task per wait); a real cancellation
        arriving meanwhile is kept (``uncancel`` leaves it counted) and raised.
        """
        task = asyncio.current_task()
        while wait > 0:
            reservation.wake = task
            try:
                await self._sleep(wait)
                return
            except asyncio.CancelledError as exc:
                if not (exc.args and exc.args[0] == _WAKE) or task is None:
                    raise
                if task.uncancel() > 0:  # cancelled for real as well
                    raise
            wait = self._ready(reservation) - self._clock()

    def _ready(self, reservation: Reservation) -> float:
        """When ``reservation`` may go, given the shares given back before it."""
        i = reservation.seq - self._base - 1  # credits of seqs before it
        return max(
            reservation.ready_requests - self._credit_requests.prefix(i),
            reservation.ready_tokens - self._credit_tokens.prefix(i),
        )

    def _dequeue(self, reservation: Reservation) -> None:
        if self._queued.pop(reservation.seq, None) is not None and not self._queued:
            self._base = self._seq  # nobody waits: start the credits afresh
            self._credit_requests = _PrefixSums()
            self._credit_tokens = _PrefixSums()

    def acquire(self, tokens: int = 0) -> Reservation:
        """Blocking version of :meth:`aacquire`, for sync code (sleeps the thread)."""
        reservation, wait = self.reserve(tokens)
        if wait > 0:
            time.sleep(wait)
        return reservation

    def correct(self, reservation: Reservation, actual_tokens: int) -> None:
        """Settle a request's estimate with the tokens its response reports using."""
        if reservation.settled or self._tokens is None:
            return
        reservation.settled = True
        bucket = self._tokens
        bucket.refill(self._clock())
        # Settle against what was taken (not the estimate, which may exceed the bucket),
        # and never above capacity: a refund must not allow a burst past the limit.
        bucket.level = min(bucket.capacity, bucket.level + reservation.taken - actual_tokens)

    def cancel(self, reservation: Reservation) -> None:
        """Give back the share of a request that never ran."""
        if reservation.settled:
            return
        reservation.settled = True
        self._move_up_after(reservation)
        now = self._clock()
        if self._requests is not None:
            self._requests.refill(now)
            self._requests.level = min(self._requests.capacity, self._requests.level + 1)
        if self._tokens is not None:
            self._tokens.refill(now)
            self._tokens.level = min(self._tokens.capacity, self._tokens.level + reservation.taken)

    def _move_up_after(self, gone: Reservation) -> None:
        """Move the callers queued after ``gone`` (which gives its share back) forward,
        and wake the queue once this loop iteration to sleep the rest."""
        if gone.seq not in self._queued:
            return
        i = gone.seq - self._base
        if self._requests is not None:
            self._credit_requests.add(i, 1 / self._requests.rate)
        if self._tokens is not None:
            self._credit_tokens.add(i, gone.taken / self._tokens.rate)
        self._dequeue(gone)
        if self._queued and not self._wake_scheduled:
            self._wake_scheduled = True
            asyncio.get_running_loop().call_soon(self._wake_queue)

    def _wake_queue(self) -> None:
        self._wake_scheduled = False
        for waiter in self._queued.values():
            task = waiter.wake
            if task is not None:
                waiter.wake = None  # one wake-up at a time; _wait sets it again
                task.cancel(_WAKE)

    def __repr__(self) -> str:
        return (
            f"RateLimiter(requests_per_minute={self.requests_per_minute!r}, "
            f"tokens_per_minute={self.tokens_per_minute!r})"
        )


class InMemoryRateLimiter(RateLimiter):
    """langchain-core's name and arguments: a limit in requests per second.

    ``check_every_n_seconds`` is accepted for compatibility and ignored: the limiter
    computes how long to wait instead of polling.
    """

    def __init__(
        self,
        *,
        requests_per_second: float = 1,
        check_every_n_seconds: float = 0.1,
        max_bucket_size: float = 1,
        tokens_per_minute: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        super().__init__(
            requests_per_second=requests_per_second,
            tokens_per_minute=tokens_per_minute,
            max_bucket_size=max_bucket_size,
            clock=clock,
            sleep=sleep,
        )
        self.check_every_n_seconds = check_every_n_seconds


class _PrefixSums:
    """Amounts added at positions 1, 2, ...; sums of positions ``1..i`` (a Fenwick tree,
    doubled in size as positions grow)."""

    __slots__ = ("_points", "_tree")

    def __init__(self) -> None:
        self._points: list[float] = [0.0] * 64
        self._tree: list[float] = [0.0] * 64

    def add(self, i: int, amount: float) -> None:
        if i >= len(self._tree):
            size = len(self._tree)
            while size <= i:
                size *= 2
            self._points.extend([0.0] * (size - len(self._points)))
            tree = [0.0] * size
            for j in range(1, size):  # rebuild in O(size), from the point values
                tree[j] += self._points[j]
                parent = j + (j & -j)
                if parent < size:
                    tree[parent] += tree[j]
            self._tree = tree
        self._points[i] += amount
        tree = self._tree
        while i < len(tree):
            tree[i] += amount
            i += i & -i

    def prefix(self, i: int) -> float:
        tree = self._tree
        i = min(i, len(tree) - 1)
        total = 0.0
        while i > 0:
            total += tree[i]
            i -= i & -i
        return total
