"""JSON for the wire and Server-Sent Events framing, shared by every route.

``dumps`` turns a runnable's output into JSON the way LangServe does, so its clients
decode it unchanged: messages become their ``model_dump()`` (with ``type``), pydantic
models their ``model_dump()``, dataclasses a dict of their fields, prompt values
``{"messages"|"text": ..., "type": "ChatPromptValue"|"StringPromptValue"}``, UUIDs and
dates strings, sets and tuples lists. Anything else is refused with a ``TypeError``
naming its type, as LangServe refuses it: the routes answer 500 (in a stream, an
``error`` event with status 500) rather than send its ``str()``, which a client would
take for real data.

``frame`` builds one SSE event. The events of a resumable stream have an ``id`` so a
client can resume with ``Last-Event-ID`` (see :mod:`runnables.serve.replay`); the id is
``"{run_id}:{seq}"``, which names the run as well as the position, so the id alone is
enough to resume. Other streams' events have none (there is nothing to resume).

``SSEResponse`` writes a stream of frames and, at the same time, watches the
connection: when the client goes away it cancels the writer at once (uvicorn does not
fail ``send`` on a closed connection, so without watching ``receive`` a stream would
keep running for nobody).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import enum
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from uuid import UUID

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from runnables.core.tasks import aclose, cancel_and_wait

__all__ = ["SSEResponse", "dumps", "encode", "frame", "jsonable", "wait_for_disconnect"]

logger = logging.getLogger("runnables.serve")


def jsonable(obj: Any) -> Any:
    """The JSON-ready form of one value ``json`` cannot encode (the ``default`` hook)."""
    from runnables.messages import BaseMessage

    if isinstance(obj, BaseMessage):
        return obj.model_dump()
    dump = getattr(obj, "model_dump", None)
    if callable(dump):
        return dump()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    if isinstance(obj, (UUID, datetime.date, datetime.time, datetime.datetime)):
        return obj.isoformat() if not isinstance(obj, UUID) else str(obj)
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    to_messages = getattr(obj, "to_messages", None)
    if callable(to_messages) and hasattr(obj, "to_string"):
        # Prompt values, in langchain-core's dumped shape.
        name = type(obj).__name__
        if hasattr(obj, "messages"):
            return {"messages": list(obj.messages), "type": name}
        return {"text": obj.to_string(), "type": name}
    if isinstance(obj, bytes):
        return obj.decode("utf-8", "replace")
    raise TypeError(
        f"A value of type {type(obj).__qualname__} ({obj!r:.80}) cannot be sent as JSON; "
        "have the chain return plain data, messages, documents, dataclasses or pydantic "
        "models instead."
    )


_ENCODER = json.JSONEncoder(
    default=jsonable, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)
_LENIENT = json.JSONEncoder(default=jsonable, separators=(",", ":"), ensure_ascii=False)


def dumps(obj: Any) -> str:
    """``obj`` as compact JSON (see the module docstring for what becomes what).

    Always valid JSON: ``NaN`` and infinities, which JSON has no word for, become
    ``null`` (as JavaScript's ``JSON.stringify`` does). Raises ``TypeError`` for a value
    of a type it does not know.
    """
    try:
        return _ENCODER.encode(obj)
    except ValueError:
        # Only outputs holding a non-finite float pay for this second pass.
        text = _LENIENT.encode(obj)
        return _ENCODER.encode(json.loads(text, parse_constant=lambda _: None))


def encode(text: str) -> bytes:
    """``text`` (JSON from :func:`dumps`) as UTF-8 bytes, whatever strings it holds.

    A lone surrogate (``"\\ud800"``, which a chain may produce) cannot be UTF-8; it is
    written as its JSON escape instead, which is what it means inside a JSON string.
    """
    return text.encode("utf-8", "backslashreplace")


def frame(event: str, data: str | None, id: str | None = None) -> bytes:
    """One SSE event: ``event:``, ``id:`` and ``data:`` lines and the blank line.

    ``data`` is one line of JSON (``dumps`` escapes newlines), or ``None`` for an event
    without data (LangServe's ``end``).
    """
    parts = [f"event: {event}\r\n"]
    if id is not None:
        parts.append(f"id: {id}\r\n")
    if data is not None:
        parts.append(f"data: {data}\r\n")
    parts.append("\r\n")
    return encode("".join(parts))


async def wait_for_disconnect(receive: Receive) -> None:
    """Return once the client has closed the connection."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


class SSEResponse(Response):
    """A ``text/event-stream`` response over an async iterator of ready frames.

    The frames are written by one task while another waits for ``http.disconnect``;
    whichever finishes first ends the other, so a client that leaves cancels the
    writer (and the chain it drives, if the iterator runs it) straight away.
    ``on_close`` is awaited once the response is over, however it ended.
    ``deadline``: the most seconds the whole response may take; past it the writer is
    cancelled and the response left unfinished (the server closes it), so a client
    that never reads cannot hold a run (and its ``max_in_flight`` slot) forever.
    """

    media_type = "text/event-stream"

    def __init__(
        self,
        frames: AsyncIterator[bytes],
        *,
        status_code: int = 200,
        headers: dict[str, str] | None = None,
        on_close: Callable[[], Awaitable[None]] | None = None,
        deadline: float | None = None,
    ) -> None:
        self.frames = frames
        self.deadline = deadline
        self.status_code = status_code
        self.background = None
        self.on_close = on_close
        self.init_headers(
            {
                "Cache-Control": "no-store",
                "X-Accel-Buffering": "no",  # nginx: do not hold chunks back
                **(headers or {}),
            }
        )

    async def _write(self, send: Send) -> None:
        frames = self.frames
        try:
            async for chunk in frames:
                try:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                except OSError:
                    return  # ASGI 2.4 servers report a closed connection this way
        finally:
            await aclose(frames)
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        writer = asyncio.ensure_future(self._write(send))
        watcher = asyncio.ensure_future(wait_for_disconnect(receive))
        try:
            done, _ = await asyncio.wait(
                (writer, watcher), timeout=self.deadline, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            await cancel_and_wait((writer, watcher))
            if self.on_close is not None:
                await self.on_close()
        if not done:
            # The deadline ran out with the writer stuck: a client that does not read
            # blocks ``send`` for good. Its run is cancelled above (closing the frames);
            # the response is left unfinished, so the server closes the connection (it
            # cannot end a chunked body normally: that final send would block too).
            logger.warning(
                "A stream was still being written %g s after it started (its client is not "
                "reading); its run was cancelled and its connection closed.",
                self.deadline,
            )
            return
        error = None if writer.cancelled() else writer.exception()
        if isinstance(error, Exception):
            raise error
