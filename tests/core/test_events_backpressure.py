"""astream_events keeps the run a bounded distance ahead of its consumer."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

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


@pytest.mark.timeout(120)  # generous: only a hang (the bug) comes near it
async def test_a_sync_model_call_inside_a_sync_step_does_not_wait_for_the_blocked_consumer() -> (
    None
):
    # The step's sync function runs on the consumer's loop and its model.invoke on the
    # bridge loop. More events than HIGH_WATER used to make the model's run wait for the
    # consumer to drain them, while the consumer's loop waited for the model: a hang.
    from itertools import cycle
    from typing import Any

    from runnables import RunnableConfig, RunnableLambda
    from runnables.messages import AIMessage
    from runnables.models import GenericFakeChatModel

    words = 2 * HIGH_WATER
    model = GenericFakeChatModel(messages=cycle([AIMessage(" ".join(["w"] * words))]))

    def ask(value: str, config: RunnableConfig) -> Any:
        return model.invoke(value, config)

    step = RunnableLambda(ask, offload="never")

    kinds = [e["event"] async for e in step.astream_events("hi", version="v2")]
    assert kinds[:2] == ["on_chain_start", "on_chat_model_start"]
    assert kinds.count("on_chat_model_stream") == 2 * words - 1  # words and spaces
    assert kinds[-3:] == ["on_chat_model_end", "on_chain_stream", "on_chain_end"]
