"""Callback handlers with langchain-core's interface.

A handler is an object with ``on_<run type>_<event>`` methods; give it in a call's config
(``config={"callbacks": [handler]}``) and it sees every run of that call. These base
classes exist so code written against langchain-core's ``BaseCallbackHandler`` and
``AsyncCallbackHandler`` subclasses them unchanged: every method is a no-op to override,
and the ``ignore_*`` properties and ``raise_error`` mean what they mean there.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from runnables.errors import UnsupportedError

__all__ = [
    "AsyncCallbackHandler",
    "BaseCallbackHandler",
    "CallbackManagerMixin",
    "ChainManagerMixin",
    "LLMManagerMixin",
    "RetrieverManagerMixin",
    "RunManagerMixin",
    "ToolManagerMixin",
]


class RetrieverManagerMixin:
    """The end of a retriever run."""

    def on_retriever_error(
        self,
        error: BaseException,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> Any:
        """A retriever run raised ``error``."""

    def on_retriever_end(
        self, documents: Any, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any
    ) -> Any:
        """A retriever run returned ``documents``."""


class LLMManagerMixin:
    """Tokens and the end of a chat-model run."""

    def on_llm_new_token(
        self,
        token: str,
        *,
        chunk: Any = None,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> Any:
        """A streamed token (``chunk`` is the whole generation chunk it came in)."""

    def on_llm_end(
        self,
        response: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> Any:
        """A model run ended with ``response`` (an ``LLMResult``)."""

    def on_llm_error(
        self,
        error: BaseException,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> Any:
        """A model run raised ``error``."""


class ChainManagerMixin:
    """The end of a chain run (any step that is not a model, tool or retriever)."""

    def on_chain_end(
        self, outputs: Any, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any
    ) -> Any:
        """A chain run returned ``outputs``."""

    def on_chain_error(
        self,
        error: BaseException,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> Any:
        """A chain run raised ``error``."""

    def on_agent_action(
        self, action: Any, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any
    ) -> Any:
        """An agent chose an action (runnables has no agents; kept for the interface)."""

    def on_agent_finish(
        self, finish: Any, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any
    ) -> Any:
        """An agent finished (runnables has no agents; kept for the interface)."""


class ToolManagerMixin:
    """The end of a tool run."""

    def on_tool_end(
        self, output: Any, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any
    ) -> Any:
        """A tool run returned ``output``."""

    def on_tool_error(
        self,
        error: BaseException,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> Any:
        """A tool run raised ``error``."""


class CallbackManagerMixin:
    """The start of a run, one method per kind of run."""

    def on_llm_start(
        self,
        serialized: dict[str, Any],
        prompts: list[str],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        """A string-completion model run started (runnables has chat models only)."""

    def on_chat_model_start(
        self,
        serialized: dict[str, Any],
        messages: list[list[Any]],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        """A chat-model run started with ``messages`` (one list per prompt).

        As in langchain-core, a handler that does not override this is told with
        ``on_llm_start`` and the messages rendered as strings.
        """
        raise UnsupportedError(f"{type(self).__name__} does not implement `on_chat_model_start`")

    def on_retriever_start(
        self,
        serialized: dict[str, Any],
        query: str,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        """A retriever run started with ``query``."""

    def on_chain_start(
        self,
        serialized: dict[str, Any],
        inputs: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        """A chain run started with ``inputs``."""

    def on_tool_start(
        self,
        serialized: dict[str, Any],
        input_str: str,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        inputs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        """A tool run started with ``input_str`` (and ``inputs``, the parsed arguments)."""


class RunManagerMixin:
    """What any run may report while it runs."""

    def on_text(
        self, text: str, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any
    ) -> Any:
        """Free text a run reports."""

    def on_retry(
        self, retry_state: Any, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any
    ) -> Any:
        """A run is about to retry."""

    def on_custom_event(
        self,
        name: str,
        data: Any,
        *,
        run_id: UUID,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        """A step dispatched a custom event ``name`` with ``data``."""


class BaseCallbackHandler(
    LLMManagerMixin,
    ChainManagerMixin,
    ToolManagerMixin,
    RetrieverManagerMixin,
    CallbackManagerMixin,
    RunManagerMixin,
):
    """A callback handler: override the ``on_*`` methods for the events you want.

    ``raise_error = True`` makes an exception in one of its methods fail the call (by
    default it is logged and the call goes on). An ``ignore_*`` property that returns
    ``True`` keeps that kind of event from the handler.
    """

    raise_error: bool = False
    run_inline: bool = False

    @property
    def ignore_llm(self) -> bool:
        """Skip chat-model (and LLM) events."""
        return False

    @property
    def ignore_retry(self) -> bool:
        """Skip retry events."""
        return False

    @property
    def ignore_chain(self) -> bool:
        """Skip chain events."""
        return False

    @property
    def ignore_agent(self) -> bool:
        """Skip agent events."""
        return False

    @property
    def ignore_retriever(self) -> bool:
        """Skip retriever events."""
        return False

    @property
    def ignore_chat_model(self) -> bool:
        """Skip chat-model start events."""
        return False

    @property
    def ignore_custom_event(self) -> bool:
        """Skip custom events."""
        return False


class AsyncCallbackHandler(BaseCallbackHandler):
    """A callback handler whose ``on_*`` methods are coroutines, awaited in order."""


def _async_noops() -> None:
    """Give AsyncCallbackHandler an async no-op for every event method of the mixins."""

    def make(name: str) -> Any:
        async def noop(self: Any, *args: Any, **kwargs: Any) -> None:
            return None

        noop.__name__ = noop.__qualname__ = name
        noop.__doc__ = getattr(BaseCallbackHandler, name).__doc__
        return noop

    for name in dir(BaseCallbackHandler):
        if name.startswith("on_") and name != "on_chat_model_start":
            setattr(AsyncCallbackHandler, name, make(name))

    async def on_chat_model_start(self: Any, *args: Any, **kwargs: Any) -> None:
        raise UnsupportedError(f"{type(self).__name__} does not implement `on_chat_model_start`")

    AsyncCallbackHandler.on_chat_model_start = on_chat_model_start  # type: ignore[method-assign]


_async_noops()
