"""``ClusterBudget``: one concurrency and rate budget for every worker of a Ray cluster.

A budget is a Ray actor that owns the cluster's numbers: ``max_concurrency`` slots,
requests per minute and tokens per minute. Workers never ask it once a request (one
actor call per request caps a cluster at about 900 requests a second); each worker
process keeps a local client that takes them in *leases*:

- **Slots**: a worker leases up to ``lease_size`` slots at a time and hands them to its
  own steps locally; it gives back what it does not use. Across the cluster the slots
  on lease never exceed ``max_concurrency``, so neither do the requests in flight. The
  client renews its leases every third of ``lease_ttl``; a worker that dies stops
  renewing, and its slots return to the budget after ``lease_ttl`` seconds.
- **Requests**: the budget keeps one schedule for the cluster, one request every
  ``1/rate`` seconds, and leases a worker a run of consecutive times on it. A worker
  sends each request at its time, and drops a time it missed by more than the grace
  (``max(1/rate, 15 ms)``) rather than send late and bunch up; so any window of ``w``
  seconds holds at most ``rate * (w + grace) + 1`` requests, whatever the workers do.
- **Tokens**: a bucket refilled at ``tokens_per_minute / 60`` a second (burst:
  ``max_token_bucket``, default five seconds' worth); a worker takes tokens in blocks
  and spends its estimates from the block, and a response's real usage is settled in
  the block (an overrun is taken from the next one).

The clients plug into the engine's two interfaces: :meth:`ClusterBudget.slots` is a
:class:`~runnables.core.limiter.Limiter` (the parent of a worker's own budget, so every
leaf step takes a cluster slot) and :meth:`ClusterBudget.rate_limiter` a
:class:`~runnables.models.ratelimit.RateLimiter` (a model's ``rate_limiter``)::

    budget = ClusterBudget(max_concurrency=256, requests_per_minute=120_000)
    model = ChatOpenAI(model="gpt-4o-mini", rate_limiter=budget.rate_limiter())
    run_batch_sync(prompt | model, "in.jsonl", "out.jsonl", engine="ray", budget=budget)

Both are picklable: a copy sent to a worker finds that process's client for the budget.
Clocks: schedule times are wall-clock (``time.time()``), which the machines of a cluster
keep in step with NTP; a skew between machines loosens the request bound by that skew.
"""

from __future__ import annotations

import asyncio
import gc
import math
import os
import time
import uuid
from collections import deque
from typing import Any

from runnables.core.limiter import Limiter
from runnables.errors import ConfigError, MissingExtraError
from runnables.models.ratelimit import RateLimiter, Reservation

__all__ = ["ClusterBudget", "ClusterRateLimiter", "LeasedSlots", "import_ray", "settle_collector"]

#: A worker asks for requests this many seconds ahead at most: more is fewer actor
#: calls, less is fewer schedule times wasted when a worker stops needing them.
_REQUEST_HORIZON = 0.1
#: Tokens are taken in blocks of this many seconds of the token rate (or the request's
#: estimate, if larger).
_TOKEN_BLOCK = 0.1


def import_ray(feature: str) -> Any:
    """``ray``, or the exact install command when the extra is missing."""
    try:
        import ray
    except ImportError:
        raise MissingExtraError(feature, "ray", "ray") from None
    return ray


def settle_collector() -> None:
    """Tune the garbage collector of a process that serves one job (a Ray actor).

    The objects alive at start-up (Ray's and the library's, ~90,000 in a worker) are
    frozen, so a full collection no longer traverses them; and the youngest generation
    is collected every 50,000 new objects rather than 700 (see ``run_batch``). A full
    collection of such a worker took 85-97 ms here: a worker that stalls longer than
    the grace (15 ms at 2,000 requests/s) loses its request times for that long, about
    150 of a 2,000/s budget at each stall.
    """
    gc.freeze()
    young, middle, old = gc.get_threshold()
    if 0 < young < 50_000:
        gc.set_threshold(50_000, middle, old)


