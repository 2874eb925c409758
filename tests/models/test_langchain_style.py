"""A chat model written for langchain-core (sync ``_generate``/``_stream`` only) runs
unchanged: invoke/ainvoke/batch/abatch/stream/astream and events, its sync code on a
worker thread, never on the event loop."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from pydantic import Field

from runnables.messages import AIMessage, AIMessageChunk, BaseMessage
from runnables.models import BaseChatModel, ChatGeneration, ChatGenerationChunk, ChatResult


class Prefix(BaseChatModel):
    """Answers with the first ``n`` characters of the last message."""

    n: int = 3
    threads: list[int] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "prefix"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"n": self.n}

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> ChatResult:
        self.threads.append(threading.get_ident())
        text = str(messages[-1].content)[: self.n]
        return ChatResult(generations=[ChatGeneration(message=AIMessage(text))])


class PrefixStreaming(Prefix):
    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        self.threads.append(threading.get_ident())
        for ch in str(messages[-1].content)[: self.n]:
            yield ChatGenerationChunk(message=AIMessageChunk(ch))


def test_a_model_with_only_a_sync_generate_runs_in_every_mode() -> None:
    model = Prefix()
    assert model.invoke("hello").content == "hel"
    assert [m.content for m in model.batch(["hello", "world"])] == ["hel", "wor"]
    assert "".join(str(c.content) for c in model.stream("hello")) == "hel"


async def test_a_model_with_only_a_sync_generate_runs_off_the_event_loop() -> None:
    model = Prefix(n=2)
    assert (await model.ainvoke("hello")).content == "he"
    assert [m.content for m in await model.abatch(["hello", "world"])] == ["he", "wo"]
    assert "".join([str(c.content) async for c in model.astream("hello")]) == "he"
    assert threading.get_ident() not in model.threads


async def test_a_sync_stream_streams_each_chunk_and_shows_in_events() -> None:
    model = PrefixStreaming(n=3)
    chunks = [c async for c in model.astream("hello")]
    assert [c.content for c in chunks if c.content] == ["h", "e", "l"]
    assert threading.get_ident() not in model.threads
    events = [e async for e in model.astream_events("hello", version="v2")]
    streamed = [e["data"]["chunk"].content for e in events if e["event"] == "on_chat_model_stream"]
    assert [c for c in streamed if c] == ["h", "e", "l"]
    assert events[-1]["event"] == "on_chat_model_end"
