"""A scripted OpenAI-compatible server on loopback, for testing clients against faults.

No dependencies: plain ``asyncio.start_server`` and hand-written HTTP/1.1. It serves
``POST /v1/chat/completions`` (streamed or not) and ``GET /v1/models``. Each chat
request takes the next reply from the script; when the script runs out, the
``default`` reply answers::

    from runnables.testing.openai_server import Complete, FakeOpenAIServer, Hang, rate_limited

    async with FakeOpenAIServer([rate_limited(retry_after="0.1"), Complete("Hi!")]) as server:
        model = ChatOpenAI(model="test", base_url=server.base_url)
        assert (await model.ainvoke("hello")).content == "Hi!"
        assert len(server.requests) == 2

The replies:

- :class:`Complete`: an answer (text, tool calls, usage), streamed when the request
  asks for it, one event per chunk, optionally ``chunk_delay`` apart; and the stream
  faults: ``hang_after`` (stop sending, keep the connection open), ``close_after``
  (drop the connection mid-body), ``malformed_after`` (send a line that is not valid
  SSE or JSON), ``error_after`` (send an error object inside the stream),
  ``keepalive_after`` (send only keep-alive comments from then on) and ``trickle_after``
  (start an event and send it a byte at a time, never finishing it).
- :class:`ErrorReply`: an HTTP error status with an OpenAI-style error object and
  headers (:func:`rate_limited` for 429 with ``Retry-After``, :func:`server_error`).
- :class:`Hang`: read the request and never answer (not even the headers).

The server records every request (:attr:`FakeOpenAIServer.requests`) and the
``time.monotonic()`` at which a client went away in the middle of a reply
(:attr:`FakeOpenAIServer.disconnects`), counts open connections
(:attr:`FakeOpenAIServer.open_connections`), so tests can check that a cancelled call
really closed its connection and that none leaked, and counts the chat requests being
answered (:attr:`FakeOpenAIServer.in_flight`, highest so far ``max_in_flight``), so
tests can check a concurrency bound.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from runnables.errors import RunnablesError

__all__ = [
    "Complete",
    "ErrorReply",
    "FakeOpenAIServer",
    "Hang",
    "IdleTimeoutError",
    "RecordedRequest",
    "Reply",
    "rate_limited",
    "server_error",
]


class Reply:
    """Base class of the scripted replies."""


@dataclass
class Complete(Reply):
    """A successful answer.

    ``text`` is streamed in ``chunks`` (default: split into words, spaces kept) when the
    request has ``"stream": true``. ``tool_calls`` are ``{"name", "arguments", "id"}``
    dicts (``arguments`` a JSON string, streamed in pieces). ``usage`` is sent when the
    request asks for it (``stream_options.include_usage``) and always when not streamed.

    Stream faults, counted in content chunks sent before the fault: ``hang_after``,
    ``close_after``, ``malformed_after`` (sends ``malformed`` and ends the stream),
    ``error_after`` (sends an error object with ``error_message`` and ``error_code``),
    ``keepalive_after`` (sends an SSE comment ``: keep-alive`` every ``fault_interval``
    seconds, for ever) and ``trickle_after`` (starts a ``data:`` line and sends one more
    byte of it every ``fault_interval`` seconds, for ever): the connection is never
    silent, but no event comes.
    ``inject_after`` sends the raw bytes ``inject`` (for example ``b"event: ping\n
    data: {}\n\n"``) and carries on. ``send_done=False`` ends without ``[DONE]``.

    Unstreamed, ``body_delay`` sends the answer's body in ten pieces this many seconds
    apart (a server that trickles a long answer).
    """

    text: str = "Hello! How can I help?"
    chunks: Sequence[str] | None = None
    tool_calls: Sequence[dict[str, Any]] = ()
    finish_reason: str | None = None
    usage: dict[str, int] | None = None
    model: str | None = None
    chunk_delay: float = 0.0
    headers_delay: float = 0.0
    hang_after: int | None = None
    close_after: int | None = None
    malformed_after: int | None = None
    malformed: bytes = b'data: {"choices": [{"delta": \n\n'
    error_after: int | None = None
    error_message: str = "The model crashed while generating."
    error_code: str | int | None = None
    keepalive_after: int | None = None
    trickle_after: int | None = None
    fault_interval: float = 0.05
    inject_after: int | None = None
    inject: bytes = b"event: ping\ndata: {}\n\n"
    send_done: bool = True
    body_delay: float = 0.0


@dataclass
class ErrorReply(Reply):
    """An HTTP error answer carrying an OpenAI-style error object."""

    status: int = 500
    message: str = "The server had an error while processing your request."
    type: str = "server_error"
    code: str | int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None  # sent as is instead of the error object


@dataclass
class Hang(Reply):
    """Read the request and never answer, until the client goes away."""


def rate_limited(retry_after: str | None = "0.05", message: str | None = None) -> ErrorReply:
    """A 429 answer with ``Retry-After: retry_after`` (seconds or an HTTP date)."""
    headers = {"retry-after": retry_after} if retry_after is not None else {}
    return ErrorReply(
        429,
        message or "Rate limit reached for requests. Please try again later.",
        "rate_limit_exceeded",
        "rate_limit_exceeded",
        headers,
    )


def server_error(status: int = 500, message: str | None = None) -> ErrorReply:
    """A 5xx answer (retried by clients)."""
    return ErrorReply(status, message or "The server had an error while processing your request.")


@dataclass
class RecordedRequest:
    """One request the server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    time: float

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    408: "Request Timeout",
    409: "Conflict",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}

