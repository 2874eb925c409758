"""StrOutputParser: text out of messages, streamed chunk by chunk without buffering."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from runnables import RunnableGenerator
from runnables.messages import AIMessage, AIMessageChunk
from runnables.output_parsers import StrOutputParser


def test_invoke_returns_the_text_of_a_message_or_a_string() -> None:
    assert StrOutputParser().invoke(AIMessage("hello")) == "hello"
    assert StrOutputParser().invoke("plain") == "plain"
    blocks = AIMessage([{"type": "text", "text": "a"}, {"type": "image_url", "image_url": {}}])
    assert StrOutputParser().invoke(blocks) == "a"


async def test_each_chunk_is_passed_on_before_the_next_one_is_produced() -> None:
    got_first = asyncio.Event()

    async def model(_: object) -> AsyncIterator[AIMessageChunk]:
        yield AIMessageChunk(content="Hel")
        # If the parser buffered, the consumer would never see "Hel" and this would time out.
        await asyncio.wait_for(got_first.wait(), timeout=5)
        yield AIMessageChunk(content="lo")

    chain = RunnableGenerator[object, AIMessageChunk](model) | StrOutputParser()
    outs = []
    async for text in chain.astream("x"):
        outs.append(text)
        got_first.set()
    assert outs == ["Hel", "lo"]


def test_sync_invoke_needs_no_event_loop() -> None:
    assert StrOutputParser()._needs_loop() is False


def test_output_schema_is_the_declared_type_as_in_langchain_core() -> None:
    assert StrOutputParser().get_output_jsonschema() == {
        "title": "StrOutputParserOutput",
        "type": "string",
    }
