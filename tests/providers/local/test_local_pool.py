"""The instance pool: lent one caller at a time, waited for without blocking, from any loop."""

from __future__ import annotations

import asyncio
import threading

from runnables.providers.local.pool import InstancePool, Slot


async def test_acquire_makes_up_to_size_slots_then_reuses_released_ones() -> None:
    pool: InstancePool[str] = InstancePool(2)

    a = await pool.acquire()
    b = await pool.acquire()
    assert {a.index, b.index} == {0, 1}
    assert pool.idle == 0
    pool.release(a)
    assert await pool.acquire() is a


async def test_waiters_get_released_slots_in_arrival_order_without_blocking_the_loop() -> None:
    pool: InstancePool[str] = InstancePool(1)
    slot = await pool.acquire()
    order: list[str] = []

    async def take(name: str) -> None:
        got = await pool.acquire()
        order.append(name)
        pool.release(got)

    tasks = [asyncio.create_task(take(n)) for n in ("first", "second", "third")]
    await asyncio.sleep(0)  # all three are now waiting; the loop is free meanwhile
    assert order == []
    # Released from another thread, as the worker thread does after a generation.
    threading.Thread(target=pool.release, args=(slot,)).start()
    await asyncio.gather(*tasks)

    assert order == ["first", "second", "third"]
    assert pool.idle == 1


async def test_a_waiter_cancelled_before_its_turn_does_not_lose_the_slot() -> None:
    pool: InstancePool[str] = InstancePool(1)
    slot = await pool.acquire()
    waiting = asyncio.create_task(pool.acquire())
    await asyncio.sleep(0)
    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)

    pool.release(slot)

    assert pool.idle == 1
    assert await pool.acquire() is slot


async def test_a_waiter_cancelled_after_the_slot_was_handed_to_it_passes_it_on() -> None:
    pool: InstancePool[str] = InstancePool(1)
    slot = await pool.acquire()
    waiting = asyncio.create_task(pool.acquire())
    await asyncio.sleep(0)
    pool.release(slot)  # the hand-over is now scheduled on the loop...
    waiting.cancel()  # ...and the waiter is cancelled before it runs
    await asyncio.gather(waiting, return_exceptions=True)
    await asyncio.sleep(0)

    assert waiting.cancelled()
    assert pool.idle == 1


def test_callers_on_two_event_loops_share_one_slot() -> None:
    pool: InstancePool[str] = InstancePool(1)
    held: list[Slot[str]] = []
    taken = threading.Event()

    async def hold() -> None:
        held.append(await pool.acquire())
        taken.set()

    asyncio.run(hold())
    got: list[Slot[str]] = []

    def other_loop() -> None:
        async def wait() -> None:
            got.append(await pool.acquire())

        asyncio.run(wait())

    thread = threading.Thread(target=other_loop)
    thread.start()
    taken.wait()
    pool.release(held[0])
    thread.join(timeout=10)

    assert got == held


def test_unload_idle_empties_only_the_slots_not_lent_out() -> None:
    pool: InstancePool[str] = InstancePool(2)

    async def take_two() -> tuple[Slot[str], Slot[str]]:
        return await pool.acquire(), await pool.acquire()

    a, b = asyncio.run(take_two())
    a.instance, b.instance = "model a", "model b"
    pool.release(a)

    assert pool.unload_idle() == ["model a"]
    assert a.instance is None and b.instance == "model b"
