"""A chat model or a chain that takes messages, served as OpenAI's chat-completions API.

``add_openai_routes(app, chain, model_name="my-chain")`` adds:

- ``POST {prefix}/chat/completions``: the request's ``messages`` (OpenAI's format) go
  through :func:`runnables.messages.convert_to_messages` and into the runnable. Its
  output may be an ``AIMessage`` (or chunks of one) or a string (or string chunks, as
  from ``... | StrOutputParser()``). ``stream: false`` answers a ``chat.completion``;
  ``stream: true`` answers SSE ``chat.completion.chunk`` events ending with
  ``data: [DONE]``, plus a final usage chunk when ``stream_options.include_usage`` is
  set. ``usage`` comes from the message's ``usage_metadata`` when the model reports it.
  Tool calls in the output are returned as OpenAI tool calls.
- ``GET {prefix}/models``: the served model names.

Several runnables can be served at once by passing a mapping of model names to
runnables; the request's ``model`` then picks one (404 ``model_not_found`` otherwise).
With a single runnable, any ``model`` is accepted and echoed back.
``GET {prefix}/models/{id}`` describes one served model.

The request is honoured, never ignored (see :mod:`runnables.serve.openai_request`):
``max_tokens``/``max_completion_tokens``, ``stop``, ``temperature``, ``top_p``,
``seed``, the penalties, ``tools``/``tool_choice`` and ``response_format`` are bound to
the chain's chat model for the call, and a chain without a reachable chat model, or a
model that does not honour one of them, gets a 400 naming it. ``n`` runs the chain
``n`` times (``n`` choices). ``finish_reason`` is ``length`` when the model says
``max_tokens`` cut its answer, ``tool_calls`` when it called tools. Requests are
validated as OpenAI does (roles, content, types and ranges): 400 with ``param`` set.

Errors use OpenAI's shape, ``{"error": {"message", "type", "param", "code"}}``, so the
official SDK raises its usual exceptions (``BadRequestError``, ``AuthenticationError``,
``RateLimitError``...); a run that refuses the request's messages or config (an
``InvalidInputError`` or ``ConfigError``) is a 400 with that error's message. The
guards are those of ``add_routes`` (bearer auth, body size, in-flight cap with
``Retry-After``, ``timeout`` → 504), and a client that disconnects cancels the run at
once.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any, cast
from uuid import uuid4

try:
    from fastapi import APIRouter, FastAPI, HTTPException, Request
    from fastapi.exceptions import RequestValidationError
    from starlette.responses import JSONResponse, Response
except ImportError as exc:  # pragma: no cover - depends on the environment
    from runnables.errors import MissingExtraError

    raise MissingExtraError("Serving runnables over HTTP", "serve", "fastapi") from exc

from runnables.core.base import Runnable, coerce_to_runnable
from runnables.core.config import RunnableConfig
from runnables.errors import ConfigError, InvalidArgumentError, InvalidInputError, StepTimeoutError
from runnables.messages import AIMessage, BaseMessage
from runnables.serve.guards import (
    ClientDisconnectedError,
    InFlight,
    check_bearer,
    read_json_body,
    until_disconnect,
)
from runnables.serve.openai_request import (
    ChatRequest,
    FinishReasons,
    ModelSlot,
    RequestError,
    bind_request,
    find_model,
    read_request,
)
from runnables.serve.shutdown import register
from runnables.serve.sse import SSEResponse, dumps, encode

__all__ = ["add_openai_routes"]

logger = logging.getLogger("runnables.serve")

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "not_found_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
    503: "server_overloaded",
    504: "timeout",
    500: "server_error",
}


# A run that refuses what the request sent: the client's mistake, so a 400 naming it.
_CLIENT_ERRORS = (InvalidInputError, ConfigError)


def add_openai_routes(
    app: FastAPI | APIRouter,
    runnable: Any,
    prefix: str = "/v1",
    *,
    model_name: str = "runnables",
    auth_token: str | Sequence[str] | None = None,
    max_body_bytes: int | None = 1_000_000,
    max_in_flight: int | None = None,
    retry_after: float = 1.0,
    timeout: float | None = None,
) -> None:
    """Serve ``runnable`` as ``POST {prefix}/chat/completions`` and ``GET {prefix}/models``.

    ``runnable`` is a chat model or chain that takes a list of messages, or a mapping of
    model names to such runnables. The other arguments mean what they mean for
    :func:`runnables.serve.add_routes`.

    >>> from fastapi import FastAPI
    >>> from runnables.models import FakeListChatModel
    >>> app = FastAPI()
    >>> add_openai_routes(app, FakeListChatModel(responses=["hi"]), model_name="fake")
    """
    if prefix and (not prefix.startswith("/") or prefix.endswith("/")):
        raise InvalidArgumentError(
            f"add_openai_routes prefix must start with '/' and not end with one, got "
            f"{prefix!r}; for example prefix='/v1'."
        )
    if isinstance(runnable, Mapping):
        if not runnable:
            raise InvalidArgumentError("add_openai_routes got an empty mapping of model names.")
        models = {str(k): coerce_to_runnable(v) for k, v in runnable.items()}
        strict = True
    else:
        models = {model_name: coerce_to_runnable(runnable)}
        strict = False
    if isinstance(auth_token, str):
        auth_token = [auth_token]
    handler = _OpenAIHandler(
        models,
        strict=strict,
        tokens=[t.encode() for t in auth_token] if auth_token is not None else None,
        max_body_bytes=max_body_bytes,
        in_flight=InFlight(max_in_flight, retry_after),
        timeout=timeout,
        owner=app,
    )
    app.add_api_route(
        f"{prefix}/chat/completions",
        handler.chat_completions,
        methods=["POST"],
        summary="Create a chat completion (OpenAI-compatible)",
        response_model=None,
    )
    app.add_api_route(
        f"{prefix}/models",
        handler.list_models,
        methods=["GET"],
        summary="List the served models (OpenAI-compatible)",
        response_model=None,
    )
    app.add_api_route(
        f"{prefix}/models/{{model_id:path}}",
        handler.get_model,
        methods=["GET"],
        summary="Describe one served model (OpenAI-compatible)",
        response_model=None,
    )


def _openai_error(
    status: int,
    message: str,
    *,
    param: str | None = None,
    code: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    return JSONResponse(
        {
            "error": {
                "message": message,
                "type": _ERROR_TYPES.get(status, "invalid_request_error"),
                "param": param,
                "code": code,
            }
        },
        status_code=status,
        headers=dict(headers or {}),
    )


class _OpenAIHandler:
    def __init__(
        self,
        models: dict[str, Runnable[Any, Any]],
        *,
        strict: bool,
        tokens: list[bytes] | None,
        max_body_bytes: int | None,
        in_flight: InFlight,
        timeout: float | None,
        owner: object,
    ) -> None:
        self.models = models
        # Found once: where each chain's chat model is, for binding requests' parameters.
        self.slots: dict[str, ModelSlot | str] = {k: find_model(r) for k, r in models.items()}
        self.strict = strict
        self.tokens = tokens
        self.max_body_bytes = max_body_bytes
        self.in_flight = in_flight
        self.timeout = timeout
        self.created = int(time.time())
        self.owner = owner  # for begin_shutdown(app)
        register(self)

    def begin_shutdown(self, grace: float | None) -> None:
        """Answer new requests 503 from now on (see :mod:`runnables.serve.shutdown`).

        Completions already running are left to finish; uvicorn's
        ``timeout_graceful_shutdown`` bounds them (``runnables serve`` sets it).
        """
        self.in_flight.closing = True

    async def list_models(self, request: Request) -> Response:
        """The models this server answers for, in OpenAI's list format."""
        if self.tokens is not None:
            try:
                check_bearer(request, self.tokens)
            except HTTPException as exc:
                return _openai_error(exc.status_code, str(exc.detail), headers=exc.headers)
        data = [self._model_object(name) for name in self.models]
        return JSONResponse({"object": "list", "data": data})

    def _model_object(self, name: str) -> dict[str, Any]:
        return {"id": name, "object": "model", "created": self.created, "owned_by": "runnables"}

    async def get_model(self, request: Request, model_id: str) -> Response:
        """One served model, in OpenAI's format (404 ``model_not_found`` otherwise)."""
        if self.tokens is not None:
            try:
                check_bearer(request, self.tokens)
            except HTTPException as exc:
                return _openai_error(exc.status_code, str(exc.detail), headers=exc.headers)
        if model_id not in self.models:
            return _openai_error(
                404,
                f"The model {model_id!r} does not exist here; the served models are "
                f"{sorted(self.models)!r}.",
                param="model",
                code="model_not_found",
            )
        return JSONResponse(self._model_object(model_id))

    async def chat_completions(self, request: Request) -> Response:
        """Answer one chat-completions request, streamed or not."""
        try:
            if self.tokens is not None:
                check_bearer(request, self.tokens)
            body = await read_json_body(request, self.max_body_bytes)
            finishes = FinishReasons()
            runnable, chat, convert = self._parse(body, finishes)
            self.in_flight.enter()
        except HTTPException as exc:
            return _openai_error(exc.status_code, str(exc.detail), headers=exc.headers)
        except RequestValidationError as exc:
            error = exc.errors()[0]
            param = ".".join(str(p) for p in error.get("loc", ())[1:]) or None
            return _openai_error(400, str(error.get("msg")), param=param)
        except RequestError as exc:
            return _openai_error(exc.status, exc.message, param=exc.param, code=exc.code)
        run_id = uuid4()
        config: dict[str, Any] = {"run_id": run_id}
        if self.timeout is not None:
            config["timeout"] = self.timeout
        completion_id = f"chatcmpl-{run_id.hex}"
        if chat.stream:
            frames = self._stream(
                runnable, chat, cast(RunnableConfig, config), completion_id, convert, finishes
            )
            in_flight = self.in_flight

            async def leave() -> None:
                in_flight.leave()

            # As on add_routes' streams: a client that never reads cannot hold its slot
            # past the timeout (see SSEResponse's deadline).
            deadline = None if self.timeout is None else self.timeout + 1.0
            return SSEResponse(frames, on_close=leave, deadline=deadline)
        run_ids = [run_id] + [uuid4() for _ in range(chat.n - 1)]
        try:
            if chat.n == 1:
                outputs = [
                    await until_disconnect(
                        request, runnable.ainvoke(chat.messages, cast(RunnableConfig, config))
                    )
                ]
            else:
                configs = [{**config, "run_id": rid} for rid in run_ids]
                outputs = await until_disconnect(
                    request,
                    runnable.abatch([chat.messages] * chat.n, cast(list[RunnableConfig], configs)),
                )
            if convert is not None:
                outputs = [convert(o) for o in outputs]
        except ClientDisconnectedError:
            logger.info("Run %s was cancelled: the client disconnected.", run_id)
            return Response(status_code=499)
        except StepTimeoutError as exc:
            logger.warning("Run %s timed out: %s", run_id, exc)
            return _openai_error(504, _timeout_message(exc))
        except _CLIENT_ERRORS as exc:
            logger.info("Run %s refused its input or config: %s", run_id, exc)
            return _openai_error(400, str(exc))
        except Exception:
            logger.exception("Run %s failed.", run_id)
            return _openai_error(500, f"Internal Server Error (run id {run_id}).")
        finally:
            self.in_flight.leave()
        choices = []
        usage: dict[str, int] | None = None
        for index, output in enumerate(outputs):
            text, tool_calls, piece_usage, finish = _read_output(output)
            finish = finish or finishes.get(run_ids[index])
            if piece_usage is not None:
                usage = _add_usage(usage, piece_usage)
            message: dict[str, Any] = {"role": "assistant", "content": text}
            if tool_calls:
                message["tool_calls"] = tool_calls
            choices.append(
                {
                    "index": index,
                    "message": message,
                    "finish_reason": _finish_reason(finish, bool(tool_calls)),
                    "logprobs": None,
                }
            )
        answer: dict[str, Any] = {
            "id": completion_id,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": chat.model,
            "choices": choices,
        }
        if usage is not None:
            answer["usage"] = usage
        return Response(encode(dumps(answer)), media_type="application/json")

    def _parse(
        self, body: Any, finishes: FinishReasons
    ) -> tuple[Runnable[Any, Any], ChatRequest, Callable[[Any], Any] | None]:
        chat = read_request(body)
        if self.strict:
            if chat.model not in self.models:
                raise RequestError(
                    f"The model {chat.model!r} does not exist here; the served models are "
                    f"{sorted(self.models)!r}.",
                    "model",
                    "model_not_found",
                    status=404,
                )
            name = chat.model
        else:
            name = next(iter(self.models))
            if not chat.model:
                chat.model = name
        runnable, convert = bind_request(self.models[name], self.slots[name], chat, finishes)
        return runnable, chat, convert

    async def _stream(
        self,
        runnable: Runnable[Any, Any],
        chat: ChatRequest,
        config: RunnableConfig,
        completion_id: str,
        convert: Callable[[Any], Any] | None,
        finishes: FinishReasons,
    ) -> AsyncIterator[bytes]:
        created = int(time.time())
        head = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": chat.model,
        }
        extra = {"usage": None} if chat.include_usage else {}

        def chunk(index: int, delta: dict[str, Any], finish: str | None = None) -> bytes:
            choice = {"index": index, "delta": delta, "finish_reason": finish, "logprobs": None}
            return b"data: " + encode(dumps({**head, "choices": [choice], **extra})) + b"\n\n"

        usage: dict[str, int] | None = None
        # The n choices are streamed one after another; OpenAI's clients tell them
        # apart by their index, not by the order of the chunks.
        for index in range(chat.n):
            yield chunk(index, {"role": "assistant", "content": ""})
            saw_tools = False
            finish: str | None = None
            run_config = (
                config if index == 0 else cast(RunnableConfig, {**config, "run_id": uuid4()})
            )
            source: AsyncIterator[Any]
            if convert is not None:
                # Structured output is read from the whole tool call, so it is one chunk.
                whole = convert
                source = _one(whole, runnable.ainvoke(chat.messages, run_config))
            else:
                source = runnable.astream(chat.messages, run_config)
            try:
                async for piece in source:
                    text, tool_deltas, piece_usage, piece_finish = _read_chunk(piece)
                    if piece_usage is not None:
                        usage = _add_usage(usage, piece_usage)
                    if piece_finish is not None:
                        finish = piece_finish
                    if tool_deltas:
                        saw_tools = True
                        yield chunk(index, {"tool_calls": tool_deltas})
                    if text:
                        yield chunk(index, {"content": text})
            except StepTimeoutError as exc:
                logger.warning("Run %s timed out: %s", config.get("run_id"), exc)
                error = {
                    "error": {
                        "message": _timeout_message(exc),
                        "type": "timeout",
                        "param": None,
                        "code": None,
                    }
                }
                yield b"data: " + dumps(error).encode() + b"\n\n"
                return
            except _CLIENT_ERRORS as exc:
                logger.info("Run %s refused its input or config: %s", config.get("run_id"), exc)
                error = {
                    "error": {
                        "message": str(exc),
                        "type": "invalid_request_error",
                        "param": None,
                        "code": None,
                    }
                }
                yield b"data: " + encode(dumps(error)) + b"\n\n"
                return
            except Exception:
                logger.exception("Run %s failed.", config.get("run_id"))
                error = {
                    "error": {
                        "message": "Internal Server Error",
                        "type": "server_error",
                        "param": None,
                        "code": None,
                    }
                }
                yield b"data: " + dumps(error).encode() + b"\n\n"
                return
            finally:
                await source.aclose()  # type: ignore[attr-defined]
            finish = finish or finishes.get(run_config.get("run_id"))
            yield chunk(index, {}, _finish_reason(finish, saw_tools))
        if chat.include_usage:
            final = {**head, "choices": [], "usage": usage}
            yield b"data: " + dumps(final).encode() + b"\n\n"
        yield b"data: [DONE]\n\n"


