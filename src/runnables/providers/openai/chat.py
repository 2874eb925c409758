"""``ChatOpenAI``: the Chat Completions API of OpenAI and of compatible servers.

Works against OpenAI itself and any server that speaks the same API (vLLM, llama.cpp's
server, Ollama, LiteLLM). The HTTP work (pooled clients, retries, timeouts, streaming,
adaptive concurrency) lives in :mod:`.transport`; this module turns messages and call
parameters into a request body and the server's JSON into messages and chunks.

Importing this module does not import httpx; creating a ``ChatOpenAI`` does, and says
how to install it if it is missing.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import Field

from runnables.core.config import CURRENT
from runnables.errors import ArgumentTypeError, InvalidArgumentError, MissingExtraError
from runnables.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    UsageMetadata,
    invalid_tool_call,
    message_to_openai_dict,
    tool_call,
)
from runnables.models.base import BaseChatModel
from runnables.models.cache import BaseCache
from runnables.models.ratelimit import RateLimiter
from runnables.providers.openai.errors import (
    APIError,
    MalformedStreamError,
    MissingCredentialsError,
)

if TYPE_CHECKING:
    from runnables.providers.openai.transport import OpenAITransport

__all__ = ["ChatOpenAI"]

DEFAULT_BASE_URL = "https://api.openai.com/v1"
_PATH = "/chat/completions"


def _load_transport() -> type[OpenAITransport]:
    try:
        from runnables.providers.openai.transport import OpenAITransport
    except ImportError as exc:
        if getattr(exc, "name", None) not in ("httpx", "httpcore", "h11", "anyio"):
            raise
        raise MissingExtraError("ChatOpenAI", "openai", "httpx") from exc
    return OpenAITransport


class ChatOpenAI(BaseChatModel):
    """A chat model served by the OpenAI Chat Completions API or a compatible server.

    ``base_url`` defaults to ``OPENAI_BASE_URL`` then OpenAI's; ``api_key`` to
    ``OPENAI_API_KEY``. A server on this machine (``localhost``, ``127.0.0.1``) needs no
    key. Sampling parameters set here are the defaults of every call; ``bind(...)``,
    ``bind_tools(...)`` and ``invoke(x, stop=[...])`` override them per call, and any
    other bound parameter (``logprobs``, ``parallel_tool_calls``...) is sent as is.

    ``response_format``: ``{"type": "json_object"}``, an OpenAI ``json_schema`` format,
    a JSON schema dict, or a pydantic model class (the answer then carries the validated
    object in ``additional_kwargs["parsed"]``).

    Timeouts, in seconds: ``connect_timeout``; ``timeout``, the wait for a whole answer
    that is not streamed (each attempt: connecting, headers and body); ``stream_idle_timeout``,
    the longest silence allowed between two pieces of a stream (and before its first);
    ``stream_event_timeout`` (default 300 s), the longest a stream may go without an event
    that carries the answer even though the connection is not silent (a server that only
    sends keep-alive comments or pings, or trickles bytes), and before the first one. The
    call's own ``timeout`` config bounds all of them and every retry. ``max_retries``
    retries connection errors, timeouts before the first streamed piece, 408, 409, 429 and
    5xx (also an error object with such a status as a stream's first event), with
    exponential backoff and jitter, honouring ``Retry-After`` up to 60 s (a longer wait,
    or one past the call's deadline, raises the error with a note saying how long the
    server asked for).

    ``max_concurrency`` bounds the requests this model has in flight (on one event loop),
    with or without ``adaptive_concurrency``. With it, every model calling the same
    ``base_url`` also shares one adaptive bound for that endpoint: it halves on every
    burst of 429s and grows back as requests succeed, up to the largest
    ``max_concurrency`` among them.

    >>> model = ChatOpenAI(model="gpt-4o-mini")  # doctest: +SKIP
    >>> (await model.ainvoke("Hello")).content  # doctest: +SKIP
    """

    # The settings are pydantic fields (compared by ``==``, copied by ``model_copy``);
    # ``base_url`` and ``max_retries`` live in the transport (properties below), and the
    # key is private so it never reaches reprs, cache keys or traces.
    model_name: str = "gpt-4o-mini"
    """The model name sent with every request (``model=`` in the constructor)."""
    temperature: float | None = None
    max_tokens: int | None = None
    stop: list[str] | None = None
    seed: int | None = None
    top_p: float | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    response_format: Mapping[str, Any] | type | None = None
    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Other request parameters, sent as they are."""
    stream_usage: bool = True
    timeout: float = 600.0
    connect_timeout: float = 10.0
    stream_idle_timeout: float = 120.0
    stream_event_timeout: float = 300.0
    max_concurrency: int = 256
    adaptive_concurrency: bool = True
    default_headers: dict[str, str] = Field(default_factory=dict)

    def __init__(
        self,
        *,
        model: str = "gpt-4o-mini",
        base_url: str | None = None,
        api_key: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        stop: str | Sequence[str] | None = None,
        seed: int | None = None,
        top_p: float | None = None,
        frequency_penalty: float | None = None,
        presence_penalty: float | None = None,
        response_format: Mapping[str, Any] | type | None = None,
        model_kwargs: Mapping[str, Any] | None = None,
        stream_usage: bool = True,
        timeout: float = 600.0,
        connect_timeout: float = 10.0,
        stream_idle_timeout: float = 120.0,
        stream_event_timeout: float = 300.0,
        max_retries: int = 2,
        max_concurrency: int = 256,
        adaptive_concurrency: bool = True,
        default_headers: Mapping[str, str] | None = None,
        cache: BaseCache | bool | None = None,
        rate_limiter: RateLimiter | None = None,
        name: str | None = None,
    ) -> None:
        transport_cls = _load_transport()
        if api_key is None:
            api_key = os.environ.get("OPENAI_API_KEY") or None
        if base_url is None:
            base_url = os.environ.get("OPENAI_BASE_URL") or os.environ.get("OPENAI_API_BASE")
            if base_url is None:
                if api_key is None:
                    raise MissingCredentialsError()
                base_url = DEFAULT_BASE_URL
        if not base_url.startswith(("http://", "https://")):
            raise InvalidArgumentError(
                f"base_url must start with http:// or https://, got {base_url!r}. "
                "For example: ChatOpenAI(base_url='http://localhost:8000/v1')."
            )
        if api_key is None and base_url.rstrip("/") == DEFAULT_BASE_URL:
            raise MissingCredentialsError()
        for key, value in (("max_retries", max_retries), ("max_concurrency", max_concurrency)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise InvalidArgumentError(
                    f"{key} must be a whole number of at least 0, got {value!r}."
                )
        for key, seconds in (
            ("timeout", timeout),
            ("connect_timeout", connect_timeout),
            ("stream_idle_timeout", stream_idle_timeout),
            ("stream_event_timeout", stream_event_timeout),
        ):
            if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or seconds <= 0:
                raise InvalidArgumentError(
                    f"{key} must be a number of seconds above 0, got {seconds!r}."
                )
        super().__init__(
            model_name=model,
            temperature=temperature,
            max_tokens=max_tokens,
            stop=[stop] if isinstance(stop, str) else (list(stop) if stop else None),
            seed=seed,
            top_p=top_p,
            frequency_penalty=frequency_penalty,
            presence_penalty=presence_penalty,
            response_format=response_format,
            model_kwargs=dict(model_kwargs or {}),
            stream_usage=stream_usage,
            timeout=timeout,
            connect_timeout=connect_timeout,
            stream_idle_timeout=stream_idle_timeout,
            stream_event_timeout=stream_event_timeout,
            max_concurrency=max_concurrency,
            adaptive_concurrency=adaptive_concurrency,
            default_headers=dict(default_headers or {}),
            cache=cache,
            rate_limiter=rate_limiter,
            name=name,
        )
        self.base_url = base_url.rstrip("/")
        self.max_retries = max_retries
        # Private, so the key never reaches reprs, cache keys or traces.
        self._api_key = api_key
        self._transport = transport_cls(
            base_url=self.base_url,
            api_key=api_key,
            connect_timeout=connect_timeout,
            timeout=timeout,
            stream_idle_timeout=stream_idle_timeout,
            stream_event_timeout=stream_event_timeout,
            max_retries=max_retries,
            max_concurrency=max(1, max_concurrency),
            adaptive_concurrency=adaptive_concurrency,
            headers=dict(default_headers or {}),
        )

    def _configured(self, values: Mapping[str, Any]) -> ChatOpenAI:
        # A configured copy keeps this model's transport (its connection pool and the
        # endpoint's shared concurrency bound): set on a copy, not built anew.
        return self._copy_with(values)

    @property
    def model(self) -> str:
        """The model name sent with every request (``model_name`` too, as in langchain)."""
        return self.model_name

    # base_url and max_retries live in the transport: setting them (configurable_fields
    # does, on a copy) makes a new transport, so a configured value is never ignored.

    @property
    def base_url(self) -> str:
        """The server's address, up to ``/chat/completions`` (settable: configurable)."""
        return self._base_url

    @base_url.setter
    def base_url(self, value: str) -> None:
        from runnables.providers.openai.transport import is_loopback

        if not isinstance(value, str) or not value.startswith(("http://", "https://")):
            raise InvalidArgumentError(
                f"base_url must start with http:// or https://, got {value!r}. "
                "For example: ChatOpenAI(base_url='http://localhost:8000/v1')."
            )
        self._base_url = value.rstrip("/")
        self._loopback = is_loopback(self._base_url)
        self._to_chunks = _chunk_converter(self._base_url + _PATH)
        transport = self.__dict__.get("_transport")
        if transport is not None:
            self._transport = dataclasses.replace(transport, base_url=self._base_url)

    @property
    def max_retries(self) -> int:
        """How many times a failed request is retried (settable: configurable)."""
        return self._max_retries

    @max_retries.setter
    def max_retries(self, value: int) -> None:
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise InvalidArgumentError(
                f"max_retries must be a whole number of at least 0, got {value!r}."
            )
        self._max_retries = value
        transport = self.__dict__.get("_transport")
        if transport is not None:
            self._transport = dataclasses.replace(transport, max_retries=value)

    @property
    def _llm_type(self) -> str:
        return "openai-chat"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "model": self.model_name,
            "base_url": self.base_url,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "stop": self.stop,
            "seed": self.seed,
            "top_p": self.top_p,
            "frequency_penalty": self.frequency_penalty,
            "presence_penalty": self.presence_penalty,
            "response_format": _format_key(self.response_format),
            "model_kwargs": self.model_kwargs,
        }

    # ------------------------------------------------------------------ requests

    def _payload(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None,
        params: dict[str, Any],
        stream: bool,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model_name,
            "messages": [message_to_openai_dict(m) for m in messages],
        }
        for key in ("temperature", "max_tokens", "seed", "top_p"):
            value = getattr(self, key)
            if value is not None:
                body[key] = value
        if self.frequency_penalty is not None:
            body["frequency_penalty"] = self.frequency_penalty
        if self.presence_penalty is not None:
            body["presence_penalty"] = self.presence_penalty
        if self.response_format is not None:
            body["response_format"] = _response_format(self.response_format)
        body.update(self.model_kwargs)
        for key, value in params.items():
            if value is None:
                continue
            if key == "response_format":
                value = _response_format(value)
            elif key == "model":
                continue  # the model is chosen when the ChatOpenAI is made
            body[key] = value
        stop = stop if stop is not None else self.stop
        if stop:
            body["stop"] = [stop] if isinstance(stop, str) else list(stop)
        if stream:
            body["stream"] = True
            if self.stream_usage:
                body["stream_options"] = {"include_usage": True}
        return body

    def _deadline(self) -> float | None:
        ctx = CURRENT.get()
        return ctx.deadline if ctx is not None else None

    async def _agenerate(
        self, messages: list[BaseMessage], *, stop: list[str] | None = None, **params: Any
    ) -> AIMessage:
        body = self._payload(messages, stop, params, stream=False)
        data = await self._transport.post(_PATH, body, deadline=self._deadline())
        message = _message_from_completion(data, self._transport.base_url + _PATH)
        fmt = params.get("response_format", self.response_format)
        if isinstance(fmt, type) and hasattr(fmt, "model_validate_json") and message.content:
            message.additional_kwargs["parsed"] = fmt.model_validate_json(message.text)
        return message

    def _astream(
        self, messages: list[BaseMessage], *, stop: list[str] | None = None, **params: Any
    ) -> AsyncIterator[AIMessageChunk]:
        # Not a generator of its own: the transport's stream turns each event into message
        # chunks itself (one generator layer fewer per chunk), and reads the call's
        # deadline when the stream starts, in the context the engine pulls it in.
        body = self._payload(messages, stop, params, stream=True)
        return self._transport.stream(_PATH, body, deadline=self._deadline, convert=self._to_chunks)

    def __repr__(self) -> str:
        params = f", params={self._params!r}" if self._params else ""
        return f"ChatOpenAI(model={self.model_name!r}, base_url={self.base_url!r}{params})"


def _chunk_converter(url: str) -> Callable[[dict[str, Any]], Any]:
    """The function from a streamed event's JSON to its message chunk(s) (or ``None``)."""
    chunk_cls = AIMessageChunk

    def to_chunks(obj: dict[str, Any]) -> Any:
        try:
            chunk = None
            choices = obj.get("choices")
            if choices:
                choice = choices[0]
                delta = choice.get("delta") or {}
                finish = choice.get("finish_reason")
                tools = delta.get("tool_calls")
                if tools is None and finish is None:
                    # The hot path: one token of text.
                    chunk = chunk_cls(delta.get("content") or "", id=obj.get("id"))
                else:
                    chunk = chunk_cls(
                        delta.get("content") or "",
                        tool_call_chunks=_tool_call_chunks(tools) if tools else None,
                        response_metadata=_finish_metadata(obj, finish),
                        id=obj.get("id"),
                    )
            usage = obj.get("usage")
            if not usage:
                return chunk
            last = chunk_cls(
                "", usage_metadata=_usage(usage), id=obj.get("id"), chunk_position="last"
            )
            return last if chunk is None else [chunk, last]
        except (AttributeError, TypeError, KeyError, IndexError, ValueError) as exc:
            raise _malformed_chunk(url, obj, exc) from None

    return to_chunks


def _finish_metadata(obj: dict[str, Any], finish: Any) -> dict[str, Any]:
    if finish is None:
        return {}
    return {
        "finish_reason": finish,
        "model_name": obj.get("model"),
        "system_fingerprint": obj.get("system_fingerprint"),
        "model_provider": "openai",
    }


def _malformed_chunk(url: str, obj: Any, exc: Exception) -> MalformedStreamError:
    shown = json.dumps(obj, ensure_ascii=False, default=str)
    if len(shown) > 200:
        shown = shown[:200] + "..."
    return MalformedStreamError(
        f"The server at {url} sent a streamed chunk that is not in the Chat Completions "
        f"shape ({type(exc).__name__}: {exc}): {shown}. Check that base_url points at an "
        "OpenAI-compatible server.",
        url=url,
        body=obj,
    )


def _format_key(fmt: Any) -> Any:
    if isinstance(fmt, type):
        return f"{fmt.__module__}.{fmt.__qualname__}"
    return fmt


def _response_format(fmt: Any) -> dict[str, Any]:
    """A ``response_format`` value in the API's shape."""
    if isinstance(fmt, type):
        schema_of = getattr(fmt, "model_json_schema", None)
        if schema_of is None:
            raise ArgumentTypeError(
                f"response_format={fmt!r} is a class but not a pydantic model; pass a pydantic "
                "model class, a JSON schema dict, or {'type': 'json_object'}."
            )
        return {
            "type": "json_schema",
            "json_schema": {"name": fmt.__name__, "schema": schema_of(), "strict": False},
        }
    if isinstance(fmt, Mapping):
        if fmt.get("type") in ("json_schema", "json_object", "text"):
            return dict(fmt)
        # A bare JSON schema.
        name = str(fmt.get("title") or "response")
        return {"type": "json_schema", "json_schema": {"name": name, "schema": dict(fmt)}}
    raise ArgumentTypeError(
        f"response_format must be a dict or a pydantic model class, got {fmt!r} "
        f"(a {type(fmt).__name__})."
    )


def _usage(usage: Mapping[str, Any]) -> UsageMetadata:
    inp = int(usage.get("prompt_tokens") or 0)
    out = int(usage.get("completion_tokens") or 0)
    result: UsageMetadata = {
        "input_tokens": inp,
        "output_tokens": out,
        "total_tokens": int(usage.get("total_tokens") or inp + out),
    }
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens")
    if cached is not None:
        result["input_token_details"] = {"cache_read": int(cached)}
    reasoning = (usage.get("completion_tokens_details") or {}).get("reasoning_tokens")
    if reasoning is not None:
        result["output_token_details"] = {"reasoning": int(reasoning)}
    return result


def _tool_call_chunks(tools: list[dict[str, Any]]) -> list[Any]:
    out = []
    for tc in tools:
        fn = tc.get("function") or {}
        out.append(
            {
                "name": fn.get("name"),
                "args": fn.get("arguments"),
                "id": tc.get("id"),
                "index": tc.get("index"),
                "type": "tool_call_chunk",
            }
        )
    return out


def _message_from_completion(data: Any, url: str) -> AIMessage:
    choices = data.get("choices") if isinstance(data, dict) else None
    if not choices:
        raise APIError(
            f"The server at {url} answered without any choices: {json.dumps(data)[:300]}.",
            url=url,
            body=data,
        )
    choice = choices[0]
    msg = choice.get("message") or {}
    calls = []
    invalid = []
    for tc in msg.get("tool_calls") or ():
        fn = tc.get("function") or {}
        raw = fn.get("arguments") or ""
        try:
            args = json.loads(raw) if raw else {}
        except ValueError:
            args = None
        if isinstance(args, dict):
            calls.append(tool_call(name=fn.get("name", ""), args=args, id=tc.get("id")))
        else:
            invalid.append(
                invalid_tool_call(
                    name=fn.get("name"),
                    args=raw,
                    id=tc.get("id"),
                    error=f"The arguments are not a JSON object: {raw[:200]!r}.",
                )
            )
    extra: dict[str, Any] = {}
    if msg.get("refusal"):
        extra["refusal"] = msg["refusal"]
    usage = data.get("usage")
    return AIMessage(
        msg.get("content") or "",
        tool_calls=calls,
        invalid_tool_calls=invalid,
        usage_metadata=_usage(usage) if usage else None,
        additional_kwargs=extra,
        response_metadata={
            "token_usage": usage,
            "model_name": data.get("model"),
            "system_fingerprint": data.get("system_fingerprint"),
            "finish_reason": choice.get("finish_reason"),
            "logprobs": choice.get("logprobs"),
            "model_provider": "openai",
        },
        id=data.get("id"),
    )
