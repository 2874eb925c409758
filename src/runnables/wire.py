"""The wire format: one JSON encoding and one server-sent-events codec.

Everything runnables puts on a network or a pipe goes through here: the server's
responses and streams (:mod:`runnables.serve`), :class:`~runnables.serve.RemoteRunnable`'s
requests, the OpenAI client's requests and its reading of token streams
(:mod:`runnables.providers.openai`), and the JSON lines of ``runnables run``. So a value
is written the same way whichever of them sends it, and one parser reads every stream.

JSON (:func:`dumps`) is written the way LangServe writes it, so its clients decode it
unchanged: compact, UTF-8 (no ``\\u`` escapes), messages as their ``model_dump()``
(with ``type``), pydantic models their ``model_dump()``, dataclasses a dict of their
fields, prompt values ``{"messages"|"text": ..., "type": "ChatPromptValue"|
"StringPromptValue"}``, UUIDs, dates and times strings, enums their value, sets and
tuples lists, bytes their UTF-8 text. ``NaN`` and infinities, which JSON has no word
for, become ``null`` (as JavaScript's ``JSON.stringify`` does), so the text is always
valid JSON. Anything else is refused with a ``TypeError`` naming its type rather than
sent as its ``str()``, which a reader would take for real data.

Server-sent events: :func:`frame` writes one event; :class:`SSEDecoder` turns network
reads into :class:`ServerEvent` values (any line end, comments, multi-line ``data``,
events split across reads at any byte, the last ``id`` kept for ``Last-Event-ID``).

This module needs nothing beyond the standard library, so every extra can use it.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import json
from collections.abc import Callable
from typing import Any, NamedTuple
from uuid import UUID

from runnables.errors import InputTypeError

__all__ = ["SSEDecoder", "ServerEvent", "dumps", "encode", "frame", "jsonable"]


# ---------------------------------------------------------------------- JSON


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
    raise InputTypeError(
        f"A value of type {type(obj).__qualname__} ({obj!r:.80}) cannot be sent as JSON; "
        "use plain data (dicts, lists, strings, numbers), messages, documents, "
        "dataclasses or pydantic models instead."
    )


def _jsonable_request(obj: Any) -> Any:
    """:func:`jsonable`, but a chat prompt value is tagged ``ChatPromptValueConcrete``.

    LangServe's server decodes a request's prompt values by that tag only (its
    ``WellKnownLCObject``), while servers, langchain-core and LangServe's responses write
    ``ChatPromptValue``. Requests are the one place the tag differs.
    """
    out = jsonable(obj)
    if isinstance(out, dict) and out.get("type") == "ChatPromptValue" and "messages" in out:
        out["type"] = "ChatPromptValueConcrete"
    return out


def _encoders(default: Callable[[Any], Any]) -> tuple[json.JSONEncoder, json.JSONEncoder]:
    strict = json.JSONEncoder(
        default=default, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    lenient = json.JSONEncoder(default=default, separators=(",", ":"), ensure_ascii=False)
    return strict, lenient


_ENCODERS = _encoders(jsonable)
_REQUEST_ENCODERS = _encoders(_jsonable_request)


def dumps(obj: Any, *, request: bool = False) -> str:
    """``obj`` as compact JSON (see the module docstring for what becomes what).

    Always valid JSON: ``NaN`` and infinities become ``null``. Raises ``TypeError`` for
    a value of a type it does not know. ``request=True`` writes a request body for a
    LangServe-compatible server (chat prompt values tagged as LangServe decodes them).
    """
    strict, lenient = _REQUEST_ENCODERS if request else _ENCODERS
    try:
        return strict.encode(obj)
    except ValueError:
        # Only values holding a non-finite float pay for this second pass.
        text = lenient.encode(obj)
        return strict.encode(json.loads(text, parse_constant=lambda _: None))


def encode(text: str) -> bytes:
    """``text`` (JSON from :func:`dumps`) as UTF-8 bytes, whatever strings it holds.

    A lone surrogate (``"\\ud800"``, which a chain may produce) cannot be UTF-8; it is
    written as its JSON escape instead, which is what it means inside a JSON string.
    """
    return text.encode("utf-8", "backslashreplace")


# ---------------------------------------------------------------------- server-sent events


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


class ServerEvent(NamedTuple):
    """One server-sent event: its type (``"message"`` by default), data and id."""

    event: str
    data: bytes
    id: str | None


_FIELDS = frozenset((b"data", b"event", b"id", b"retry"))


class SSEDecoder:
    """Turn network reads into :class:`ServerEvent` values, following the SSE format.

    Handles ``\\r\\n``, ``\\r`` and ``\\n`` line ends, comments (keep-alives), multi-line
    ``data``, and events split across reads at any byte (a ``\\r`` at the end of a read
    is held back, since a ``\\n`` may follow). ``last_id`` is the most recent ``id``
    field seen (what a client sends back as ``Last-Event-ID``). An event with an
    ``event`` line but no data is delivered with empty data (LangServe's ``end``).

    ``strict``: a line that is not an SSE field, or more than ``max_event_bytes``
    without an event boundary, raises ``error(message)`` (``hint`` ends the message of
    the first) instead of being skipped or buffered, so a server that is not sending
    events fails the call.

    >>> p = SSEDecoder()
    >>> p.feed(b"event: data\\r\\nid: r:1\\r\\ndata: 1\\r\\n\\r\\nevent: e")
    [ServerEvent(event='data', data=b'1', id='r:1')]
    >>> p.feed(b"nd\\r\\n\\r\\n")
    [ServerEvent(event='end', data=b'', id='r:1')]
    """

    __slots__ = ("_buf", "error", "hint", "last_id", "max_event_bytes", "strict", "url")

    def __init__(
        self,
        *,
        url: str | None = None,
        strict: bool = False,
        max_event_bytes: int | None = None,
        error: Callable[[str], Exception] = ValueError,
        hint: str = "",
    ) -> None:
        self._buf = b""
        self.last_id: str | None = None
        self.url = url
        self.strict = strict
        self.max_event_bytes = max_event_bytes
        self.error = error
        self.hint = hint

    def feed(self, chunk: bytes) -> list[ServerEvent]:
        """The events completed by ``chunk``; an unfinished event is kept for the next read."""
        return [ev for ev in map(self.parse, self.split(chunk)) if ev is not None]

    def close(self) -> list[ServerEvent]:
        """The last event, if the stream ended without the blank line that ends it."""
        rest = self.rest()
        event = self.parse(rest) if rest else None
        return [event] if event is not None else []

    def split(self, chunk: bytes) -> list[bytes]:
        """The event blocks (lines joined by ``\\n``) that ``chunk`` completes."""
        buf = self._buf + chunk if self._buf else chunk
        if b"\r" in buf:
            held = b""
            if buf[-1] == 13:  # b"\r": a b"\n" may start the next read
                buf, held = buf[:-1], b"\r"
            buf = buf.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            blocks = buf.split(b"\n\n")
            self._buf = blocks.pop() + held
        else:
            blocks = buf.split(b"\n\n")
            self._buf = blocks.pop()
        limit = self.max_event_bytes
        if limit is not None and len(self._buf) > limit:
            raise self.error(
                f"The server at {self.url} sent more than {limit} bytes without ending an "
                "event; it is not sending server-sent events."
            )
        return blocks

    def rest(self) -> bytes:
        """What is left at the end of the stream, as one block (empty if nothing)."""
        rest, self._buf = self._buf, b""
        if not rest.strip():
            return b""
        return rest.replace(b"\r\n", b"\n").replace(b"\r", b"\n").strip(b"\n")

    def parse(self, block: bytes) -> ServerEvent | None:
        """One event block's fields as an event (``None``: nothing to deliver)."""
        data: list[bytes] = []
        event = "message"
        named = False
        for line in block.split(b"\n"):
            if not line or line[0] == 58:  # b":" starts a comment (often a keep-alive)
                continue
            name, colon, value = line.partition(b":")
            if colon and value[:1] == b" ":
                value = value[1:]
            if name == b"data":
                data.append(value)
            elif name == b"event":
                event = value.decode("utf-8", "replace") or "message"
                named = True
            elif name == b"id":
                if b"\0" not in value:
                    self.last_id = value.decode("utf-8", "replace")
            elif self.strict and name not in _FIELDS:
                raise self.error(
                    f"The server at {self.url} sent a line that is not a server-sent event "
                    f"field: {line[:200]!r}.{self.hint}"
                )
        if not data and not named:
            return None  # an id or retry line alone dispatches nothing
        return ServerEvent(event, data[0] if len(data) == 1 else b"\n".join(data), self.last_id)
