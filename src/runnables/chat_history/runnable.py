"""``RunnableWithMessageHistory``: a chain that reads and appends a session's history."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from runnables.chat_history.base import BaseChatMessageHistory
from runnables.core.base import Runnable, RunnableLike, call, call_transform, coerce_to_runnable
from runnables.core.chunks import ListIter, add, gather_input
from runnables.core.config import Context
from runnables.core.configurable import ConfigurableFieldSpec, get_unique_config_specs
from runnables.core.tasks import aclose
from runnables.errors import (
    ArgumentTypeError,
    ConfigError,
    InputKeyError,
    InvalidArgumentError,
    InvalidInputError,
)
from runnables.messages.base import AIMessage, BaseMessage, HumanMessage, message_chunk_to_message

__all__ = ["RunnableWithMessageHistory"]

_SESSION_ID = ConfigurableFieldSpec(
    id="session_id",
    annotation=str,
    name="Session ID",
    description="Unique identifier for a session.",
    default="",
    is_shared=True,
)


class RunnableWithMessageHistory(Runnable[Any, Any]):
    """Wraps ``runnable`` so each call sees the session's past messages and is recorded.

    ``get_session_history(session_id)`` returns the :class:`BaseChatMessageHistory` of a
    session; the session id comes from ``config["configurable"]["session_id"]`` (or the
    keys named by ``history_factory_config``, passed to the factory by name).

    The input is messages, a string, or a dict: ``input_messages_key`` names the dict key
    holding the new message(s), ``history_messages_key`` the key the past messages are
    put under (without it they are put before the new ones). ``output_messages_key``
    names the output dict's key holding the reply.

    >>> from runnables import FakeListChatModel
    >>> from runnables.chat_history import InMemoryChatMessageHistory
    >>> store = {}
    >>> def history(session_id):
    ...     return store.setdefault(session_id, InMemoryChatMessageHistory())
    >>> chat = RunnableWithMessageHistory(FakeListChatModel(responses=["hello"]), history)
    >>> chat.invoke("hi", {"configurable": {"session_id": "a"}}).content
    'hello'
    >>> [m.content for m in store["a"].messages]
    ['hi', 'hello']
    """

    def __init__(
        self,
        runnable: RunnableLike,
        get_session_history: Callable[..., BaseChatMessageHistory],
        *,
        input_messages_key: str | None = None,
        output_messages_key: str | None = None,
        history_messages_key: str | None = None,
        history_factory_config: Sequence[ConfigurableFieldSpec] | None = None,
        name: str | None = None,
    ) -> None:
        if not callable(get_session_history):
            raise ArgumentTypeError(
                f"get_session_history must be a function returning a chat history, got "
                f"{get_session_history!r}; pass e.g. lambda session_id: store[session_id]."
            )
        self.runnable = coerce_to_runnable(runnable)
        self.get_session_history = get_session_history
        self.input_messages_key = input_messages_key
        self.output_messages_key = output_messages_key
        self.history_messages_key = history_messages_key
        self.history_factory_config = list(history_factory_config or [_SESSION_ID])
        self.name = name or "RunnableWithMessageHistory"
        self._factory_params = list(inspect.signature(get_session_history).parameters)

    def _children(self) -> Sequence[Runnable[Any, Any]]:
        return (self.runnable,)

    @property
    def config_specs(self) -> list[Any]:
        """The wrapped runnable's configurable fields plus the session keys."""
        return get_unique_config_specs([*self.runnable.config_specs, *self.history_factory_config])

    def get_input_schema(self, config: Any = None) -> Any:
        """The input's model: the new message(s), under ``input_messages_key`` if set."""
        from pydantic import RootModel, create_model

        if self.input_messages_key is None:
            root: Any = RootModel[Sequence[BaseMessage]]  # type: ignore[index]
            return type("RunnableWithChatHistoryInput", (root,), {"__module__": __name__})
        annotation: Any = (
            str | BaseMessage | Sequence[BaseMessage]
            if self.history_messages_key
            else Sequence[BaseMessage]
        )
        fields: Any = {self.input_messages_key: (annotation, ...)}
        return create_model("RunnableWithChatHistoryInput", **fields)

    @property
    def OutputType(self) -> Any:  # noqa: N802 - langchain-core's name
        """As langchain-core reports it: the type of the history-loading step's output
        (the input dict when a messages key is set, else the list of messages)."""
        if self.input_messages_key or self.history_messages_key:
            return dict[str, Any]
        return list[BaseMessage]

    def get_output_schema(self, config: Any = None) -> Any:
        """The output's model, named ``RunnableWithChatHistoryOutput`` as langchain-core's."""
        from runnables.core.schema import model_for

        return model_for("RunnableWithChatHistoryOutput", self.OutputType)

    @property
    def bound(self) -> Runnable[Any, Any]:
        """The wrapped chain with the history taken from the config, as langchain-core's
        ``bound``: ``config["configurable"]["message_history"]`` is the session's
        :class:`BaseChatMessageHistory` (loaded before ``runnable``, appended after)."""
        return _BoundHistory(self)

    # ------------------------------------------------------------------ the session

    def _history(self, ctx: Context) -> BaseChatMessageHistory:
        configurable = ctx.config.get("configurable") or {}
        given = configurable.get("message_history")
        if isinstance(given, BaseChatMessageHistory):
            # Set by the caller of ``bound`` (langchain-core's RunnableWithMessageHistory
            # passes the session's history to its chain this way).
            return given
        keys = [spec.id for spec in self.history_factory_config]
        missing = sorted(k for k in keys if k not in configurable)
        if missing and self._factory_params:
            example = {"configurable": dict.fromkeys(missing, "[your-value-here]")}
            raise ConfigError(
                f"Missing keys {missing} in config['configurable']. Expected keys are "
                f"{sorted(keys)}. Pass them in the config, e.g. chain.invoke(input, {example})."
            )
        if len(keys) == 1:
            if self._factory_params:
                return self.get_session_history(configurable[keys[0]])
            return self.get_session_history()
        if set(keys) != set(self._factory_params):
            raise InvalidArgumentError(
                f"Expected keys {sorted(keys)} do not match parameter names "
                f"{sorted(self._factory_params)} of get_session_history; name its "
                "parameters after the history_factory_config ids."
            )
        return self.get_session_history(**{k: configurable[k] for k in keys})

    def _get_input_messages(self, value: Any) -> list[BaseMessage]:
        if isinstance(value, dict):
            if self.input_messages_key:
                key = self.input_messages_key
            elif len(value) == 1:
                key = next(iter(value))
            else:
                key = "input"
            if key not in value:
                raise InputKeyError(
                    f"The input has no key {key!r} holding the new messages (its keys are "
                    f"{sorted(value)!r}); set input_messages_key to the right one."
                )
            value = value[key]
        return _as_messages(value, HumanMessage, "input")

    def _get_output_messages(self, value: Any) -> list[BaseMessage]:
        if isinstance(value, dict):
            if self.output_messages_key:
                key = self.output_messages_key
            elif len(value) == 1:
                key = next(iter(value))
            else:
                key = "output"
            if key not in value:
                raise InputKeyError(
                    f"The output has no key {key!r} holding the reply (its keys are "
                    f"{sorted(value)!r}); set output_messages_key to the right one."
                )
            value = value[key]
        return [message_chunk_to_message(m) for m in _as_messages(value, AIMessage, "output")]

    async def _enter(self, input: Any, ctx: Context) -> tuple[BaseChatMessageHistory, Any, Any]:
        history = self._history(ctx)
        past = list(await history.aget_messages())
        if self.history_messages_key:
            return history, past, {**input, self.history_messages_key: past}
        new = self._get_input_messages(input)
        if self.input_messages_key:
            return history, past, {**input, self.input_messages_key: past + new}
        return history, past, past + new

    async def _exit(self, history: BaseChatMessageHistory, input: Any, output: Any) -> None:
        await history.aadd_messages(
            self._get_input_messages(input) + self._get_output_messages(output)
        )

    # ------------------------------------------------------------------ running

    async def _ainvoke(self, input: Any, ctx: Context) -> Any:
        history, _, inner_input = await self._enter(input, ctx)
        output = await call(self.runnable, inner_input, ctx)
        await self._exit(history, input, output)
        return output

    async def _atransform(self, inputs: AsyncIterator[Any], ctx: Context) -> AsyncIterator[Any]:
        input = await gather_input(inputs)
        history, _, inner_input = await self._enter(input, ctx)
        stream = call_transform(self.runnable, ListIter((inner_input,)), ctx)
        final: Any = None
        started = False
        try:
            async for chunk in stream:
                final = chunk if not started else add(final, chunk)
                started = True
                yield chunk
        finally:
            await aclose(stream)
        await self._exit(history, input, final)