class _BudgetActor:
    """The state behind a :class:`ClusterBudget` (runs as one async Ray actor)."""

    def __init__(
        self,
        max_concurrency: int | None,
        requests_per_second: float | None,
        tokens_per_second: float | None,
        token_burst: float,
        lease_ttl: float,
    ) -> None:
        self.max_concurrency = max_concurrency
        self.free = max_concurrency if max_concurrency is not None else 0
        # client id -> [slots held, expiry time (monotonic)]
        self.leases: dict[str, list[float]] = {}
        self.waiting: dict[str, int] = {}  # client id -> its calls waiting in lease_slots
        self.lease_ttl = lease_ttl
        self.changed: asyncio.Event | None = None
        self.reaper: asyncio.Task[None] | None = None
        self.interval = 1.0 / requests_per_second if requests_per_second else 0.0
        self.next_request = 0.0
        self.token_rate = tokens_per_second or 0.0
        self.token_capacity = token_burst
        self.token_level = token_burst
        self.token_updated = time.time()
        self.calls = 0
        self.expired = 0
        self.peak_leased = 0

    def _event(self) -> asyncio.Event:
        if self.changed is None:
            self.changed = asyncio.Event()
            self.reaper = asyncio.get_running_loop().create_task(self._reap())
        return self.changed

    async def _reap(self) -> None:
        # A dead worker cannot give its slots back: take them when its lease runs out.
        while True:
            await asyncio.sleep(self.lease_ttl / 4)
            now = time.monotonic()
            for client, (held, expiry) in list(self.leases.items()):
                if expiry < now:
                    del self.leases[client]
                    self.free += int(held)
                    self.expired += int(held)
                    self._event().set()

    async def lease_slots(self, client: str, want: int) -> int:
        """Wait until a slot is free, then lease ``client`` up to ``want`` of them.

        While other workers below their fair share (``max_concurrency`` over the workers
        holding or asking) wait too, a worker gets at most up to its own fair share.
        """
        self.calls += 1
        changed = self._event()
        self.waiting[client] = self.waiting.get(client, 0) + 1
        try:
            while True:
                if self.free > 0:
                    fair = self.fair_share()
                    mine = self.held(client)
                    hungry = any(
                        self.held(other) < fair for other in self.waiting if other != client
                    )
                    if mine < fair or not hungry:
                        cap = fair - mine if hungry else want
                        granted = min(want, self.free, max(1, cap))
                        break
                changed.clear()
                await changed.wait()
        finally:
            self.waiting[client] -= 1
            if not self.waiting[client]:
                del self.waiting[client]
        self.free -= granted
        lease = self.leases.setdefault(client, [0, 0.0])
        lease[0] += granted
        lease[1] = time.monotonic() + self.lease_ttl
        self.peak_leased = max(self.peak_leased, self.leased())
        if self.free > 0:
            changed.set()  # the other waiters look again
        return granted

    def held(self, client: str) -> int:
        lease = self.leases.get(client)
        return int(lease[0]) if lease is not None else 0

    def fair_share(self) -> int:
        """Each worker's share when workers wait: the slots over the workers in play."""
        total = self.max_concurrency or 0
        return max(1, total // max(1, len(self.leases.keys() | self.waiting.keys())))

    def return_slots(self, client: str, count: int) -> None:
        """Give back ``count`` of the slots ``client`` holds."""
        self.calls += 1
        lease = self.leases.get(client)
        if lease is None:
            return  # expired meanwhile: its slots are already back
        count = min(count, int(lease[0]))
        lease[0] -= count
        lease[1] = time.monotonic() + self.lease_ttl
        if lease[0] <= 0:
            del self.leases[client]
        self.free += count
        self._event().set()

    def renew(self, client: str) -> int:
        """Extend ``client``'s lease; answer how many slots it may keep (its fair share
        while other workers wait, else all), or -1 if its lease had expired (its slots
        were taken back)."""
        self.calls += 1
        lease = self.leases.get(client)
        if lease is None:
            return -1
        lease[1] = time.monotonic() + self.lease_ttl
        if any(other != client for other in self.waiting):
            return self.fair_share()
        return self.max_concurrency or 0

    def lease_requests(self, count: int) -> tuple[float, float]:
        """``count`` consecutive times on the cluster's request schedule: the first time
        (wall clock) and the spacing."""
        self.calls += 1
        start = max(time.time(), self.next_request)
        self.next_request = start + count * self.interval
        return start, self.interval

    def lease_tokens(self, amount: float) -> float:
        """Take ``amount`` tokens; the wall-clock time at which they may be spent."""
        self.calls += 1
        now = time.time()
        self.token_level = min(
            self.token_capacity, self.token_level + (now - self.token_updated) * self.token_rate
        )
        self.token_updated = now
        amount = min(amount, self.token_capacity)  # larger could never fit
        self.token_level -= amount
        return now if self.token_level >= 0 else now - self.token_level / self.token_rate

    def leased(self) -> int:
        return int(sum(held for held, _ in self.leases.values()))

    def stats(self) -> dict[str, Any]:
        """Slots leased and free, leases expired, and actor calls so far."""
        return {
            "max_concurrency": self.max_concurrency,
            "leased": self.leased(),
            "free": self.free,
            "peak_leased": self.peak_leased,
            "expired": self.expired,
            "clients": len(self.leases),
            "calls": self.calls,
        }


_ACTOR_CLASS: Any = None


class _RemoteBudgetActor(_BudgetActor):
    """The budget as its own Ray actor process (a lease reply late by a stall of its
    collector can leave a gap in the schedule that no worker holds)."""

    def __init__(self, *args: Any) -> None:
        settle_collector()
        super().__init__(*args)


def _actor_class() -> Any:
    global _ACTOR_CLASS
    if _ACTOR_CLASS is None:
        ray = import_ray("ClusterBudget")
        _ACTOR_CLASS = ray.remote(_RemoteBudgetActor)
    return _ACTOR_CLASS


class ClusterBudget:
    """One concurrency and rate budget shared by every worker of a Ray cluster.

    ``max_concurrency``: steps in flight across the cluster (None: no limit);
    ``requests_per_minute`` (or ``requests_per_second``) and ``tokens_per_minute``: the
    rates, held across the cluster. ``lease_size``: the most slots a worker takes in one
    actor call; ``lease_ttl``: seconds after which a silent worker's slots come back.
    Needs Ray connected (``ray.init``) and the ``ray`` extra. See the module docstring.
    """

    def __init__(
        self,
        *,
        max_concurrency: int | None = None,
        requests_per_minute: float | None = None,
        requests_per_second: float | None = None,
        tokens_per_minute: float | None = None,
        max_token_bucket: float | None = None,
        lease_size: int = 32,
        lease_ttl: float = 30.0,
    ) -> None:
        if requests_per_second is not None:
            if requests_per_minute is not None:
                raise ConfigError(
                    "Pass requests_per_minute or requests_per_second, not both "
                    f"(got {requests_per_minute!r} and {requests_per_second!r})."
                )
            requests_per_minute = requests_per_second * 60
        if max_concurrency is not None and (
            not isinstance(max_concurrency, int) or max_concurrency < 1
        ):
            raise ConfigError(
                f"max_concurrency must be a whole number of at least 1 or None, "
                f"got {max_concurrency!r}."
            )
        for label, value in (
            ("requests_per_minute", requests_per_minute),
            ("tokens_per_minute", tokens_per_minute),
            ("lease_ttl", lease_ttl),
        ):
            if value is not None and not value > 0:
                raise ConfigError(f"{label} must be a number above 0, got {value!r}.")
        if not isinstance(lease_size, int) or lease_size < 1:
            raise ConfigError(
                f"lease_size must be a whole number of at least 1, got {lease_size!r}."
            )
        if max_concurrency is None and requests_per_minute is None and tokens_per_minute is None:
            raise ConfigError(
                "A ClusterBudget needs max_concurrency, requests_per_minute (or "
                "requests_per_second), tokens_per_minute, or some of them."
            )
        self.max_concurrency = max_concurrency
        self.requests_per_minute = requests_per_minute
        self.tokens_per_minute = tokens_per_minute
        self.lease_size = lease_size
        self.lease_ttl = lease_ttl
        token_burst = (
            max_token_bucket
            if max_token_bucket is not None
            else (tokens_per_minute / 12 if tokens_per_minute is not None else 0.0)
        )
        # Many workers may wait in lease_slots at once: let the actor serve them all.
        self.actor = (
            _actor_class()
            .options(num_cpus=0, max_concurrency=10_000)
            .remote(
                max_concurrency,
                requests_per_minute / 60 if requests_per_minute is not None else None,
                tokens_per_minute / 60 if tokens_per_minute is not None else None,
                token_burst,
                lease_ttl,
            )
        )
        self.id = uuid.uuid4().hex

    def slots(self) -> LeasedSlots:
        """This process's leased slots: the parent :class:`Limiter` of a worker's budget.

        Call it inside the event loop that runs the steps (one client a process and loop).
        """
        if self.max_concurrency is None:
            raise ConfigError(
                "This ClusterBudget has no max_concurrency, so it has no slots to lease; "
                "create it with max_concurrency=N."
            )
        return _client(self).slots

    def rate_limiter(self) -> ClusterRateLimiter:
        """A model's ``rate_limiter`` that holds this budget's rates across the cluster."""
        if self.requests_per_minute is None and self.tokens_per_minute is None:
            raise ConfigError(
                "This ClusterBudget has no rate (requests_per_minute or tokens_per_minute), "
                "so it cannot rate-limit a model; create it with one."
            )
        return ClusterRateLimiter(self)

    def stats(self) -> dict[str, Any]:
        """The budget's counters (blocking): slots ``leased`` and ``free`` now,
        ``peak_leased``, slots ``expired`` (taken back from silent workers), ``calls``."""
        ray = import_ray("ClusterBudget")
        result: dict[str, Any] = ray.get(self.actor.stats.remote())
        return result

    def kill(self) -> None:
        """End the budget's actor (its leases with it)."""
        ray = import_ray("ClusterBudget")
        ray.kill(self.actor)

    def __repr__(self) -> str:
        return (
            f"ClusterBudget(max_concurrency={self.max_concurrency!r}, "
            f"requests_per_minute={self.requests_per_minute!r}, "
            f"tokens_per_minute={self.tokens_per_minute!r})"
        )


class _Client:
    """A process's view of one budget: its leased slots, request times and tokens."""

    def __init__(self, budget: ClusterBudget) -> None:
        self.actor = budget.actor
        self.name = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.slots = LeasedSlots(self, budget.max_concurrency or 1, budget.lease_size)
        self.lease_ttl = budget.lease_ttl
        self.heartbeat: asyncio.Task[None] | None = None
        rpm = budget.requests_per_minute
        self.request_rate = rpm / 60 if rpm is not None else None
        self.grace = max(60 / rpm, 0.015) if rpm is not None else 0.0
        # Runs of request times: [next time, times left, spacing].
        self.runs: deque[list[float]] = deque()
        self.request_lease = 1
        self.used = self.skipped = 0  # times used and missed since the last lease
        self.prefetch: asyncio.Task[None] | None = None
        self.requests_fetch: asyncio.Future[None] | None = None
        tpm = budget.tokens_per_minute
        self.token_block = tpm / 60 * _TOKEN_BLOCK if tpm is not None else 0.0
        self.tokens = 0.0  # leased and not yet spent (negative: an overrun to take back)
        self.tokens_from = 0.0  # the wall time the latest block may be spent from
        self.tokens_lock: asyncio.Lock | None = None

    # -- slots --

    def start_heartbeat(self) -> None:
        if self.heartbeat is None or self.heartbeat.done():
            self.heartbeat = asyncio.get_running_loop().create_task(self._renew())

    async def _renew(self) -> None:
        # Often enough to hear of other workers waiting within a second or so.
        interval = min(self.lease_ttl / 3, 1.0)
        slots = self.slots
        while slots.held > 0:
            await asyncio.sleep(interval)
            if slots.held <= 0:
                break
            share: int = await self.actor.renew.remote(self.name)
            if share < 0:
                # Taken back while this process was silent too long: forget them, so
                # the cluster's count holds (steps running now finish over it once).
                slots.held = 0
            else:
                slots.share = share

    # -- requests --

    async def next_request_time(self) -> float:
        """This request's time on the cluster's schedule (not yet passed by the grace)."""
        while True:
            now = time.time()
            while self.runs:
                run = self.runs[0]
                if run[1] <= 0:
                    self.runs.popleft()
                    continue
                late = now - run[0] - self.grace
                if late > 0:  # missed: skip the times that have passed for good
                    skip = min(run[1], math.floor(late / run[2]) + 1 if run[2] else run[1])
                    run[0] += skip * run[2]
                    run[1] -= skip
                    self.skipped += int(skip)
                    continue
                when = run[0]
                run[0] += run[2]
                run[1] -= 1
                self.used += 1
                if self.requests_fetch is None and self._left() * 2 < self.request_lease:
                    # Lease the next run before this one ends: a schedule time nobody
                    # holds when it comes is lost to the cluster.
                    self.prefetch = asyncio.get_running_loop().create_task(self._fetch_requests())
                return when
            await self._fetch_requests()

    def _left(self) -> float:
        return sum(run[1] for run in self.runs)

    async def _fetch_requests(self) -> None:
        if self.requests_fetch is not None:
            # Another request is fetching: wait for it (not its error: then try again).
            await asyncio.wait([self.requests_fetch])
            return
        loop = asyncio.get_running_loop()
        self.requests_fetch = fut = loop.create_future()
        try:
            assert self.request_rate is not None
            # The schedule is shared: a time leased and missed is lost to every worker.
            # So double the lease while every time is used, up to the horizon, and
            # size it to what was used when times were missed (this worker needs
            # fewer than the rate).
            cap = max(1, int(self.request_rate * _REQUEST_HORIZON))
            if self.skipped:
                self.request_lease = max(1, min(cap, self.used + self.used // 4 + 1))
            elif self.used:
                self.request_lease = min(cap, self.request_lease * 2)
            self.used = self.skipped = 0
            start, spacing = await self.actor.lease_requests.remote(self.request_lease)
            self.runs.append([start, float(self.request_lease), spacing])
        finally:
            fut.set_result(None)
            self.requests_fetch = None

    # -- tokens --

    async def take_tokens(self, amount: float) -> float:
        """Take ``amount`` tokens from the local block, leasing more when it runs out,
        and wait until they may be spent; the wall-clock time they may be spent from."""
        if self.tokens_lock is None:
            self.tokens_lock = asyncio.Lock()
        async with self.tokens_lock:
            if self.tokens < amount:
                want = max(amount - self.tokens, self.token_block)
                self.tokens_from = await self.actor.lease_tokens.remote(want)
                self.tokens += want
            self.tokens -= amount
            wait_until = self.tokens_from
        delay = wait_until - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        return wait_until


_CLIENTS: dict[tuple[str, int], _Client] = {}


def _client(budget: ClusterBudget) -> _Client:
    """This process's client for ``budget`` (one an event loop: its futures belong to it)."""
    try:
        loop_id = id(asyncio.get_running_loop())
    except RuntimeError:
        loop_id = 0
    key = (budget.id, loop_id)
    client = _CLIENTS.get(key)
    if client is None:
        client = _CLIENTS[key] = _Client(budget)
    return client


class LeasedSlots(Limiter):
    """Cluster slots this process holds on lease, handed out to its steps.

    A :class:`Limiter` to be the ``parent`` of a worker's own: a step takes one of the
    worker's slots and one of these. When none is free here, one call leases up to
    ``lease_size`` more from the budget (waiting there until some are free); slots idle
    here beyond ``lease_size`` go back.
    """

    __slots__ = ("_client", "_fetching", "_returning", "held", "lease_size", "share")

    def __init__(self, client: _Client, limit: int, lease_size: int) -> None:
        super().__init__(limit)
        self._client = client
        self.lease_size = lease_size
        self.held = 0  # leased from the budget; in_use of them taken by steps here
        self.share = limit  # how many to keep: less while other workers wait for slots
        self._fetching = False
        self._returning = 0  # slots to give back at the end of this loop iteration

    def try_acquire(self) -> bool:
        if self.in_use < self.held and not self._waiters:
            self.in_use += 1
            self.peak = max(self.peak, self.in_use)
            return True
        return False

    async def acquire(self) -> None:
        if self.try_acquire():
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        if not self._fetching:
            self._fetching = True
            asyncio.get_running_loop().create_task(self._fetch())
        try:
            await fut  # _fetch or release hands a slot over; in_use counts it already
        except BaseException:
            if fut.done() and not fut.cancelled():
                self._release_own()
            raise
        self.peak = max(self.peak, self.in_use)

    async def _fetch(self) -> None:
        client = self._client
        try:
            while self._waiters:
                want = max(len(self._waiters), self.lease_size)
                granted: int = await client.actor.lease_slots.remote(client.name, want)
                self.held += granted
                client.start_heartbeat()
                while granted and self._waiters:
                    fut = self._waiters.popleft()
                    if not fut.done():
                        self.in_use += 1
                        fut.set_result(None)
                        granted -= 1
                if granted:
                    self._give_back_idle()
        except BaseException as exc:
            while self._waiters:
                fut = self._waiters.popleft()
                if not fut.done():
                    if isinstance(exc, Exception):
                        fut.set_exception(exc)
                    else:
                        fut.cancel()
            if not isinstance(exc, Exception):
                raise
        finally:
            self._fetching = False

    def release(self) -> None:
        self._release_own()

    def _release_own(self) -> None:
        if self.held > self.share:
            # Other workers wait and this one holds more than its share: the slot goes
            # back to the budget, not to a step waiting here.
            self.in_use -= 1
            self.held -= 1
            self._return_soon(1)
            return
        waiters = self._waiters
        while waiters:
            fut = waiters.popleft()
            if not fut.done():
                fut.set_result(None)  # the slot moves to that waiter
                return
        self.in_use -= 1
        self._give_back_idle()

    def _give_back_idle(self) -> None:
        idle = self.held - self.in_use
        if idle > 2 * self.lease_size:
            # Keep one lease's worth for the next steps; the rest may serve other workers.
            count = idle - self.lease_size
            self.held -= count
            self._return_soon(count)

    def _return_soon(self, count: int) -> None:
        # Slots released in one loop iteration go back in one actor call.
        if not self._returning:
            asyncio.get_running_loop().call_soon(self._return_now)
        self._returning += count

    def _return_now(self) -> None:
        count, self._returning = self._returning, 0
        if count:
            self._client.actor.return_slots.remote(self._client.name, count)

    def give_back_all(self) -> Any:
        """Return every idle slot to the budget (a worker that is done); the actor call."""
        count = self.held - self.in_use
        self.held -= count
        return self._client.actor.return_slots.remote(self._client.name, count)

    def __repr__(self) -> str:
        return f"LeasedSlots(held={self.held}, in_use={self.in_use}, waiting={len(self._waiters)})"


class ClusterRateLimiter(RateLimiter):
    """A :class:`RateLimiter` whose limits are a :class:`ClusterBudget`'s, held across
    every worker of the cluster (see the module docstring). Get one from
    :meth:`ClusterBudget.rate_limiter`."""

    def __init__(self, budget: ClusterBudget) -> None:  # no super(): no local buckets
        self.budget = budget
        self.requests_per_minute = budget.requests_per_minute
        self.tokens_per_minute = budget.tokens_per_minute

    def __reduce__(self) -> tuple[Any, ...]:
        return (ClusterRateLimiter, (self.budget,))

    async def aacquire(self, tokens: int = 0) -> Reservation:
        """Wait until one more request (with about ``tokens`` tokens) fits the cluster's rates.

        As a local limiter's, the reservation's ``ready_requests`` and ``ready_tokens``
        say when the budget let it go: its time on the cluster's request schedule and
        the time its tokens may be spent from (wall clock). A worker that wakes late
        sends late; these times are the budget's own, whatever its process's load.
        """
        client = _client(self.budget)
        reservation = Reservation(tokens)
        if client.token_block and tokens:
            reservation.ready_tokens = await client.take_tokens(tokens)
        if client.request_rate is not None:
            # Tokens first: a request time must not be spent late waiting for tokens.
            while True:
                when = await client.next_request_time()
                delay = when - time.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                if time.time() <= when + client.grace:
                    reservation.ready_requests = when
                    break
        return reservation

    def acquire(self, tokens: int = 0) -> Reservation:
        raise ConfigError(
            "A ClusterRateLimiter works only on the async path (ainvoke, abatch, run_batch); "
            "call the model with ainvoke, or use a RateLimiter for blocking code."
        )

    def correct(self, reservation: Reservation, actual_tokens: int) -> None:
        """Settle the estimate with the real usage in this process's token block."""
        if reservation.settled or not self.budget.tokens_per_minute:
            return
        reservation.settled = True
        _client(self.budget).tokens += reservation.tokens - actual_tokens

    def cancel(self, reservation: Reservation) -> None:
        """Give back the tokens of a request that never ran (its request time is spent)."""
        if reservation.settled or not self.budget.tokens_per_minute:
            return
        reservation.settled = True
        _client(self.budget).tokens += reservation.tokens

    def __repr__(self) -> str:
        return f"ClusterRateLimiter({self.budget!r})"
