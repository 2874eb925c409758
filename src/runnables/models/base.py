"""``BaseChatModel``: what a chat-model provider implements, and what it gets for free.

A provider writes two coroutines::

    class MyModel(BaseChatModel):
        async def _agenerate(self, messages, *, stop=None, **params) -> AIMessage: ...
        async def _astream(self, messages, *, stop=None, **params):  # async generator
            yield AIMessageChunk(...)

(either one is enough: the default ``_astream`` yields ``_agenerate``'s message as one
chunk, and the default ``_agenerate`` adds up ``_astream``'s chunks). ``params`` are the
call's parameters: those bound with ``.bind(...)``/``bind_tools`` or passed to
``invoke(x, stop=[...])``, such as ``temperature``, ``max_tokens``, ``tools`` and
``tool_choice``.

The base supplies the whole Runnable API (``invoke``/``ainvoke``/``batch``/``stream``/
``astream_events``...), input coercion (a string, a list of messages, tuples or dicts, a
prompt value), ``bind_tools``, ``with_structured_output``, usage metadata on every
response, the response cache, the shared rate limiter, and the ``max_concurrency``
bookkeeping.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import inspect
import itertools
import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal, cast

from runnables.core.base import Runnable
from runnables.core.chunks import ListIter, gather_input
from runnables.core.config import CURRENT, Context
from runnables.core.leaf import hold_stream, holds, run_leaf
from runnables.core.notes import note_step
from runnables.core.serializable import RunnableSerializable
from runnables.core.tasks import aclose
from runnables.core.tracing import has_pending, settle
from runnables.errors import (
    InputTypeError,
    InvalidArgumentError,
    InvalidInputError,
    RunnablesError,
    UnsupportedError,
)
from runnables.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    BaseMessageChunk,
    UsageMetadata,
    add_chunks,
    add_usage,
    convert_to_messages,
    message_chunk_to_message,
    messages_to_dict,
    tool_call_chunk,
)
from runnables.messages.base import _message_to_chunk
from runnables.models.cache import BaseCache, get_llm_cache
from runnables.models.ratelimit import RateLimiter, Reservation, estimate_tokens
from runnables.models.tools import convert_to_openai_tool

if TYPE_CHECKING:
    from runnables.core.config import RunnableConfig
    from runnables.core.sequence import RunnableSequence
    from runnables.core.tracing import Run
    from runnables.tools import BaseTool

__all__ = [
    "BaseChatModel",
    "ChatGeneration",
    "ChatResult",
    "LLMResult",
    "LanguageModelInput",
    "StructuredOutputError",
]

StructuredOutputMethod = Literal["function_calling", "json_mode", "json_schema"]
"""How ``with_structured_output`` asks the model for the schema (langchain-core's values)."""

_STRUCTURED_METHODS = ("function_calling", "json_mode", "json_schema")

LanguageModelInput = Any
"""A string, a prompt value (anything with ``.to_messages()``), a message, or a list of
messages, ``(role, content)`` tuples and OpenAI-style dicts."""


@dataclass
class Generation:
    """One generated text (langchain-core's output type; parsers' ``parse_result`` get it
    for a text input)."""

    text: str
    generation_info: dict[str, Any] | None = None


@dataclass
class ChatGeneration:
    """One generated message (langchain-core's output type, for providers that use it)."""

    message: AIMessage
    generation_info: dict[str, Any] | None = None

    @property
    def text(self) -> str:
        return self.message.text


@dataclass
class ChatGenerationChunk:
    """One streamed chunk as langchain-core's sync ``_stream`` yields it."""

    message: AIMessageChunk
    generation_info: dict[str, Any] | None = None

    @property
    def text(self) -> str:
        return self.message.text


@dataclass
class ChatResult:
    """What ``_agenerate`` may return instead of a plain message."""

    generations: list[ChatGeneration]
    llm_output: dict[str, Any] | None = field(default=None)


@dataclass
class LLMResult:
    """A model call's result as callback handlers' ``on_llm_end`` receives it: one list
    of generations per prompt (``generations[0][0].message`` is a chat model's answer)."""

    generations: list[list[Any]]
    llm_output: dict[str, Any] | None = field(default=None)
    run: list[Any] | None = field(default=None)
    type: str = "LLMResult"


#: Set while the default ``_astream`` answers with ``_agenerate``'s whole message, so a
#: sync ``_generate``'s run manager does not report tokens the stream reports anyway.
_STREAMING: ContextVar[bool] = ContextVar("runnables_model_streaming", default=False)


class _ModelInputError(InvalidInputError, TypeError):
    """A chat model's input is not something it can turn into messages.

    A ``TypeError`` as before (callers may catch that), and an ``InvalidInputError``, so
    a server answers it 422 rather than 500.
    """


class StructuredOutputError(RunnablesError, ValueError):
    """The model's response could not be read as the requested structured output."""


def _message_chars(messages: Sequence[BaseMessage]) -> int:
    n = 0
    for m in messages:
        c = m.content
        n += len(c) if isinstance(c, str) else len(m.text)
    return n


# (mypy cannot see that RunnableSerializable's metaclass is pydantic's, subclassed.)
class BaseChatModel(RunnableSerializable[LanguageModelInput, AIMessage]):  # type: ignore[metaclass]
    """The base of every chat model: implement ``_agenerate`` and/or ``_astream``.

    A chat model is a pydantic model, as in langchain-core: a subclass's declared fields
    are constructor keywords (validated, compared by ``==``, copied by ``model_copy``)::

        class Echo(BaseChatModel):
            prefix: str = ""

            async def _agenerate(self, messages, *, stop=None, **params):
                return AIMessage(self.prefix + messages[-1].text)

        Echo(prefix="> ").invoke("hi").content  # '> hi'

    ``cache``: a :class:`~runnables.models.cache.BaseCache` for this model, ``True`` for
    the global cache (:func:`~runnables.models.cache.set_llm_cache`), ``False`` for none,
    ``None`` (default) for the global cache if one is set. ``rate_limiter``: a
    :class:`~runnables.models.ratelimit.RateLimiter` shared by every call (and every model)
    given it.
    """

    _run_type: ClassVar[str] = "chat_model"  # type: ignore[misc]
    _is_leaf: ClassVar[bool] = True  # type: ignore[misc]

    if TYPE_CHECKING:
        # Typed as langchain-core's: a chat model streams message chunks that add up
        # with '+'. Declared for the type checker only, so no call pays a layer for it.
        def stream(
            self, input: LanguageModelInput, config: RunnableConfig | None = None, **kwargs: Any
        ) -> Iterator[AIMessageChunk]: ...

        def astream(
            self, input: LanguageModelInput, config: RunnableConfig | None = None, **kwargs: Any
        ) -> AsyncIterator[AIMessageChunk]: ...

    #: The call parameters (``bind(...)``/``invoke(x, **params)``) this model honours,
    #: such as ``"max_tokens"`` or ``"tools"``. ``None`` (the default) means every
    #: parameter reaches something that reads it (a provider's API, a user's function);
    #: servers such as :func:`runnables.serve.add_openai_routes` refuse a request
    #: parameter that is not listed rather than ignore it.
    call_params: ClassVar[frozenset[str] | None] = None

    cache: BaseCache | bool | None = None
    """This model's response cache: a cache, ``True`` (the global one), ``False`` (none)
    or ``None`` (the global one if set)."""
    rate_limiter: RateLimiter | None = None
    """A rate limiter shared by every call (and every model given it)."""

    def model_post_init(self, context: Any, /) -> None:
        """Start with no bound call parameters (kept beside the fields, not as one)."""
        set_ = object.__setattr__
        #: Call parameters bound with bind()/bind_tools() or passed to invoke(..., **params).
        set_(self, "_params", {})
        set_(self, "_stop_given", None)  # a bound stop given as one string

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # langchain-core's sync hooks count as implementations: a model written for it
        # with only `_generate` (or `_stream`) runs unchanged, its sync code on a thread.
        cls._sync_generate = cls._generate is not BaseChatModel._generate
        cls._sync_stream = cls._stream is not BaseChatModel._stream
        cls._has_generate = cls._agenerate is not BaseChatModel._agenerate or cls._sync_generate
        cls._has_stream = cls._astream is not BaseChatModel._astream or cls._sync_stream
        cls._agenerate_run_manager = (
            cls._agenerate is not BaseChatModel._agenerate
            and "run_manager" in inspect.signature(cls._agenerate).parameters
        )

    # Worked out once per class, in __init_subclass__.
    _has_generate: ClassVar[bool] = False
    _has_stream: ClassVar[bool] = False
    _sync_generate: ClassVar[bool] = False
    _sync_stream: ClassVar[bool] = False
    _agenerate_run_manager: ClassVar[bool] = False  # an overriding _agenerate takes run_manager
    if TYPE_CHECKING:  # set by model_post_init in the instance dict, not pydantic's
        _params: dict[str, Any]
        _stop_given: str | None

    # ------------------------------------------------------------------ provider side

    async def _agenerate(
        self, messages: list[BaseMessage], *, stop: list[str] | None = None, **params: Any
    ) -> ChatResult | AIMessage:
        """Produce the whole response. The default runs a sync ``_generate`` on a
        thread, else adds up ``_astream``'s chunks."""
        if self._sync_generate:
            # langchain-core hands _generate a run manager; its on_llm_new_token reports
            # tokens to the model's run (handlers, astream_events). Not while streaming:
            # the stream reports the answer itself.
            from runnables.callbacks.runs import ModelRunManager

            ctx = None if _STREAMING.get() else CURRENT.get()
            run_manager = ModelRunManager(ctx, asyncio.get_running_loop())
            return await asyncio.to_thread(
                functools.partial(self._generate, messages, stop, run_manager, **params)
            )
        if not self._has_stream:
            raise UnsupportedError(
                f"{type(self).__name__} must implement '_agenerate' or '_astream' (or both)."
            )
        chunks = [c async for c in self._astream(messages, stop=stop, **params)]
        if not chunks:
            return AIMessage("")
        return cast(AIMessage, message_chunk_to_message(add_chunks(chunks[0], *chunks[1:])))

    async def _astream(
        self, messages: list[BaseMessage], *, stop: list[str] | None = None, **params: Any
    ) -> AsyncIterator[AIMessageChunk]:
        """Produce the response as chunks. The default iterates a sync ``_stream`` on a
        thread, else yields ``_agenerate``'s response as one chunk."""
        if self._sync_stream:
            async for chunk in _threaded_chunks(
                self._stream(messages, stop, None, **params)  # type: ignore[arg-type]
            ):
                yield chunk
            return
        token = _STREAMING.set(True)
        try:
            message = _as_message(await self._agenerate(messages, stop=stop, **params))
        finally:
            _STREAMING.reset(token)
        yield _to_chunk(message)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> ChatResult | AIMessage:
        """langchain-core's sync hook: a model may implement only this (it runs on a
        worker thread, never on the event loop). ``run_manager`` is a
        :class:`~runnables.callbacks.manager.CallbackManagerForLLMRun` whose
        ``on_llm_new_token`` streams tokens to the call's handlers and events."""
        raise UnsupportedError(f"{type(self).__name__} does not implement '_generate'.")

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> Iterator[AIMessageChunk | ChatGenerationChunk]:
        """langchain-core's sync streaming hook: yields chunks (or
        ``ChatGenerationChunk``s), iterated on a worker thread."""
        raise UnsupportedError(f"{type(self).__name__} does not implement '_stream'.")

    @property
    def _llm_type(self) -> str:
        """A short name of the provider and model kind, part of the cache key."""
        return type(self).__name__

    @property
    def _identifying_params(self) -> dict[str, Any]:
        """The model's settings that change its answers (part of the cache key).

        The default takes the model's public attributes that are plain values.
        """
        out: dict[str, Any] = {}
        for key, value in vars(self).items():
            if key.startswith("_") or key in ("cache", "rate_limiter", "name"):
                continue
            if isinstance(value, (str, int, float, bool, type(None))):
                out[key] = value
        return out

    # ------------------------------------------------------------------ engine contract

    def _needs_loop(self) -> bool:
        return True

    def _with_kwargs(self, kwargs: dict[str, Any]) -> BaseChatModel:
        new = copy.copy(self)
        params = {**self._params, **kwargs}
        stop = params.get("stop")
        if isinstance(stop, str):
            params["stop"] = [stop]
            # Traces report stop as it was given (ls_stop), as langchain-core does.
            new._stop_given = stop
        elif "stop" in kwargs:
            new._stop_given = None
        new._params = params
        return new

    def _cache(self) -> BaseCache | None:
        cache = self.cache
        if cache is None or cache is True:
            found = get_llm_cache()
            if found is None and cache is True:
                raise InvalidArgumentError(
                    f"{self.get_name()} was created with cache=True but no global cache is "
                    "set. Call runnables.models.set_llm_cache(InMemoryCache()) first, or "
                    "pass the cache itself: cache=InMemoryCache()."
                )
            return found
        if cache is False:
            return None
        return cache

    def _convert_input(self, input: LanguageModelInput) -> list[BaseMessage]:
        if isinstance(input, str):
            from runnables.messages import HumanMessage

            return [HumanMessage(input)]
        if isinstance(input, BaseMessage):
            return [input]
        if hasattr(input, "to_messages") or isinstance(input, (list, tuple)):
            try:
                return convert_to_messages(input)
            except (TypeError, ValueError) as exc:
                raise _ModelInputError(
                    f"{self.get_name()} could not read its input: {exc}"
                ) from None
        if type(input).__module__.startswith("langchain_core."):
            # A langchain-core message (a @tool's ToolMessage, a LangGraph state's).
            return convert_to_messages(input)
        raise _ModelInputError(
            f"{self.get_name()} got {input!r} (a {type(input).__name__}) as input. A chat "
            "model takes a string, a prompt value, a message, or a list of messages, "
            "(role, content) tuples or OpenAI-style dicts."
        )

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> dict[str, Any]:
        """The ``ls_*`` tracing metadata of a call, by langchain-core's rule.

        ``ls_provider`` is the class name without a leading ``Chat`` (or a trailing
        one), lowercased; ``ls_model_type`` is ``"chat"``; ``ls_stop``,
        ``ls_model_name``, ``ls_temperature`` and ``ls_max_tokens`` are added when the
        call's parameters (``kwargs``) or the model's ``model``/``model_name``,
        ``temperature`` and ``max_tokens`` attributes give them. A provider may
        override this to report a conventional provider name.
        """
        provider = type(self).__name__
        if provider.startswith("Chat"):
            provider = provider[4:]
        elif provider.endswith("Chat"):
            provider = provider[:-4]
        params: dict[str, Any] = {"ls_provider": provider.lower(), "ls_model_type": "chat"}
        if stop:
            params["ls_stop"] = stop
        model = kwargs.get("model")
        if not isinstance(model, str):
            model = getattr(self, "model", None)
            if not isinstance(model, str):
                model = getattr(self, "model_name", None)
        if isinstance(model, str):
            params["ls_model_name"] = model
        temperature = kwargs.get("temperature")
        if not isinstance(temperature, (int, float)):
            temperature = getattr(self, "temperature", None)
        if isinstance(temperature, (int, float)):
            params["ls_temperature"] = temperature
        max_tokens = kwargs.get("max_tokens")
        if not isinstance(max_tokens, int):
            max_tokens = getattr(self, "max_tokens", None)
        if isinstance(max_tokens, int):
            params["ls_max_tokens"] = max_tokens
        return params

    def _chat_run_start(
        self, input: LanguageModelInput
    ) -> tuple[list[BaseMessage], dict[str, Any], dict[str, Any]]:
        """For a traced call: the messages to run on, the run's recorded input and the
        metadata it adds, as langchain-core's chat-model runs have them (input
        ``{"messages": [[...]]}``, metadata with the ``ls_*`` parameters and
        ``ls_integration``). Called only when something observes the call.
        """
        messages = self._convert_input(input)
        params = self._params
        if self._stop_given is not None:
            params = {**params, "stop": self._stop_given}
        metadata = self._get_ls_params(**params)
        metadata["ls_integration"] = "langchain_chat_model"
        return messages, {"messages": [messages]}, metadata

    def _cache_key(self, messages: list[BaseMessage]) -> tuple[str, str]:
        prompt = json.dumps(messages_to_dict(messages), sort_keys=True, default=str)
        llm = json.dumps(
            {"_type": self._llm_type, **self._identifying_params, **self._params},
            sort_keys=True,
            default=str,
        )
        return prompt, llm

    def _run_id(self) -> str:
        return _next_run_id()

    async def _ainvoke(self, input: LanguageModelInput, ctx: Context) -> AIMessage:
        run = ctx.run
        if (
            run is not None
            and ctx.tracers
            and self._has_stream
            and run.run_type == "chat_model"
            and any(t.streams_tokens for t in ctx.tracers)
        ):
            return await self._ainvoke_streamed(input, ctx, run)
        messages = self._convert_input(input)
        cache = self._cache()
        key: tuple[str, str] | None = None
        if cache is not None:
            key = self._cache_key(messages)
            hit = await cache.alookup(*key)
            if hit is not None:
                return hit  # the cache hands out its own copy (InMemoryCache: a deep one)
        reservation = await self._reserve(messages)
        try:
            message: AIMessage
            if ctx.limiter is not None or ctx.running is not None:
                message = await run_leaf(self, ctx, lambda: self._respond(messages, ctx))
            else:
                message = await self._respond(messages, ctx)
        except BaseException:
            self._settle(reservation, None)
            raise
        self._settle(reservation, getattr(message, "usage_metadata", None))
        if cache is not None and key is not None:
            await cache.aupdate(*key, message)
        return message

    async def _reserve(self, messages: list[BaseMessage]) -> Reservation | None:
        # Waiting for the rate limit happens here, before run_leaf takes a
        # max_concurrency slot, so waiting callers do not hold slots others could use.
        if self.rate_limiter is None:
            return None
        estimate = estimate_tokens(_message_chars(messages))
        max_tokens = self._params.get("max_tokens")
        if isinstance(max_tokens, int):
            estimate += max_tokens
        return await self.rate_limiter.aacquire(estimate)

    def _settle(self, reservation: Reservation | None, usage: UsageMetadata | None) -> None:
        if reservation is None or self.rate_limiter is None:
            return
        if usage is None:
            return  # the call failed: keep the estimate, the provider may have counted it
        self.rate_limiter.correct(reservation, int(usage.get("total_tokens", 0)))

    async def _respond(self, messages: list[BaseMessage], ctx: Context) -> AIMessage:
        token = CURRENT.set(ctx) if not ctx.is_root else None
        params = self._params
        try:
            if self._agenerate_run_manager:
                # A langchain-core-style _agenerate(messages, stop, run_manager, **kw).
                from runnables.callbacks.runs import AsyncModelRunManager

                result = await self._agenerate(
                    messages, run_manager=AsyncModelRunManager(ctx), **params
                )
                message = _as_message(result)
            elif self._has_generate or not self._has_stream:
                result = await self._agenerate(messages, **params)
                message = _as_message(result)
            else:
                chunks = [c async for c in self._astream(messages, **params)]
                message = (
                    cast(AIMessage, message_chunk_to_message(add_chunks(chunks[0], *chunks[1:])))
                    if chunks
                    else AIMessage("")
                )
        except BaseException as exc:
            note_step(exc, self.get_name())
            raise
        finally:
            if token is not None:
                CURRENT.reset(token)
        if message.id is None:
            message.id = self._run_id()
        return message

    async def _ainvoke_streamed(
        self, input: LanguageModelInput, ctx: Context, run: Run
    ) -> AIMessage:
        """Invoked under astream_events: stream, reporting each chunk to the run (as
        langchain-core's models stream for its events handler), and answer the message."""
        chunks: list[AIMessageChunk] = []
        stream = self._atransform(ListIter((input,)), ctx)
        try:
            async for chunk in stream:
                for tracer in ctx.tracers:
                    tracer.on_stream(run, chunk)
                if has_pending(ctx):
                    await settle(ctx)
                for tracer in ctx.tracers:
                    if tracer.full:
                        await tracer.drained()
                chunks.append(chunk)
        finally:
            await stream.aclose()  # type: ignore[attr-defined]
        if not chunks:
            return AIMessage("")
        return cast(AIMessage, message_chunk_to_message(add_chunks(chunks[0], *chunks[1:])))

    async def _atransform(
        self, inputs: AsyncIterator[LanguageModelInput], ctx: Context
    ) -> AsyncIterator[AIMessageChunk]:
        messages = self._convert_input(await gather_input(inputs))
        cache = self._cache()
        key: tuple[str, str] | None = None
        if cache is not None:
            key = self._cache_key(messages)
            hit = await cache.alookup(*key)
            if hit is not None:
                yield _to_chunk(hit)
                return
        reservation = await self._reserve(messages)
        keep = cache is not None
        parts: list[AIMessageChunk] = []
        usage: UsageMetadata | None = None
        last_chunk: BaseMessage | None = None
        run_id = self._run_id()
        agen = self._astream(messages, **self._params)
        # The provider's stream is one request: it holds one slot until it ends, and the
        # step's context and slot are in effect only while the provider's code runs.
        stream = hold_stream(self, ctx, agen) if holds(ctx) else agen
        finished = False
        try:
            async for chunk in stream:
                if chunk.id is None:
                    chunk.id = run_id
                # getattr: a test model may stream chunks of another kind than AI.
                chunk_usage = getattr(chunk, "usage_metadata", None)
                if chunk_usage is not None:
                    usage = add_usage(usage, chunk_usage)
                last_chunk = chunk
                if keep:
                    parts.append(chunk)
                yield chunk
            finished = True
            if isinstance(last_chunk, AIMessageChunk) and not last_chunk.chunk_position:
                # As in langchain-core, a stream ends with a chunk marked last; it carries
                # no usage: only what the provider reported is reported.
                last = AIMessageChunk(
                    "" if isinstance(last_chunk.content, str) else [],
                    id=run_id,
                    chunk_position="last",
                )
                if keep:
                    parts.append(last)
                yield last
        except BaseException as exc:
            note_step(exc, self.get_name())
            raise
        finally:
            try:
                await aclose(stream)
            finally:
                self._settle(reservation, usage)
        if finished and cache is not None and key is not None and parts:
            full = message_chunk_to_message(add_chunks(parts[0], *parts[1:]))
            await cache.aupdate(*key, cast(AIMessage, full))

    # ------------------------------------------------------------------ conveniences

    def bind_tools(
        self,
        tools: Sequence[Mapping[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | bool | Mapping[str, Any] | None = None,
        strict: bool | None = None,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """This model with tools the model may call (their calls arrive in ``tool_calls``).

        ``tools``: typed Python functions with docstrings, pydantic model classes, or JSON
        schema dicts (see :func:`~runnables.models.tools.convert_to_openai_tool`).
        ``tool_choice``: ``"auto"``, ``"none"``, ``"required"`` (``"any"`` and ``True``
        mean the same), or a tool's name to force that tool.
        """
        formatted = [convert_to_openai_tool(t, strict=strict) for t in tools]
        kwargs: dict[str, Any] = {"tools": formatted}
        if tool_choice is not None and tool_choice is not False:
            kwargs["tool_choice"] = _normalize_tool_choice(tool_choice, formatted)
        return self.bind(**kwargs)

    def with_structured_output(
        self,
        schema: Mapping[str, Any] | type | None = None,
        *,
        method: StructuredOutputMethod = "function_calling",
        include_raw: bool = False,
        strict: bool | None = None,
    ) -> RunnableSequence[LanguageModelInput, Any]:
        """This model answering with ``schema``: a validated pydantic object, or a dict.

        ``schema``: a pydantic model class (answers are validated instances of it), a
        TypedDict class or a JSON schema / OpenAI tool dict (answers are dicts).

        ``method`` (langchain-core's values) says how the model is asked:

        - ``"function_calling"`` (default): the model is told to call a tool whose
          arguments are the schema; the answer is read from that tool call. Works with
          every model that supports ``bind_tools``.
        - ``"json_schema"``: the schema is sent as ``response_format={"type":
          "json_schema", ...}`` (the provider's native structured output) and the answer
          is read as JSON from the message text. Needs a provider that reads
          ``response_format``, such as ``ChatOpenAI``.
        - ``"json_mode"``: ``response_format={"type": "json_object"}`` is sent and the
          answer is read as JSON from the text (``schema`` may be None: a dict then).
          The prompt itself must ask for JSON with the schema's keys.

        ``strict``: passed on as the tool's (or the JSON schema's) ``strict`` flag, so a
        provider that supports it holds the model to the schema exactly; not allowed with
        ``"json_mode"``. With ``include_raw`` the output is ``{"raw": AIMessage, "parsed":
        object or None, "parsing_error": exception or None}`` and a response that does
        not parse is returned, not raised.

        >>> from pydantic import BaseModel
        >>> class Answer(BaseModel):
        ...     text: str
        >>> # structured = model.with_structured_output(Answer)
        """
        if method not in _STRUCTURED_METHODS:
            raise InvalidArgumentError(
                f"with_structured_output got method={method!r}; use one of "
                f"{list(_STRUCTURED_METHODS)}."
            )
        if method == "json_mode":
            if strict is not None:
                raise InvalidArgumentError(
                    "with_structured_output(method='json_mode') cannot take strict: JSON mode "
                    "does not send a schema. Use method='json_schema' with strict=True."
                )
            json_mode = self.bind(response_format={"type": "json_object"})
            return json_mode | _JsonContentParser(schema, include_raw)
        if schema is None:
            raise InvalidArgumentError(
                f"with_structured_output(method={method!r}) needs a schema: a pydantic model "
                "class, a TypedDict class or a JSON schema dict."
            )
        tool = convert_to_openai_tool(schema, strict=strict)
        name = tool["function"]["name"]
        if method == "json_schema":
            fn = tool["function"]
            json_schema: dict[str, Any] = {"name": name, "schema": fn.get("parameters", {})}
            if fn.get("description"):
                json_schema["description"] = fn["description"]
            if strict is not None:
                json_schema["strict"] = strict
            native = self.bind(response_format={"type": "json_schema", "json_schema": json_schema})
            return native | _JsonContentParser(schema, include_raw)
        bound = self.bind_tools([tool], tool_choice=name)
        parser = _ToolCallParser(schema, name, include_raw)
        return bound | parser

    def get_num_tokens(self, text: str) -> int:
        """An estimate of the tokens in ``text`` (four characters a token)."""
        return estimate_tokens(len(text))

    def get_num_tokens_from_messages(self, messages: Sequence[BaseMessage]) -> int:
        """An estimate of the tokens in ``messages``."""
        return estimate_tokens(_message_chars(messages))


# Response ids are "lc_run-" and a UUID-shaped string: a random per-process prefix and a
# counter. Unique like uuid4() across processes, at a tenth of its cost on every call.
_ID_PREFIX = str(uuid.uuid4())[:24]
_ID_COUNTER = itertools.count(1)


def _next_run_id() -> str:
    return f"lc_run-{_ID_PREFIX}{next(_ID_COUNTER):012x}"


def _normalize_tool_choice(
    choice: str | bool | Mapping[str, Any], tools: list[dict[str, Any]]
) -> str | dict[str, Any]:
    if isinstance(choice, Mapping):
        return dict(choice)
    if choice is True or choice == "any":
        return "required"
    if choice in ("auto", "none", "required"):
        return cast(str, choice)
    names = [t["function"]["name"] for t in tools]
    if choice not in names:
        raise InvalidArgumentError(
            f"tool_choice={choice!r} names no bound tool; the tools are {names!r}. Use one of "
            "those names, or 'auto', 'none' or 'required'."
        )
    return {"type": "function", "function": {"name": choice}}


def _as_message(result: ChatResult | BaseMessage | str) -> AIMessage:
    if isinstance(result, BaseMessageChunk):
        return cast(AIMessage, message_chunk_to_message(result))
    if isinstance(result, BaseMessage):
        # Normally an AIMessage; test models such as ParrotFakeChatModel may answer with
        # a message of another kind, returned as it is (as langchain-core does).
        return cast(AIMessage, result)
    if isinstance(result, ChatResult):
        if not result.generations:
            raise InvalidArgumentError(
                "The chat model returned a ChatResult with no generations; its "
                "_agenerate must return at least one ChatGeneration."
            )
        return result.generations[0].message
    if isinstance(result, str):
        return AIMessage(result)
    raise InputTypeError(
        f"_agenerate must return an AIMessage or a ChatResult, got {result!r} "
        f"(a {type(result).__name__})."
    )


def _to_chunk(message: AIMessage) -> AIMessageChunk:
    if not isinstance(message, AIMessage):
        # A message of another kind (from a test model): the chunk of its own kind.
        return cast(AIMessageChunk, _message_to_chunk(message))
    chunks = [
        tool_call_chunk(name=t["name"], args=json.dumps(t["args"]), id=t["id"], index=i)
        for i, t in enumerate(message.tool_calls)
    ]
    chunks += [
        tool_call_chunk(name=t["name"], args=t["args"], id=t["id"], index=len(chunks) + i)
        for i, t in enumerate(message.invalid_tool_calls)
    ]
    return AIMessageChunk(
        message.content,
        tool_call_chunks=chunks,
        usage_metadata=message.usage_metadata,
        additional_kwargs=message.additional_kwargs,
        response_metadata=message.response_metadata,
        name=message.name,
        id=message.id,
        chunk_position="last",
    )


def _estimate_usage(messages: list[BaseMessage], output_chars: int) -> UsageMetadata:
    inp = estimate_tokens(_message_chars(messages))
    out = estimate_tokens(output_chars) if output_chars else 0
    return {"input_tokens": inp, "output_tokens": out, "total_tokens": inp + out}


def _validated(schema: Any, value: Any, what: str) -> Any:
    """``value`` validated as ``schema`` if it is a pydantic model class, else as it is."""
    validate = getattr(schema, "model_validate", None)
    if isinstance(schema, type) and validate is not None:
        try:
            return validate(value)
        except Exception as exc:
            raise StructuredOutputError(
                f"The model's {what} {value!r} do not match {schema.__name__}: {exc}"
            ) from exc
    return value


class _StructuredParser(Runnable[AIMessage, Any]):
    """What the parsers of ``with_structured_output`` share: ``include_raw``'s dict."""

    _run_type = "parser"
    include_raw: bool

    def _needs_loop(self) -> bool:
        return False

    def _parse(self, message: AIMessage) -> Any:
        raise UnsupportedError(f"{type(self).__name__} must implement _parse().")

    async def _ainvoke(self, input: AIMessage, ctx: Context) -> Any:
        if not self.include_raw:
            return self._parse(input)
        try:
            parsed = self._parse(input)
        except StructuredOutputError as exc:
            return {"raw": input, "parsed": None, "parsing_error": exc}
        return {"raw": input, "parsed": parsed, "parsing_error": None}


class _JsonContentParser(_StructuredParser):
    """Reads the JSON text of a ``json_schema`` / ``json_mode`` answer into the schema."""

    def __init__(self, schema: Any, include_raw: bool) -> None:
        self.schema = schema
        self.include_raw = include_raw
        self.name = "StructuredOutputParser"

    def _parse(self, message: AIMessage) -> Any:
        from runnables.output_parsers.json import JsonOutputParser

        text = message.text
        try:
            value = JsonOutputParser().parse(text)
        except Exception as exc:
            raise StructuredOutputError(
                f"The model's answer is not valid JSON ({exc}); it was {text[:200]!r}."
            ) from exc
        return _validated(self.schema, value, "JSON answer")


class _ToolCallParser(_StructuredParser):
    """Reads the forced tool call of ``with_structured_output`` into the schema."""

    def __init__(self, schema: Any, tool: str, include_raw: bool) -> None:
        self.schema = schema
        self.tool = tool
        self.include_raw = include_raw
        self.name = "StructuredOutputParser"

    def _parse(self, message: AIMessage) -> Any:
        if isinstance(message, AIMessageChunk):
            message = cast(AIMessage, message_chunk_to_message(message))
        calls = [c for c in message.tool_calls if c["name"] == self.tool] or message.tool_calls
        if not calls:
            bad = [c for c in message.invalid_tool_calls if c["name"] == self.tool]
            if bad:
                raise StructuredOutputError(
                    f"The model called {self.tool!r} with arguments that are not valid JSON: "
                    f"{bad[0]['args']!r}."
                )
            raise StructuredOutputError(
                f"The model answered without calling {self.tool!r}, so there is no structured "
                f"output to read. Its answer was: {message.text[:200]!r}."
            )
        return _validated(self.schema, calls[0]["args"], f"{self.tool!r} arguments")


_DONE = object()


async def _threaded_chunks(it: Iterator[Any]) -> AsyncIterator[AIMessageChunk]:
    """A sync ``_stream``'s chunks, each pulled on a worker thread; closed when done."""
    try:
        while True:
            item: Any = await asyncio.to_thread(next, it, _DONE)
            if item is _DONE:
                return
            yield getattr(item, "message", item)
    finally:
        close = getattr(it, "close", None)
        if close is not None:
            await asyncio.to_thread(close)
