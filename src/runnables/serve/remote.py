"""``RemoteRunnable``: a chain served by ``add_routes`` (or LangServe), used as a local step.

    from runnables.serve import RemoteRunnable

    chat = RemoteRunnable("http://127.0.0.1:8000/chat")
    await chat.ainvoke({"topic": "cats"})
    async for chunk in chat.astream({"topic": "cats"}):
        print(chunk, end="")
    chain = prepare | chat | postprocess          # composes with local steps

Each call is one HTTP request on a pooled ``httpx.AsyncClient`` (one per event loop,
shared with every other call to the same server):

- ``ainvoke`` posts to ``{url}/invoke``; ``abatch`` sends the whole batch in one post to
  ``{url}/batch``; ``astream`` reads ``{url}/stream`` as server-sent events and yields
  each ``data`` chunk as it arrives; ``astream_events`` reads ``{url}/stream_events``.
- **Resuming**: every event the server sends has an id. Stream requests carry
  ``Resume-Grace: <resume_grace>``, which asks the server to keep the run going that
  long after a dropped connection. If the connection drops in the middle of a stream,
  the client sends the request again with ``Last-Event-ID`` and the server replays what
  was missed, without running the chain again (``max_reconnects`` times, with a short
  backoff). A stream that drops before its first event is not retried: the server may
  or may not have started the chain.
- **Errors**: an HTTP error status, or an ``error`` event in a stream, raises
  :class:`RemoteRunnableError` (also an ``httpx.HTTPStatusError``, as LangServe's client
  raises, so code that catches that keeps working).
- **Cancellation**: leaving a stream early, or cancelling the caller, closes the HTTP
  response at once and, for a run the server keeps for a reconnect, sends ``DELETE
  {url}/stream/{run_id}``, so the server cancels the chain at once either way.
- **Values**: messages and prompt values in the server's JSON (LangServe marks them
  with a ``type`` field) come back as :mod:`runnables.messages` objects.
- **Config**: ``tags``, ``metadata``, ``configurable`` (their JSON-serialisable parts),
  ``run_name``, ``max_concurrency``, ``recursion_limit`` and the time left before the
  call's deadline (as ``timeout``) are sent; the server keeps those its allow-list
  permits. Callbacks stay local.
- **Events in a local chain**: when a local ``astream_events`` runs a chain that
  contains a ``RemoteRunnable``, the remote chain's own events (its steps, models and
  parsers) appear as children of the ``RemoteRunnable`` step, as if it ran locally.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, cast

from runnables.core.base import Runnable
from runnables.core.chunks import gather_input
from runnables.core.config import CURRENT, DEFAULT_RECURSION_LIMIT, Context, RunnableConfig
from runnables.core.leaf import hold_stream, holds, run_leaf
from runnables.core.tasks import aclose
from runnables.errors import InvalidArgumentError, MissingExtraError, RunnablesError
from runnables.wire import ServerEvent, SSEDecoder, dumps, encode

try:
    import httpx
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise MissingExtraError("RemoteRunnable", "serve", "httpx") from exc

if TYPE_CHECKING:
    from runnables.core.events import EventQueue

__all__ = ["RemoteRunnable", "RemoteRunnableError", "SSEParser", "ServerEvent"]

#: Seconds to wait before each reconnection attempt (the last value repeats).
RECONNECT_BACKOFF = (0.05, 0.25, 1.0)

# Connection failures after which a stream can be resumed with Last-Event-ID.
_DROPPED = (httpx.RemoteProtocolError, httpx.ReadError, httpx.ConnectError, httpx.WriteError)


class RemoteRunnableError(RunnablesError, httpx.HTTPStatusError):
    """The server answered with an error: an HTTP error status or an ``error`` event.

    ``status_code`` is the HTTP status (or the one the ``error`` event carries) and
    ``message`` the server's explanation. The server never sends its traceback; look
    for the run id in the server's log.
    """

    def __init__(self, message: str, *, status_code: int, url: str, detail: Any = None) -> None:
        request = httpx.Request("POST", url)
        response = httpx.Response(status_code, text=str(detail or message), request=request)
        super().__init__(message, request=request, response=response)
        self.status_code = status_code
        self.url = url
        self.detail = detail


# ---------------------------------------------------------------------- server-sent events


#: The one SSE codec (:mod:`runnables.wire`), under the name this module gave it.
SSEParser = SSEDecoder


# ---------------------------------------------------------------------- values on the wire


def _message_classes() -> dict[str, type[Any]]:
    from runnables import messages as m

    classes: list[type[Any]] = [
        m.AIMessage,
        m.HumanMessage,
        m.SystemMessage,
        m.ChatMessage,
        m.ToolMessage,
        m.AIMessageChunk,
        m.HumanMessageChunk,
        m.SystemMessageChunk,
        m.ChatMessageChunk,
        m.ToolMessageChunk,
    ]
    return {cls.type: cls for cls in classes}


_MESSAGES: dict[str, type[Any]] = {}


def decode(value: Any) -> Any:
    """Turn the server's JSON back into objects: dicts marked as messages (``"type":
    "ai"``, ``"AIMessageChunk"``...) or prompt values become those objects."""
    if isinstance(value, list):
        return [decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    out = {k: decode(v) if isinstance(v, (dict, list)) else v for k, v in value.items()}
    kind = out.get("type")
    if not isinstance(kind, str):
        return out
    if not _MESSAGES:
        _MESSAGES.update(_message_classes())
    cls = _MESSAGES.get(kind)
    if cls is not None and "content" in out:
        fields = {k: v for k, v in out.items() if k in cls._fields}
        try:
            return cls(**fields)
        except (TypeError, ValueError):
            return out  # a user's dict that only looks like a message
    if kind in ("ChatPromptValue", "ChatPromptValueConcrete") and "messages" in out:
        from runnables.prompts.value import ChatPromptValue

        return ChatPromptValue(out["messages"])
    if kind == "StringPromptValue" and isinstance(out.get("text"), str):
        from runnables.prompts.value import StringPromptValue

        return StringPromptValue(out["text"])
    return out


def _json_safe(value: Any) -> Any:
    """``value`` without the parts JSON cannot carry (objects put in config for local use)."""
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            safe = _json_safe(v)
            if safe is not _SKIP and isinstance(k, str):
                out[k] = safe
        return out
    if isinstance(value, (list, tuple)):
        return [s for s in map(_json_safe, value) if s is not _SKIP]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return _SKIP


_SKIP: Any = object()


# ---------------------------------------------------------------------- the runnable


#: Seconds a RemoteRunnable waits on one network operation unless told otherwise.
DEFAULT_TIMEOUT = 300.0


class RemoteRunnable(Runnable[Any, Any]):
    """A runnable served over HTTP by ``add_routes`` (or by LangServe) at ``url``.

    ``url`` is the route's base, for example ``"http://127.0.0.1:8000/chat"``.
    ``timeout``: seconds httpx may wait on each network operation (connecting, and each
    read of an answer or stream), by default :data:`DEFAULT_TIMEOUT` (300 s), so a server
    that stops answering cannot hang the caller for ever; ``None`` waits as long as it
    takes. The call's own ``timeout`` (config) applies as well. ``headers`` are sent
    with every request (an ``Authorization`` header, for example). ``max_reconnects``:
    how many times a dropped stream is resumed with ``Last-Event-ID`` before the error
    is raised.
    ``resume_grace``: the seconds a stream's run should wait on the server for a
    reconnect (sent as ``Resume-Grace``; the server caps it; ``0`` asks for none).
    """

    _is_leaf = True

    def __init__(
        self,
        url: str,
        *,
        timeout: float | None = DEFAULT_TIMEOUT,
        headers: Mapping[str, str] | None = None,
        max_reconnects: int = 3,
        resume_grace: float = 5.0,
        name: str | None = None,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise InvalidArgumentError(
                f"RemoteRunnable needs an http:// or https:// URL, got {url!r}. Pass the "
                "route's address, for example 'http://127.0.0.1:8000/chat'."
            )
        if timeout is not None and (
            not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or timeout <= 0
        ):
            raise InvalidArgumentError(
                f"RemoteRunnable's timeout must be a number of seconds above 0 or None (no "
                f"limit), got {timeout!r}."
            )
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.headers: dict[str, str] = dict(headers or {})
        self.max_reconnects = max_reconnects
        if not resume_grace >= 0:
            raise InvalidArgumentError(f"resume_grace must be >= 0 seconds, got {resume_grace!r}.")
        self.resume_grace = resume_grace
        self.name = name
        self.kwargs: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"RemoteRunnable({self.url!r})"

    def _with_kwargs(self, kwargs: dict[str, Any]) -> RemoteRunnable:
        # Call-time keyword arguments travel in the request's "kwargs" field.
        new = RemoteRunnable(
            self.url,
            timeout=self.timeout,
            headers=self.headers,
            max_reconnects=self.max_reconnects,
            resume_grace=self.resume_grace,
            name=self.name,
        )
        new.kwargs = {**self.kwargs, **kwargs}
        return new

    def _needs_loop(self) -> bool:
        return True

    # ------------------------------------------------------------------ requests

    def _server_config(self, ctx: Context, config: RunnableConfig | None = None) -> dict[str, Any]:
        """The config sent to the server (see the module docstring for what is sent)."""
        source: Mapping[str, Any] = config if config is not None else ctx.config
        out: dict[str, Any] = {}
        for key in ("tags", "metadata", "configurable"):
            value = source.get(key)
            if value:
                out[key] = _json_safe(value)
        run_name = (config or {}).get("run_name")
        if isinstance(run_name, str):
            out["run_name"] = run_name
        if ctx.limiter is not None:
            out["max_concurrency"] = ctx.limiter.limit
        if ctx.recursion_limit != DEFAULT_RECURSION_LIMIT:
            out["recursion_limit"] = ctx.recursion_limit
        left = self._time_left(ctx)
        if left is not None:
            out["timeout"] = left
        return out

    @staticmethod
    def _time_left(ctx: Context) -> float | None:
        if ctx.deadline is None:
            return None
        return max(0.001, ctx.deadline - time.monotonic())

    def _timeout(self, ctx: Context) -> float | None:
        left = self._time_left(ctx)
        if left is None:
            return self.timeout
        return left if self.timeout is None else min(left, self.timeout)

    def _error(self, response: httpx.Response, endpoint: str) -> RemoteRunnableError:
        detail: Any = response.text
        try:
            detail = response.json()
        except ValueError:
            pass
        if isinstance(detail, dict) and "detail" in detail:
            detail = detail["detail"]
        return RemoteRunnableError(
            f"The server at {endpoint} answered {response.status_code} "
            f"{response.reason_phrase}: {str(detail)[:500]}",
            status_code=response.status_code,
            url=endpoint,
            detail=detail,
        )

    def _error_event(self, data: bytes, endpoint: str) -> RemoteRunnableError:
        try:
            payload = json.loads(data)
        except ValueError:
            payload = {"message": data.decode("utf-8", "replace")}
        if not isinstance(payload, dict):
            payload = {"message": str(payload)}
        status = payload.get("status_code", 500)
        message = payload.get("message", "the chain failed")
        return RemoteRunnableError(
            f"The chain at {endpoint} failed on the server ({status}): {message}",
            status_code=status if isinstance(status, int) else 500,
            url=endpoint,
            detail=payload,
        )

    async def _post(self, route: str, body: dict[str, Any], ctx: Context) -> Any:
        from runnables.providers.openai.transport import get_client

        endpoint = f"{self.url}/{route}"
        client = get_client(self.url)
        response = await client.post(
            endpoint,
            content=encode(dumps(body, request=True)),
            headers={"Content-Type": "application/json", **self.headers},
            timeout=self._timeout(ctx),
        )
        if response.status_code >= 400:
            raise self._error(response, endpoint)
        return response.json()

    async def _events(
        self, route: str, body: dict[str, Any], ctx: Context
    ) -> AsyncGenerator[ServerEvent, None]:
        """The events of a streamed route up to ``end``, resuming after dropped connections.

        ``error`` events raise :class:`RemoteRunnableError`; ``end`` ends the iteration.
        """
        from runnables.providers.openai.transport import get_client

        endpoint = f"{self.url}/{route}"
        client = get_client(self.url)
        content = encode(dumps(body, request=True))
        headers = {
            "Content-Type": "application/json",
            "Accept": "text/event-stream",
            **self.headers,
        }
        if self.max_reconnects > 0 and self.resume_grace > 0:
            headers["Resume-Grace"] = f"{self.resume_grace:g}"
        parser = SSEParser()
        attempt = 0
        kept = False  # the server keeps the run for a reconnect (it granted a grace)
        over = False  # the server's run is over (end or error), or it was never kept
        try:
            while True:
                if parser.last_id is not None:
                    headers["Last-Event-ID"] = parser.last_id
                try:
                    async with client.stream(
                        "POST",
                        endpoint,
                        content=content,
                        headers=headers,
                        timeout=self._timeout(ctx),
                    ) as response:
                        if response.status_code >= 400:
                            over = True
                            await response.aread()
                            raise self._error(response, endpoint)
                        kept = kept or response.headers.get("resume-grace", "0") not in ("", "0")
                        parser = _resume(parser)
                        async for raw in response.aiter_bytes():
                            for ev in parser.feed(raw):
                                kind = ev.event
                                if kind == "end":
                                    over = True
                                    return
                                if kind == "error":
                                    over = True
                                    raise self._error_event(ev.data, endpoint)
                                attempt = 0  # progress: the next drop gets every attempt again
                                yield ev
                        for ev in parser.close():
                            if ev.event in ("end", "error"):
                                over = True
                            if ev.event == "end":
                                return
                            if ev.event == "error":
                                raise self._error_event(ev.data, endpoint)
                            yield ev
                    # The server closed the stream without "end": as good as a dropped
                    # connection.
                    failure: Exception = httpx.RemoteProtocolError(
                        f"The stream from {endpoint} ended without its 'end' event."
                    )
                except _DROPPED as exc:
                    failure = exc
                if parser.last_id is None or attempt >= self.max_reconnects:
                    raise failure
                await asyncio.sleep(RECONNECT_BACKOFF[min(attempt, len(RECONNECT_BACKOFF) - 1)])
                attempt += 1
        finally:
            if kept and not over and parser.last_id is not None:
                # Leaving on purpose (or giving up): the server need not wait for us.
                await self._cancel_run(client, endpoint, parser.last_id)

    async def _cancel_run(self, client: httpx.AsyncClient, endpoint: str, last_id: str) -> None:
        run_id = last_id.rpartition(":")[0]
        if not run_id:
            return
        # Best effort: if it fails, the server cancels the run when its grace runs out.
        with contextlib.suppress(httpx.HTTPError):
            await client.delete(f"{endpoint}/{run_id}", headers=self.headers, timeout=2.0)

    def _body(self, input: Any, ctx: Context) -> dict[str, Any]:
        return {"input": input, "config": self._server_config(ctx), "kwargs": self.kwargs}

    # ------------------------------------------------------------------ the step

    async def _ainvoke(self, input: Any, ctx: Context) -> Any:
        queue = _event_queue(ctx)
        if queue is not None:
            if ctx.limiter is not None or ctx.running is not None:
                return await run_leaf(
                    self, ctx, lambda: self._ainvoke_with_events(input, ctx, queue)
                )
            return await self._ainvoke_with_events(input, ctx, queue)
        if ctx.limiter is not None or ctx.running is not None:
            return await run_leaf(self, ctx, lambda: self._invoke(input, ctx))
        return await self._invoke(input, ctx)

    async def _invoke(self, input: Any, ctx: Context) -> Any:
        answer = await self._post("invoke", self._body(input, ctx), ctx)
        return decode(_output(answer, f"{self.url}/invoke"))

    async def _atransform(self, inputs: AsyncIterator[Any], ctx: Context) -> AsyncIterator[Any]:
        input = await gather_input(inputs)
        queue = _event_queue(ctx)
        if queue is not None:
            agen = self._relay_events(input, ctx, queue, None)
        else:
            agen = self._stream(input, ctx)
        # The remote stream is one request: it holds one slot until it ends (leaf scope).
        stream = hold_stream(self, ctx, agen) if holds(ctx) else agen
        try:
            async for chunk in stream:
                yield chunk
        finally:
            await aclose(stream)

    async def _stream(self, input: Any, ctx: Context) -> AsyncGenerator[Any, None]:
        events = self._events("stream", self._body(input, ctx), ctx)
        try:
            async for ev in events:
                if ev.event == "data":
                    yield decode(json.loads(ev.data))
        finally:
            await events.aclose()

    # ------------------------------------------------------------------ events

    async def _ainvoke_with_events(self, input: Any, ctx: Context, queue: EventQueue) -> Any:
        result: list[Any] = []
        agen = self._relay_events(input, ctx, queue, result)
        try:
            async for _ in agen:
                pass
        finally:
            await agen.aclose()
        return result[0] if result else None

    async def _relay_events(
        self, input: Any, ctx: Context, queue: EventQueue, result: list[Any] | None
    ) -> AsyncGenerator[Any, None]:
        """Stream over ``/stream_events``: the remote root's chunks are this step's
        output; every remote event goes to the local event stream under this step's run.
        """
        run = ctx.run
        prefix = [*run.parent_ids, str(run.id)] if run is not None else []
        body = {**self._body(input, ctx), "version": "v2"}
        events = self._events("stream_events", body, ctx)
        root: str | None = None
        try:
            async for ev in events:
                if ev.event != "data":
                    continue
                event = decode(json.loads(ev.data))
                if not isinstance(event, dict):
                    continue
                parents = event.get("parent_ids") or []
                if root is None and not parents:
                    root = event.get("run_id")
                if event.get("run_id") == root:
                    kind = str(event.get("event", ""))
                    data = event.get("data") or {}
                    if kind.endswith("_stream") and "chunk" in data:
                        yield data["chunk"]
                    elif kind.endswith("_end") and result is not None:
                        result.append(data.get("output"))
                event["parent_ids"] = [*prefix, *parents]
                queue.push_event(event)
                if queue.full:
                    await queue.drained()
        finally:
            await events.aclose()

    def astream_events(
        self,
        input: Any,
        config: RunnableConfig | None = None,
        *,
        version: Literal["v1", "v2"] = "v2",
        include_names: Sequence[str] | None = None,
        include_types: Sequence[str] | None = None,
        include_tags: Sequence[str] | None = None,
        exclude_names: Sequence[str] | None = None,
        exclude_types: Sequence[str] | None = None,
        exclude_tags: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[dict[str, Any]]:
        """Stream the remote run's events, exactly as the server's ``astream_events`` makes
        them (filters are applied by the server).

        Inside a local call, or with local ``callbacks`` in the config, this runs as a
        step of the local run instead, so the remote events nest under it. Only
        ``version="v2"`` is supported, as for a local runnable: any other version raises
        ``NotImplementedError`` at the call.
        """
        # Another version takes the local path, whose check raises the same error.
        if (
            version != "v2"
            or CURRENT.get() is not None
            or (config is not None and config.get("callbacks"))
        ):
            return super().astream_events(
                input,
                config,
                version=version,
                include_names=include_names,
                include_types=include_types,
                include_tags=include_tags,
                exclude_names=exclude_names,
                exclude_types=exclude_types,
                exclude_tags=exclude_tags,
                **kwargs,
            )
        target = self._with_kwargs(kwargs) if kwargs else self
        filters = {
            "include_names": include_names,
            "include_types": include_types,
            "include_tags": include_tags,
            "exclude_names": exclude_names,
            "exclude_types": exclude_types,
            "exclude_tags": exclude_tags,
        }
        return target._remote_events(input, config, filters)

    async def _remote_events(
        self, input: Any, config: RunnableConfig | None, filters: dict[str, Any]
    ) -> AsyncGenerator[dict[str, Any], None]:
        from runnables.core.config import make_context

        ctx = make_context(config)
        body: dict[str, Any] = {
            "input": input,
            "config": self._server_config(ctx, config),
            "kwargs": self.kwargs,
            "version": "v2",
            **{k: list(v) for k, v in filters.items() if v is not None},
        }
        events = self._events("stream_events", body, ctx)
        try:
            async for ev in events:
                if ev.event == "data":
                    yield decode(json.loads(ev.data))
        finally:
            await events.aclose()

    # ------------------------------------------------------------------ batch

    async def abatch(
        self,
        inputs: Sequence[Any],
        config: RunnableConfig | Sequence[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[Any]:
        """Run many inputs with one request to ``{url}/batch``; outputs in input order.

        The server runs the batch concurrently. With ``return_exceptions`` each input is
        sent as its own ``/invoke`` request instead (concurrently), so one failure takes
        only its own place in the list, as a :class:`RemoteRunnableError`.
        """
        target = self._with_kwargs(kwargs) if kwargs else self
        inputs = list(inputs)
        if not inputs:
            return []
        configs = [config] if config is None or isinstance(config, Mapping) else list(config)
        if return_exceptions or any(c and c.get("callbacks") for c in configs):
            return await Runnable.abatch(
                target, inputs, config, return_exceptions=return_exceptions
            )
        from runnables.core.config import make_context

        ctxs = [make_context(c) for c in configs]
        if len(ctxs) == 1:
            server_config: Any = target._server_config(ctxs[0], configs[0])
        elif len(ctxs) == len(inputs):
            server_config = [target._server_config(x, c) for x, c in zip(ctxs, configs)]
        else:
            from runnables.errors import ConfigError

            raise ConfigError(
                f"abatch got {len(inputs)} inputs but {len(ctxs)} configs; pass one "
                "config for all inputs or exactly one per input."
            )
        body = {"inputs": inputs, "config": server_config, "kwargs": target.kwargs}
        answer = await target._post("batch", body, ctxs[0])
        outputs = _output(answer, f"{self.url}/batch")
        if not isinstance(outputs, list) or len(outputs) != len(inputs):
            raise RemoteRunnableError(
                f"The server at {self.url}/batch answered {len(inputs)} inputs with "
                f"{outputs!r:.200}, not a list of {len(inputs)} outputs. Check that the URL "
                "names a route made by add_routes or LangServe.",
                status_code=502,
                url=f"{self.url}/batch",
            )
        return cast(list[Any], decode(outputs))


def _output(answer: Any, endpoint: str) -> Any:
    if not isinstance(answer, dict) or "output" not in answer:
        raise RemoteRunnableError(
            f"The server at {endpoint} answered {answer!r:.200}, which has no 'output'. "
            "Check that the URL names a route made by add_routes or LangServe.",
            status_code=502,
            url=endpoint,
        )
    return answer["output"]


def _resume(parser: SSEParser) -> SSEParser:
    # A new connection starts a new byte stream, but the last id carries over.
    fresh = SSEParser()
    fresh.last_id = parser.last_id
    return fresh


def _event_queue(ctx: Context) -> EventQueue | None:
    """The ``astream_events`` consumer observing this call, if any."""
    if not ctx.tracers:
        return None
    from runnables.core.events import EventQueue

    for tracer in ctx.tracers:
        if isinstance(tracer, EventQueue):
            return tracer
    return None
