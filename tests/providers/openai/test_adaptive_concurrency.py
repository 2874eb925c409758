"""AIMD concurrency per endpoint, and waiting for it without holding an engine slot."""

from __future__ import annotations

import asyncio

import pytest

from runnables.core.limiter import HOLDING, Limiter
from runnables.providers.openai.concurrency import AdaptiveConcurrency, wait_without_slot


async def test_a_burst_of_429s_halves_the_limit_once() -> None:
    limit = AdaptiveConcurrency(8)
    epochs = [await limit.acquire() for _ in range(8)]
    for epoch in epochs:
        limit.release(epoch, rate_limited=True)
    assert limit.limit == 4
    assert limit.in_flight == 0


async def test_the_limit_grows_back_by_one_per_grow_after_successes() -> None:
    limit = AdaptiveConcurrency(8, grow_after=3)
    epoch = await limit.acquire()
    limit.release(epoch, rate_limited=True)  # one in flight: halves to the minimum
    assert limit.limit == 1
    for _ in range(6):
        limit.release(await limit.acquire())
    assert limit.limit == 3


async def test_waiters_are_admitted_only_up_to_the_limit() -> None:
    limit = AdaptiveConcurrency(2)
    a, b = await limit.acquire(), await limit.acquire()
    third = asyncio.ensure_future(limit.acquire())
    await asyncio.sleep(0)
    assert not third.done()
    limit.release(a)
    assert await asyncio.wait_for(third, 5) == 0
    limit.release(b)
    limit.release(0)
    assert limit.in_flight == 0


async def test_a_cancelled_waiter_does_not_take_a_permit() -> None:
    limit = AdaptiveConcurrency(1)
    held = await limit.acquire()
    waiter = asyncio.ensure_future(limit.acquire())
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    limit.release(held)
    assert limit.in_flight == 0
    assert limit.try_acquire() is not None


def test_bad_bounds_are_rejected_with_the_values() -> None:
    with pytest.raises(ValueError, match="min_limit=3, max_limit=2"):
        AdaptiveConcurrency(2, min_limit=3)


async def test_waiting_gives_the_engine_slot_to_others_and_takes_it_back() -> None:
    engine = Limiter(1)
    await engine.acquire()
    HOLDING.set(engine)
    gate = asyncio.Event()
    other_ran = asyncio.Event()

    async def other_leaf() -> None:
        await engine.acquire()  # only possible while the waiter has lent its slot
        other_ran.set()
        engine.release()
        gate.set()

    task = asyncio.ensure_future(other_leaf())
    await asyncio.wait_for(wait_without_slot(gate.wait), 5)
    await task
    assert other_ran.is_set()
    assert engine.in_use == 1  # the waiter holds its slot again
    engine.release()
    assert engine.in_use == 0


async def test_cancelled_wait_still_leaves_the_slot_count_balanced() -> None:
    engine = Limiter(1)
    await engine.acquire()
    HOLDING.set(engine)
    task = asyncio.ensure_future(wait_without_slot(asyncio.Event().wait))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    engine.release()  # what run_leaf does in its finally
    assert engine.in_use == 0


async def test_raise_max_lifts_an_uncut_limit_and_lets_a_cut_one_grow() -> None:
    uncut = AdaptiveConcurrency(4)
    uncut.raise_max(10)
    assert (uncut.limit, uncut.max_limit) == (10, 10)
    cut = AdaptiveConcurrency(4)
    cut.release(await cut.acquire(), rate_limited=True)
    cut.raise_max(10)
    assert (cut.limit, cut.max_limit) == (1, 10)
    uncut.raise_max(2)  # never lowers the ceiling
    assert uncut.max_limit == 10
