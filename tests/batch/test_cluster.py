"""The ClusterBudget's actor logic, run in-process (no Ray needed): leases, TTL, fairness,
the request schedule. tests/batch/test_ray.py checks the same across real workers."""

from __future__ import annotations

import asyncio
import time

from runnables.batch.cluster import _BudgetActor


def budget(slots: int = 8, rps: float | None = None, ttl: float = 30.0) -> _BudgetActor:
    return _BudgetActor(slots, rps, None, 0.0, ttl)


async def test_leases_never_exceed_max_concurrency_and_a_waiter_gets_returned_slots() -> None:
    actor = budget(8)
    assert await actor.lease_slots("a", 5) == 5
    assert await actor.lease_slots("b", 5) == 3  # only three left
    waiting = asyncio.ensure_future(actor.lease_slots("b", 2))
    await asyncio.sleep(0)
    assert not waiting.done()
    actor.return_slots("a", 2)
    assert await waiting == 2
    assert actor.stats()["leased"] == 8 and actor.stats()["peak_leased"] == 8


async def test_a_silent_workers_slots_come_back_after_the_ttl() -> None:
    actor = budget(4, ttl=0.2)
    assert await actor.lease_slots("dead", 4) == 4
    started = time.monotonic()
    # "live" waits; "dead" never renews nor returns: its lease expires.
    assert await asyncio.wait_for(actor.lease_slots("live", 4), 10) == 4
    assert time.monotonic() - started >= 0.2
    stats = actor.stats()
    assert stats["expired"] == 4 and stats["leased"] == 4 and stats["clients"] == 1


async def test_renewing_keeps_a_lease_alive_past_the_ttl() -> None:
    actor = budget(2, ttl=0.2)
    assert await actor.lease_slots("a", 2) == 2
    for _ in range(5):
        await asyncio.sleep(0.1)
        assert actor.renew("a") == 2  # no one waits: keep them all
    assert actor.stats()["expired"] == 0


async def test_a_waiting_worker_gets_its_fair_share_not_all_that_comes_back() -> None:
    actor = budget(8)
    assert await actor.lease_slots("a", 8) == 8
    b = asyncio.ensure_future(actor.lease_slots("b", 8))
    await asyncio.sleep(0)
    assert actor.renew("a") == 4  # b waits: a is told to keep its share of 8 / 2
    a_again = asyncio.ensure_future(actor.lease_slots("a", 8))  # a wants more too
    await asyncio.sleep(0)
    actor.return_slots("a", 6)  # a gives back down below its share
    assert await b == 4  # b is capped at its share, and goes first (a is above its own)
    assert await a_again == 2  # the rest goes to a, now below its share
    assert actor.held("a") == 4 and actor.held("b") == 4


async def test_expired_lease_renew_says_so() -> None:
    actor = budget(2, ttl=0.1)
    await actor.lease_slots("a", 1)
    await actor.lease_slots("b", 1)
    waiting = asyncio.ensure_future(actor.lease_slots("c", 1))
    await asyncio.wait_for(waiting, 10)  # needs a or b to expire
    assert actor.renew("a") == -1 or actor.renew("b") == -1


def test_request_leases_are_consecutive_runs_on_one_schedule() -> None:
    actor = budget(1, rps=1000)
    first, spacing = actor.lease_requests(100)
    second, _ = actor.lease_requests(50)
    assert spacing == 1 / 1000
    assert abs(second - (first + 100 * spacing)) < 1e-9  # no overlap, no gap
    third, _ = actor.lease_requests(1)
    assert third >= second + 50 * spacing - 1e-9
