"""Chat models for tests, examples and benchmarks: no network, no keys.

- :class:`FakeListChatModel`: answers with scripted strings in turn, streamed character
  by character (langchain-core's class of the same name).
- :class:`GenericFakeChatModel`: answers with the next message of an iterator (tool
  calls included, streamed as tool-call chunks).
- :class:`FakeMessagesListChatModel`: answers with scripted messages in turn, of any
  kind, each streamed as one chunk (langchain-core's class of the same name).
- :class:`FakeEchoChatModel`: answers with the last human message.
- :class:`ParrotFakeChatModel`: answers with the last message, whatever its kind
  (langchain-core's class of the same name).
- :class:`FunctionChatModel`: answers by calling your function with the messages.
- :class:`FakeTimedChatModel`: answers with scripted text at a configurable speed (time
  to first token, tokens per second, jitter) to simulate a real provider.

As in langchain-core, a fake reports ``usage_metadata`` only when its scripted message
carries it, so ``== AIMessage(...)`` assertions hold. :class:`FakeTimedChatModel`,
which simulates a provider, reports usage as a provider would (tokens estimated at four
characters each).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import random
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Annotated, Any, cast

from pydantic import Field, SkipValidation

from runnables.core.tasks import aclose
from runnables.errors import (
    ArgumentTypeError,
    InputTypeError,
    InvalidArgumentError,
    InvalidInputError,
    RunnablesError,
)
from runnables.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    tool_call_chunk,
)
from runnables.models.base import BaseChatModel, _estimate_usage

__all__ = [
    "FakeEchoChatModel",
    "FakeListChatModel",
    "FakeMessagesListChatModel",
    "FakeTimedChatModel",
    "FunctionChatModel",
    "GenericFakeChatModel",
    "ParrotFakeChatModel",
]

_WORDS = re.compile(r"(\s)")
_COMMAS = re.compile(r"(,)")


def _words(text: str) -> list[str]:
    """Split into words and the whitespace between them (joining gives ``text`` back)."""
    return [t for t in _WORDS.split(text) if t]


def _stream_message(
    message: AIMessage, tokens: Iterable[str], usage: Any
) -> Iterator[AIMessageChunk]:
    """A message as chunks: its text tokens, its ``additional_kwargs`` (one key a chunk,
    a ``function_call``'s string values split after each ``,``, as langchain-core's
    ``GenericFakeChatModel`` streams them), then tool-call chunks; usage on the last."""
    pieces: list[AIMessageChunk] = [AIMessageChunk(t) for t in tokens]
    for key, value in message.additional_kwargs.items():
        if key == "function_call" and isinstance(value, dict):
            for name, part in value.items():
                parts = _COMMAS.split(part) if isinstance(part, str) else [part]
                pieces += [AIMessageChunk("", additional_kwargs={key: {name: p}}) for p in parts]
        else:
            pieces.append(AIMessageChunk("", additional_kwargs={key: value}))
    for i, call in enumerate(message.tool_calls):
        args = json.dumps(call["args"])
        # Arguments arrive in pieces, as real providers send them.
        step = 8
        for j in range(0, max(len(args), 1), step):
            first = j == 0
            pieces.append(
                AIMessageChunk(
                    "",
                    tool_call_chunks=[
                        tool_call_chunk(
                            name=call["name"] if first else None,
                            args=args[j : j + step],
                            id=call["id"] if first else None,
                            index=i,
                        )
                    ],
                )
            )
    if not pieces or message.additional_kwargs:
        # After the additional kwargs, the end is a chunk of its own (as langchain-core's
        # stream ends when its model did not mark a last chunk).
        pieces.append(AIMessageChunk(""))
    last = pieces[-1]
    last.usage_metadata = usage
    last.chunk_position = "last"
    if message.response_metadata:
        last.response_metadata = dict(message.response_metadata)
    if message.id is not None:
        for p in pieces:
            p.id = message.id
    return iter(pieces)


class FakeListChatModel(BaseChatModel):
    """Answers with ``responses`` in turn (starting again after the last one).

    Streaming yields one chunk per character, like langchain-core's class. ``sleep``
    waits that many seconds before each chunk; ``error_on_chunk_number`` raises
    ``FakeListChatModelError`` when streaming reaches that chunk.

    >>> model = FakeListChatModel(responses=["Hello!"])
    >>> model.invoke("Hi").content
    'Hello!'
    """

    call_params = frozenset()  # scripted answers: no parameter changes them

    responses: list[str]
    """The answers, in turn."""
    sleep: float | None = None
    """Seconds to wait before each streamed chunk (and each answer)."""
    i: int = 0
    """The index of the next answer."""
    error_on_chunk_number: int | None = None
    """Raise ``FakeListChatModelError`` when streaming reaches this chunk."""

    def __init__(self, responses: Sequence[str] | None = None, /, **fields: Any) -> None:
        # The answers may also be given by position (runnables' older signature).
        if responses is not None:
            fields["responses"] = responses
        given = fields.get("responses")
        if isinstance(given, str) or not given:
            raise InvalidArgumentError(
                f"FakeListChatModel needs a non-empty list of response strings, got {given!r}."
            )
        fields["responses"] = list(given)
        super().__init__(**fields)

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"responses": self.responses}

    def _next(self) -> str:
        text = self.responses[self.i % len(self.responses)]
        # Every scripted call passes here: set in the instance dict, as pydantic's own
        # (unvalidated) assignment would, without its two Python-level calls.
        self.__dict__["i"] = (self.i + 1) % len(self.responses)
        return text

    async def _agenerate(
        self, messages: list[BaseMessage], *, stop: list[str] | None = None, **params: Any
    ) -> AIMessage:
        if self.sleep:
            await asyncio.sleep(self.sleep)
        return AIMessage(self._next())

    async def _astream(
        self, messages: list[BaseMessage], *, stop: list[str] | None = None, **params: Any
    ) -> AsyncIterator[AIMessageChunk]:
        text = self._next()
        sleep = self.sleep
        fail_at = self.error_on_chunk_number
        last = len(text) - 1
        if last < 0:
            yield AIMessageChunk("", chunk_position="last")
            return
        for n, ch in enumerate(text):
            if sleep:
                await asyncio.sleep(sleep)
            if fail_at is not None and n == fail_at:
                raise FakeListChatModelError(
                    f"FakeListChatModel was told to fail at chunk {fail_at} "
                    "(error_on_chunk_number)."
                )
            if n == last:
                yield AIMessageChunk(ch, chunk_position="last")
            else:
                yield AIMessageChunk(ch)


class FakeMessagesListChatModel(BaseChatModel):
    """Answers with the messages of ``responses`` in turn (starting again after the last).

    As in langchain-core, a response is returned as it is scripted, of whatever kind
    (an ``AIMessage`` with ``tool_calls`` to simulate tool use, or any other message),
    and streaming yields it whole as one chunk of its own kind. Each answer is a copy,
    so changing it does not change the script. ``sleep`` waits that many seconds before
    each answer (without blocking the event loop); ``i`` is the index of the next one.

    >>> model = FakeMessagesListChatModel(responses=[AIMessage("one"), AIMessage("two")])
    >>> model.invoke("?").content, model.invoke("?").content, model.invoke("?").content
    ('one', 'two', 'one')
    """

    call_params = frozenset()  # scripted answers: no parameter changes them

    responses: list[BaseMessage]
    """The answers, in turn."""
    sleep: float | None = None
    """Seconds to wait before each answer."""
    i: int = 0
    """The index of the next answer."""

    def __init__(self, responses: Sequence[BaseMessage] | None = None, /, **fields: Any) -> None:
        # The answers may also be given by position (runnables' older signature).
        if responses is not None:
            fields["responses"] = responses
        given = fields.get("responses")
        if not given or not all(isinstance(r, BaseMessage) for r in given):
            raise InvalidArgumentError(
                "FakeMessagesListChatModel needs a non-empty list of messages, got "
                f"{given!r}. For plain strings use FakeListChatModel(responses=[...])."
            )
        fields["responses"] = list(given)
        super().__init__(**fields)

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"responses": [r.model_dump() for r in self.responses]}

    async def _agenerate(
        self, messages: list[BaseMessage], *, stop: list[str] | None = None, **params: Any
    ) -> AIMessage:
        if self.sleep is not None:
            await asyncio.sleep(self.sleep)
        response = self.responses[self.i % len(self.responses)]
        self.__dict__["i"] = (self.i + 1) % len(self.responses)  # as in FakeListChatModel
        return cast(AIMessage, response.model_copy(deep=True))


class ParrotFakeChatModel(BaseChatModel):
    """Answers with (a copy of) the last message it is given, whatever its kind.

    langchain-core's class of the same name: ``invoke([..., SystemMessage("s")])``
    returns a ``SystemMessage``, and streaming yields the message whole as one chunk of
    its kind. To echo the last *human* message as an ``AIMessage``, use
    :class:`FakeEchoChatModel`.

    >>> reply = ParrotFakeChatModel().invoke("ping")
    >>> type(reply).__name__, reply.content
    ('HumanMessage', 'ping')
    """

    call_params = frozenset()  # scripted answers: no parameter changes them

    async def _agenerate(
        self, messages: list[BaseMessage], *, stop: list[str] | None = None, **params: Any
    ) -> AIMessage:
        if not messages:
            raise InvalidInputError(
                "ParrotFakeChatModel got no messages, so it has nothing to repeat; give it "
                "at least one message."
            )
        return cast(AIMessage, messages[-1].model_copy(deep=True))


class FakeListChatModelError(RunnablesError):
    """Raised by :class:`FakeListChatModel` at ``error_on_chunk_number``."""


class GenericFakeChatModel(BaseChatModel):
    """Answers with the next item of ``messages`` (an ``AIMessage`` or a string).

    Streaming splits the text into words and whitespace, then sends tool calls as
    tool-call chunks whose arguments arrive in pieces.

    >>> model = GenericFakeChatModel(messages=iter(["one", "two"]))
    >>> model.invoke("?").content, model.invoke("?").content
    ('one', 'two')
    """

    call_params = frozenset()  # scripted answers: no parameter changes them

    # Not validated: pydantic would wrap the iterator in one that checks each item.
    messages: Annotated[Iterator[Any], SkipValidation()]
    """The answers: ``AIMessage``s or strings, taken one per call."""

    def __init__(
        self,
        messages: Iterator[AIMessage | str] | Iterable[AIMessage | str] | None = None,
        /,
        **fields: Any,
    ) -> None:
        # The messages may also be given by position (runnables' older signature).
        if messages is not None:
            fields["messages"] = messages
        if "messages" in fields:
            fields["messages"] = iter(fields["messages"])
        super().__init__(**fields)

    def _next(self, messages: list[BaseMessage]) -> AIMessage:
        try:
            item = next(self.messages)
        except StopIteration:
            raise InvalidArgumentError(
                "GenericFakeChatModel has no more scripted messages: give it more in "
                "messages=iter([...]) (or use itertools.cycle to repeat them)."
            ) from None
        return AIMessage(item) if isinstance(item, str) else item.model_copy()

    async def _agenerate(
        self, messages: list[BaseMessage], *, stop: list[str] | None = None, **params: Any
    ) -> AIMessage:
        return self._next(messages)

    async def _astream(
        self, messages: list[BaseMessage], *, stop: list[str] | None = None, **params: Any
    ) -> AsyncIterator[AIMessageChunk]:
        msg = self._next(messages)
        tokens = _words(msg.content) if isinstance(msg.content, str) else []
        for chunk in _stream_message(msg, tokens, msg.usage_metadata):
            yield chunk
        if not isinstance(msg.content, str):
            yield AIMessageChunk(msg.content)


class FakeEchoChatModel(BaseChatModel):
    """Answers with the text of the last human message (streamed word by word).

    >>> FakeEchoChatModel().invoke("ping").content
    'ping'
    """

    call_params = frozenset()  # scripted answers: no parameter changes them

    def _answer(self, messages: list[BaseMessage]) -> AIMessage:
        text = next((m.text for m in reversed(messages) if isinstance(m, HumanMessage)), "")
        return AIMessage(text)

    async def _agenerate(
        self, messages: list[BaseMessage], *, stop: list[str] | None = None, **params: Any
    ) -> AIMessage:
        return self._answer(messages)

    async def _astream(
        self, messages: list[BaseMessage], *, stop: list[str] | None = None, **params: Any
    ) -> AsyncIterator[AIMessageChunk]:
        msg = self._answer(messages)
        for chunk in _stream_message(msg, _words(msg.text), msg.usage_metadata):
            yield chunk


ModelFunction = Callable[..., "str | AIMessage | Awaitable[str | AIMessage]"]


def _positional_count(func: Callable[..., Any]) -> int:
    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return 1
    if any(p.kind == p.VAR_POSITIONAL for p in params):
        return 2
    return sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)


class FunctionChatModel(BaseChatModel):
    """Answers by calling ``func(messages)`` or ``func(messages, params)``.

    ``func`` may be sync or async and returns a string or an ``AIMessage`` (with
    ``tool_calls`` to simulate tool use). ``params`` is a dict of the call's parameters
    (``stop``, ``tools``, ``tool_choice``, ``temperature``...). ``stream_func``, if
    given, is used for streaming: a (sync or async) generator with the same arguments
    that yields strings or ``AIMessageChunk``s; without it, the answer is streamed word
    by word.

    >>> def answer(messages):
    ...     return f"You said {len(messages)} thing(s)."
    >>> FunctionChatModel(answer).invoke("hi").content
    'You said 1 thing(s).'
    """

    func: Annotated[ModelFunction | None, SkipValidation()] = None
    """The function that answers (sync or async)."""
    stream_func: Annotated[Callable[..., Any] | None, SkipValidation()] = None
    """The (sync or async) generator that streams the answer, if any."""

    def __init__(self, func: ModelFunction | None = None, /, **fields: Any) -> None:
        # The function may also be given by position (runnables' older signature).
        if func is not None:
            fields["func"] = func
        func, stream_func = fields.get("func"), fields.get("stream_func")
        if func is None and stream_func is None:
            raise InvalidArgumentError("FunctionChatModel needs func, stream_func, or both.")
        for f in (func, stream_func):
            if f is not None and not callable(f):
                raise ArgumentTypeError(f"FunctionChatModel expected a function, got {f!r}.")
        fn_name = getattr(func or stream_func, "__name__", None)
        if fields.get("name") is None and fn_name and fn_name != "<lambda>":
            fields["name"] = fn_name
        super().__init__(**fields)

    @property
    def _identifying_params(self) -> dict[str, Any]:
        f = self.func or self.stream_func
        return {"func": f"{getattr(f, '__module__', '')}.{getattr(f, '__qualname__', f)}"}

    def _args(
        self, func: Callable[..., Any], messages: list[BaseMessage], stop: Any, params: Any
    ) -> tuple[Any, ...]:
        if _positional_count(func) >= 2:
            return (messages, {"stop": stop, **params} if stop is not None else dict(params))
        return (messages,)

    async def _agenerate(
        self, messages: list[BaseMessage], *, stop: list[str] | None = None, **params: Any
    ) -> AIMessage:
        if self.func is None:
            chunks = [c async for c in self._astream(messages, stop=stop, **params)]
            from runnables.messages import add_chunks, message_chunk_to_message

            return cast(AIMessage, message_chunk_to_message(add_chunks(chunks[0], *chunks[1:])))
        out = self.func(*self._args(self.func, messages, stop, params))
        if inspect.isawaitable(out):
            out = await out
        if isinstance(out, str):
            out = AIMessage(out)
        if not isinstance(out, AIMessage):
            raise InputTypeError(
                f"The function of FunctionChatModel must return a string or an AIMessage, "
                f"got {out!r} (a {type(out).__name__})."
            )
        return out

    async def _astream(
        self, messages: list[BaseMessage], *, stop: list[str] | None = None, **params: Any
    ) -> AsyncIterator[AIMessageChunk]:
        if self.stream_func is None:
            msg = await self._agenerate(messages, stop=stop, **params)
            tokens = _words(msg.content) if isinstance(msg.content, str) else [msg.content]
            for chunk in _stream_message(msg, cast(list[str], tokens), msg.usage_metadata):
                yield chunk
            return
        out = self.stream_func(*self._args(self.stream_func, messages, stop, params))
        if hasattr(out, "__aiter__"):
            agen = out
            try:
                async for item in agen:
                    yield item if isinstance(item, AIMessageChunk) else AIMessageChunk(item)
            finally:
                await aclose(agen)
        else:
            gen = iter(out)
            try:
                for item in gen:
                    yield item if isinstance(item, AIMessageChunk) else AIMessageChunk(item)
            finally:
                close = getattr(gen, "close", None)
                if close is not None:
                    close()


class FakeTimedChatModel(BaseChatModel):
    """Scripted answers at a configurable speed, to simulate a real provider.

    The first token arrives after ``time_to_first_token`` seconds, then
    ``tokens_per_second`` tokens (words and the spaces between them) arrive each second;
    ``jitter`` (0 to 1) varies every delay by up to that fraction, drawn from a random
    generator seeded with ``seed`` so runs repeat. ``ainvoke`` waits the whole time, then
    answers. ``sleep`` can be replaced (for a fake clock in tests).

    >>> model = FakeTimedChatModel(["Hi there"], time_to_first_token=0.2, tokens_per_second=50)
    """

    call_params = frozenset()  # scripted answers: no parameter changes them

    responses: list[str] = Field(default_factory=lambda: ["This is a simulated response."])
    """The answers, in turn."""
    time_to_first_token: float = 0.0
    """Seconds before the first token."""
    tokens_per_second: float | None = None
    """Tokens (words and the spaces between them) a second; None: all at once."""
    jitter: float = 0.0
    """Each delay varies by up to this fraction (0 to 1)."""
    seed: int | None = None
    """The seed of the jitter's random sequence (None: not reproducible)."""
    sleep: Annotated[Callable[[float], Awaitable[object]], SkipValidation()] = asyncio.sleep
    """How to wait (replace it for a fake clock in tests)."""
    i: int = 0
    """The index of the next answer."""

    def __init__(self, responses: Sequence[str] | None = None, /, **fields: Any) -> None:
        # The answers may also be given by position (runnables' older signature).
        if responses is not None:
            fields["responses"] = responses
        given = fields.get("responses", ["This is a simulated response."])
        if isinstance(given, str) or not given:
            raise InvalidArgumentError(
                f"FakeTimedChatModel needs a non-empty list of response strings, got {given!r}."
            )
        fields["responses"] = list(given)
        ttft = fields.get("time_to_first_token", 0.0)
        if ttft < 0:
            raise InvalidArgumentError(f"time_to_first_token must be 0 or more, got {ttft!r}.")
        tps = fields.get("tokens_per_second")
        if tps is not None and not tps > 0:
            raise InvalidArgumentError(f"tokens_per_second must be above 0 or None, got {tps!r}.")
        jitter = fields.get("jitter", 0.0)
        if not 0 <= jitter <= 1:
            raise InvalidArgumentError(f"jitter must be between 0 and 1, got {jitter!r}.")
        super().__init__(**fields)

    if TYPE_CHECKING:  # set in the instance dict by model_post_init and __setattr__
        _random: random.Random

    def model_post_init(self, context: Any, /) -> None:
        """Start the jitter's random sequence from ``seed``."""
        super().model_post_init(context)
        object.__setattr__(self, "_random", random.Random(self.seed))

    # Setting the seed (directly, or per call through configurable_fields) starts a
    # fresh random sequence from it, so the jitter it sets takes effect.
    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, value)
        if name == "seed":
            object.__setattr__(self, "_random", random.Random(value))

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"responses": self.responses}

    def _next(self) -> str:
        text = self.responses[self.i % len(self.responses)]
        self.i += 1
        return text

    def _delay(self, base: float) -> float:
        if base <= 0:
            return 0.0
        if self.jitter:
            base *= 1 + self.jitter * self._random.uniform(-1.0, 1.0)
        return base

    def _delays(self, n_tokens: int) -> list[float]:
        gap = 1.0 / self.tokens_per_second if self.tokens_per_second else 0.0
        return [self._delay(self.time_to_first_token)] + [
            self._delay(gap) for _ in range(max(0, n_tokens - 1))
        ]

    async def _agenerate(
        self, messages: list[BaseMessage], *, stop: list[str] | None = None, **params: Any
    ) -> AIMessage:
        text = self._next()
        total = sum(self._delays(len(_words(text))))
        if total > 0:
            await self.sleep(total)
        return AIMessage(text, usage_metadata=_estimate_usage(messages, len(text)))

    async def _astream(
        self, messages: list[BaseMessage], *, stop: list[str] | None = None, **params: Any
    ) -> AsyncIterator[AIMessageChunk]:
        text = self._next()
        tokens = _words(text)
        delays = self._delays(len(tokens))
        usage = _estimate_usage(messages, len(text))
        for n, (token, delay) in enumerate(zip(tokens, delays, strict=False)):
            if delay > 0:
                await self.sleep(delay)
            if n == len(tokens) - 1:
                yield AIMessageChunk(token, usage_metadata=usage, chunk_position="last")
            else:
                yield AIMessageChunk(token)
        if not tokens:
            if delays[0] > 0:
                await self.sleep(delays[0])
            yield AIMessageChunk("", usage_metadata=usage, chunk_position="last")
