"""A custom chat model's ``_generate``/``_agenerate`` get a run manager that streams."""

from __future__ import annotations

from typing import Any

from runnables.callbacks import (
    AsyncCallbackManagerForLLMRun,
    BaseCallbackHandler,
    CallbackManagerForLLMRun,
)
from runnables.messages import AIMessage, AIMessageChunk, BaseMessage
from runnables.models import BaseChatModel, ChatGeneration, ChatGenerationChunk, ChatResult


class Tokens(BaseCallbackHandler):
    def __init__(self) -> None:
        self.tokens: list[str] = []
        self.chunks: list[Any] = []
        self.ended = 0

    def on_llm_new_token(self, token: str, **kw: Any) -> None:
        self.tokens.append(token)
        self.chunks.append(kw.get("chunk"))

    def on_llm_end(self, response: Any, **kw: Any) -> None:
        self.ended += 1


class SyncModel(BaseChatModel):
    """A langchain-core-style model: only a sync _generate that reports its tokens."""

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        assert isinstance(run_manager, CallbackManagerForLLMRun)
        for token in ["he", "llo"]:
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=token))
            run_manager.on_llm_new_token(token, chunk=chunk)
        return ChatResult(generations=[ChatGeneration(message=AIMessage("hello"))])


class AsyncModel(BaseChatModel):
    """A langchain-core-style model with an _agenerate that declares run_manager."""

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        assert isinstance(run_manager, AsyncCallbackManagerForLLMRun)
        for token in ["a", "b"]:
            await run_manager.on_llm_new_token(token)
        return ChatResult(generations=[ChatGeneration(message=AIMessage("ab"))])


def test_sync_generate_tokens_reach_handlers_in_order_before_the_end() -> None:
    handler = Tokens()
    assert SyncModel().invoke("hi", {"callbacks": [handler]}).content == "hello"
    assert handler.tokens == ["he", "llo"]
    assert all(isinstance(c, ChatGenerationChunk) for c in handler.chunks)
    assert handler.ended == 1


def test_sync_generate_runs_unobserved_with_a_run_manager_too() -> None:
    assert SyncModel().invoke("hi").content == "hello"


async def test_sync_generate_tokens_are_chat_model_stream_events() -> None:
    from runnables import RunnableLambda
    from runnables.messages import AIMessage

    # The model invoked inside a step, as langchain-core streams it for its events handler.
    step = RunnableLambda[str, AIMessage](lambda x: SyncModel().invoke(x))
    events = [e async for e in step.astream_events("hi", version="v2")]
    streamed = [e["data"]["chunk"].content for e in events if e["event"] == "on_chat_model_stream"]
    assert streamed == ["he", "llo"]


async def test_async_generate_with_run_manager_reports_tokens() -> None:
    handler = Tokens()
    message = await AsyncModel().ainvoke("hi", {"callbacks": [handler]})
    assert message.content == "ab"
    assert handler.tokens == ["a", "b"]
    assert [c.message.content for c in handler.chunks] == ["a", "b"]
    assert handler.ended == 1


async def test_streaming_a_generate_only_model_reports_the_answer_once() -> None:
    handler = Tokens()
    chunks = [c async for c in SyncModel().astream("hi", {"callbacks": [handler]})]
    assert "".join(str(c.content) for c in chunks) == "hello"
    assert handler.tokens == ["hello"]