class _BoundHistory(Runnable[Any, Any]):
    """``RunnableWithMessageHistory.bound``: the same calls, with the history required
    in ``config["configurable"]["message_history"]`` instead of found by session id."""

    def __init__(self, outer: RunnableWithMessageHistory) -> None:
        self.outer = outer
        self.name = outer.name

    def _children(self) -> Sequence[Runnable[Any, Any]]:
        return (self.outer.runnable,)

    def _check(self, ctx: Context) -> None:
        given = (ctx.config.get("configurable") or {}).get("message_history")
        if not isinstance(given, BaseChatMessageHistory):
            raise InvalidArgumentError(
                "RunnableWithMessageHistory.bound needs the chat history in "
                f"config['configurable']['message_history'], got {given!r}; pass "
                "{'configurable': {'message_history': history}} or call the "
                "RunnableWithMessageHistory itself with a session id."
            )

    async def _ainvoke(self, input: Any, ctx: Context) -> Any:
        self._check(ctx)
        return await self.outer._ainvoke(input, ctx)

    async def _atransform(self, inputs: AsyncIterator[Any], ctx: Context) -> AsyncIterator[Any]:
        self._check(ctx)
        async for chunk in self.outer._atransform(inputs, ctx):
            yield chunk


def _as_messages(value: Any, kind: type[BaseMessage], what: str) -> list[BaseMessage]:
    if isinstance(value, str):
        return [kind(value)]
    if isinstance(value, BaseMessage):
        return [value]
    if isinstance(value, (list, tuple)):
        if value and isinstance(value[0], list):
            if len(value) != 1:
                raise InvalidInputError(f"Expected a single list of messages, got {value!r}.")
            return list(value[0])
        return list(value)
    raise InvalidInputError(
        f"Expected str, BaseMessage, list[BaseMessage], or tuple[BaseMessage]. Got {value}. "
        f"(The {what} of RunnableWithMessageHistory must be messages; set "
        f"{what}_messages_key to the dict key that holds them.)"
    )
