"""astream_events keeps the run a bounded distance ahead of its consumer."""

from __future__ import annotations

from collections.abc import AsyncIterator

from runnables import RunnableGenerator
from runnables.core.events import HIGH_WATER


async def test_a_fast_stream_waits_for_a_slow_event_consumer() -> None:
    produced = 0

    async def source(chunks: AsyncIterator[int]) -> AsyncIterator[int]:
        nonlocal produced
        async for _ in chunks:
            for i in range(10 * HIGH_WATER):
                produced += 1
                yield i

    async def plus_one(chunks: AsyncIterator[int]) -> AsyncIterator[int]:
        async for c in chunks:
            yield c + 1

    events = (RunnableGenerator(source) | plus_one).astream_events(0)
    async for event in events:
        if event["event"] == "on_chain_stream":
            break
    await events.aclose()  # type: ignore[attr-defined]

    # Without backpressure all 2,560 chunks are produced before the first event is seen.
    assert produced <= HIGH_WATER


async def test_every_event_still_arrives_under_backpressure() -> None:
    async def source(chunks: AsyncIterator[int]) -> AsyncIterator[int]:
        async for _ in chunks:
            for i in range(3 * HIGH_WATER):
                yield i

    streamed = [
        e
        async for e in RunnableGenerator(source).astream_events(0)
        if e["event"] == "on_chain_stream"
    ]
    assert [e["data"]["chunk"] for e in streamed] == list(range(3 * HIGH_WATER))