async def _one(convert: Callable[[Any], Any], work: Awaitable[Any]) -> AsyncIterator[Any]:
    yield convert(await work)


def _finish_reason(reported: str | None, called_tools: bool) -> str:
    # OpenAI's values; a model that reports another (llama.cpp's "eos") stopped on its own.
    if called_tools or reported == "tool_calls":
        return "tool_calls"
    if reported in ("length", "content_filter"):
        return reported
    return "stop"


def _timeout_message(exc: StepTimeoutError) -> str:
    # The same words as add_routes' 504; the step names stay in the server's log.
    return f"The run took longer than this server's limit of {exc.timeout:g} s."


def _usage(meta: Mapping[str, Any] | None) -> dict[str, int] | None:
    if not meta:
        return None
    return {
        "prompt_tokens": int(meta.get("input_tokens", 0)),
        "completion_tokens": int(meta.get("output_tokens", 0)),
        "total_tokens": int(meta.get("total_tokens", 0)),
    }


def _add_usage(a: dict[str, int] | None, b: dict[str, int]) -> dict[str, int]:
    if a is None:
        return b
    return {k: a.get(k, 0) + v for k, v in b.items()}


def _openai_tool_calls(message: AIMessage) -> list[dict[str, Any]]:
    return [
        {
            "id": call.get("id") or f"call_{i}",
            "type": "function",
            "function": {"name": call["name"], "arguments": json.dumps(call["args"])},
        }
        for i, call in enumerate(message.tool_calls)
    ]