Script = Iterable[Reply] | Callable[[RecordedRequest], Reply]


class _DroppedError(RunnablesError):
    """The reply ends by dropping the connection."""


class IdleTimeoutError(RunnablesError, TimeoutError):
    """``wait_idle`` ran out of time with a reply still in progress."""


class FakeOpenAIServer:
    """A scripted OpenAI-compatible HTTP/1.1 server on ``127.0.0.1`` (ephemeral port).

    ``script`` is a list of replies used in order (one per chat request), or a function
    from the request to its reply. ``default`` answers once a list runs out.
    """

    def __init__(
        self,
        script: Script = (),
        *,
        default: Reply | None = None,
        model: str = "fake-model",
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        if callable(script):
            self._script_fn: Callable[[RecordedRequest], Reply] | None = script
            self._script: list[Reply] = []
        else:
            self._script_fn = None
            self._script = list(script)
        self.default = default or Complete()
        self.model = model
        self.host = host
        self.port = port
        self.requests: list[RecordedRequest] = []
        self.disconnects: list[float] = []
        self.open_connections = 0
        self.total_connections = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._disconnected = asyncio.Event()

    @property
    def base_url(self) -> str:
        """The URL clients use as ``base_url`` (ends in ``/v1``)."""
        return f"http://{self.host}:{self.port}/v1"

    def push(self, *replies: Reply) -> None:
        """Add replies to the end of the script."""
        self._script.extend(replies)

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        """The chat completion requests received so far."""
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    async def wait_disconnect(self, count: int = 1) -> float:
        """Wait until ``count`` mid-reply disconnects are recorded; the last one's time."""
        while len(self.disconnects) < count:
            self._disconnected.clear()
            await self._disconnected.wait()
        return self.disconnects[count - 1]

    async def wait_idle(self, timeout: float = 5.0) -> None:
        """Wait until no reply is in progress (every handler is waiting for a request)."""
        end = time.monotonic() + timeout
        while any(getattr(t, "_busy", False) for t in self._handlers):
            if time.monotonic() > end:
                raise IdleTimeoutError(
                    f"The fake server still has a reply in progress after {timeout:g} s; "
                    "let the client read the whole reply, or pass a longer timeout."
                )
            await asyncio.sleep(0.005)

    async def start(self) -> FakeOpenAIServer:
        """Start listening (``async with`` does this)."""
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        """Stop listening and close every connection."""
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.close()  # each handler then sees the end of its stream and returns
        handlers = list(self._handlers)
        if handlers:
            _, late = await asyncio.wait(handlers, timeout=1.0)
            for task in late:
                task.cancel()
            for task in late:
                with contextlib.suppress(BaseException):
                    await task
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> FakeOpenAIServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ connections

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self._writers.add(writer)
        self.open_connections += 1
        self.total_connections += 1
        buf = bytearray()
        try:
            while True:
                request = await self._read_request(reader, buf)
                if request is None:
                    break
                task._busy = True  # type: ignore[attr-defined]
                keep = await self._reply_watching_eof(request, reader, writer, buf)
                task._busy = False  # type: ignore[attr-defined]
                if not keep:
                    break
        except (ConnectionError, asyncio.IncompleteReadError, _DroppedError):
            pass
        except asyncio.CancelledError:
            # Only stop() cancels a handler; ending quietly keeps asyncio's stream
            # callback from logging the cancellation as an error.
            pass
        finally:
            self.open_connections -= 1
            self._writers.discard(writer)
            self._handlers.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _read_request(
        self, reader: asyncio.StreamReader, buf: bytearray
    ) -> RecordedRequest | None:
        while b"\r\n\r\n" not in buf:
            data = await reader.read(65536)
            if not data:
                return None
            buf += data
        end = buf.index(b"\r\n\r\n")
        head = bytes(buf[:end]).decode("latin-1").split("\r\n")
        del buf[: end + 4]
        method, path, _ = head[0].split(" ", 2)
        headers = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        while len(buf) < length:
            data = await reader.read(65536)
            if not data:
                return None
            buf += data
        body = bytes(buf[:length])
        del buf[:length]
        request = RecordedRequest(method, path, headers, body, time.monotonic())
        self.requests.append(request)
        return request

    async def _reply_watching_eof(
        self,
        request: RecordedRequest,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        buf: bytearray,
    ) -> bool:
        # The client sends nothing while it waits for the answer, so a read that
        # returns means it closed the connection (or pipelined a request: kept in buf).
        reply = asyncio.ensure_future(self._reply(request, writer))
        eof = asyncio.ensure_future(reader.read(65536))
        try:
            await asyncio.wait({reply, eof}, return_when=asyncio.FIRST_COMPLETED)
            if eof.done() and not reply.done():
                data = eof.result()
                if not data:
                    self.disconnects.append(time.monotonic())
                    self._disconnected.set()
                    reply.cancel()
                    with contextlib.suppress(BaseException):
                        await reply
                    return False
                buf += data
            return await reply
        finally:
            for t in (reply, eof):
                if not t.done():
                    t.cancel()
                    with contextlib.suppress(BaseException):
                        await t
            if eof.done() and not eof.cancelled() and eof.exception() is None:
                buf += eof.result()

    def _next_reply(self, request: RecordedRequest) -> Reply:
        if self._script_fn is not None:
            return self._script_fn(request)
        return self._script.pop(0) if self._script else self.default

    async def _reply(self, request: RecordedRequest, writer: asyncio.StreamWriter) -> bool:
        path = request.path.split("?", 1)[0]
        if request.method == "GET" and path.endswith("/models"):
            body = {
                "object": "list",
                "data": [{"id": self.model, "object": "model", "created": 0, "owned_by": "fake"}],
            }
            await self._send_json(writer, 200, body, {})
            return True
        if request.method != "POST" or not path.endswith("/chat/completions"):
            err = {"error": {"message": f"No route for {request.method} {path}.", "type": "x"}}
            await self._send_json(writer, 404, err, {})
            return True
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self._reply_chat(request, writer)
        finally:
            self.in_flight -= 1

    async def _reply_chat(self, request: RecordedRequest, writer: asyncio.StreamWriter) -> bool:
        reply = self._next_reply(request)
        try:
            params = request.json or {}
        except ValueError:
            params = {}
        if isinstance(reply, Hang):
            await asyncio.Event().wait()
        if isinstance(reply, ErrorReply):
            payload = reply.body
            if payload is None:
                error = {"message": reply.message, "type": reply.type, "code": reply.code}
                payload = json.dumps({"error": error}).encode()
            headers = {"content-type": "application/json", **reply.headers}
            await self._send(writer, reply.status, headers, payload)
            return True
        assert isinstance(reply, Complete), f"not a reply: {reply!r}"
        if reply.headers_delay:
            await asyncio.sleep(reply.headers_delay)
        model = reply.model or params.get("model") or self.model
        if params.get("stream"):
            include_usage = bool((params.get("stream_options") or {}).get("include_usage"))
            await self._stream(writer, reply, model, include_usage)
            return True
        if reply.body_delay:
            await self._trickle(writer, json.dumps(_completion(reply, model)).encode(), reply)
            return True
        await self._send_json(writer, 200, _completion(reply, model), {})
        return True

    # ------------------------------------------------------------------ writing

    async def _send(
        self, writer: asyncio.StreamWriter, status: int, headers: dict[str, str], body: bytes
    ) -> None:
        lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        lines.append(f"content-length: {len(body)}")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        await writer.drain()

    async def _send_json(
        self, writer: asyncio.StreamWriter, status: int, obj: Any, headers: dict[str, str]
    ) -> None:
        body = json.dumps(obj).encode()
        await self._send(writer, status, {"content-type": "application/json", **headers}, body)

    async def _trickle(self, writer: asyncio.StreamWriter, body: bytes, reply: Complete) -> None:
        head = (
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\n\r\n"
        )
        writer.write(head.encode())
        step = max(1, -(-len(body) // 10))
        for start in range(0, len(body), step):
            await writer.drain()
            await asyncio.sleep(reply.body_delay)
            writer.write(body[start : start + step])
        await writer.drain()

    async def _stream(
        self, writer: asyncio.StreamWriter, reply: Complete, model: str, include_usage: bool
    ) -> None:
        head = (
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
            "cache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n"
        )
        writer.write(head.encode())
        await writer.drain()
        sent = 0
        for event in _stream_events(reply, model, include_usage):
            is_content = event.startswith(b"data: {") and b'"delta"' in event
            if is_content:
                if reply.inject_after is not None and sent == reply.inject_after:
                    writer.write(b"%x\r\n%s\r\n" % (len(reply.inject), reply.inject))
                for after, action in (
                    (reply.hang_after, "hang"),
                    (reply.close_after, "close"),
                    (reply.malformed_after, "malformed"),
                    (reply.error_after, "error"),
                    (reply.keepalive_after, "keepalive"),
                    (reply.trickle_after, "trickle"),
                ):
                    if after is not None and sent == after:
                        await self._fault(writer, reply, action)
                        return
                if sent and reply.chunk_delay:
                    await asyncio.sleep(reply.chunk_delay)
                sent += 1
            writer.write(b"%x\r\n%s\r\n" % (len(event), event))
            await writer.drain()
        writer.write(b"0\r\n\r\n")
        await writer.drain()

    async def _fault(self, writer: asyncio.StreamWriter, reply: Complete, action: str) -> None:
        if action == "hang":
            await asyncio.Event().wait()
        if action in ("keepalive", "trickle"):
            piece = b": keep-alive\n\n" if action == "keepalive" else b" "
            if action == "trickle":
                writer.write(b"%x\r\n%s\r\n" % (len(b"data: {"), b"data: {"))
            while True:  # until the client goes away (the write then fails)
                writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                await writer.drain()
                await asyncio.sleep(reply.fault_interval)
        if action == "close":
            writer.transport.abort()
            raise _DroppedError
        if action == "malformed":
            data = reply.malformed
        else:
            error = {
                "message": reply.error_message,
                "type": "server_error",
                "code": reply.error_code,
            }
            data = b"data: " + json.dumps({"error": error}).encode() + b"\n\n"
        writer.write(b"%x\r\n%s\r\n" % (len(data), data))
        writer.write(b"0\r\n\r\n")
        await writer.drain()


def _split(text: str) -> list[str]:
    out: list[str] = []
    word = ""
    for ch in text:
        word += ch
        if ch == " ":
            out.append(word)
            word = ""
    if word:
        out.append(word)
    return out


def _usage(reply: Complete) -> dict[str, int]:
    if reply.usage is not None:
        return dict(reply.usage)
    completion = max(1, len(_split(reply.text)))
    return {"prompt_tokens": 10, "completion_tokens": completion, "total_tokens": 10 + completion}


def _finish(reply: Complete) -> str:
    return reply.finish_reason or ("tool_calls" if reply.tool_calls else "stop")


def _completion(reply: Complete, model: str) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
    if reply.tool_calls:
        message["tool_calls"] = [
            {
                "id": tc.get("id", f"call_{i}"),
                "type": "function",
                "function": {"name": tc["name"], "arguments": tc.get("arguments", "{}")},
            }
            for i, tc in enumerate(reply.tool_calls)
        ]
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "system_fingerprint": "fp_fake",
        "choices": [
            {"index": 0, "message": message, "logprobs": None, "finish_reason": _finish(reply)}
        ],
        "usage": _usage(reply),
    }


def _stream_events(reply: Complete, model: str, include_usage: bool) -> list[bytes]:
    """The events of a streamed answer, each ``data: ...\\n\\n``."""
    base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0, "model": model}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        obj = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        return b"data: " + json.dumps(obj, separators=(",", ":")).encode() + b"\n\n"

    pieces = list(reply.chunks) if reply.chunks is not None else _split(reply.text)
    events: list[bytes] = []
    first = True
    for piece in pieces:
        delta: dict[str, Any] = {"content": piece}
        if first:
            delta["role"] = "assistant"
            first = False
        events.append(chunk(delta))
    for i, tc in enumerate(reply.tool_calls):
        args = tc.get("arguments", "{}")
        head = {
            "index": i,
            "id": tc.get("id", f"call_{i}"),
            "type": "function",
            "function": {"name": tc["name"], "arguments": ""},
        }
        delta = {"tool_calls": [head]}
        if first:
            delta["role"] = "assistant"
            first = False
        events.append(chunk(delta))
        step = max(1, len(args) // 3)
        for k in range(0, len(args), step):
            part = {"index": i, "function": {"arguments": args[k : k + step]}}
            events.append(chunk({"tool_calls": [part]}))
    events.append(chunk({}, _finish(reply)))
    if include_usage:
        obj = {**base, "choices": [], "usage": _usage(reply)}
        events.append(b"data: " + json.dumps(obj, separators=(",", ":")).encode() + b"\n\n")
    if reply.send_done:
        events.append(b"data: [DONE]\n\n")
    return events


async def _serve(args: argparse.Namespace) -> None:
    default = Complete(chunks=[args.token] * args.tokens, chunk_delay=args.chunk_delay)
    server = await FakeOpenAIServer(default=default, port=args.port).start()
    print(f"PORT {server.port}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await server.stop()


def main() -> None:
    """``python -m runnables.testing.openai_server``: serve until interrupted."""
    parser = argparse.ArgumentParser(description="A fake OpenAI-compatible server on loopback.")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--tokens", type=int, default=20, help="content chunks per answer")
    parser.add_argument("--token", default="tok ", help="the text of each chunk")
    parser.add_argument("--chunk-delay", type=float, default=0.0, help="seconds between chunks")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