def _reported_finish(message: BaseMessage) -> str | None:
    meta = message.response_metadata
    finish = meta.get("finish_reason") if meta else None
    return finish if isinstance(finish, str) else None


def _read_output(
    output: Any,
) -> tuple[str, list[dict[str, Any]], dict[str, int] | None, str | None]:
    if isinstance(output, AIMessage):
        return (
            output.text,
            _openai_tool_calls(output),
            _usage(output.usage_metadata),
            _reported_finish(output),
        )
    if isinstance(output, BaseMessage):
        return output.text, [], None, _reported_finish(output)
    if isinstance(output, str):
        return output, [], None, None
    return dumps(output), [], None, None


def _read_chunk(
    piece: Any,
) -> tuple[str, list[dict[str, Any]], dict[str, int] | None, str | None]:
    if isinstance(piece, BaseMessage):
        deltas: list[dict[str, Any]] = []
        for c in getattr(piece, "tool_call_chunks", None) or ():
            delta: dict[str, Any] = {"index": c.get("index") or 0}
            if c.get("id"):
                delta["id"] = c["id"]
                delta["type"] = "function"
            delta["function"] = {"name": c.get("name") or "", "arguments": c.get("args") or ""}
            deltas.append(delta)
        return (
            piece.text,
            deltas,
            _usage(getattr(piece, "usage_metadata", None)),
            _reported_finish(piece),
        )
    if isinstance(piece, str):
        return piece, [], None, None
    return "", [], None, None
