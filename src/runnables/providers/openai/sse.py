"""A bytes-level parser for server-sent events, tuned for model token streams.

A model stream is thousands of small events (``data: {...}\\n\\n``), one or a few per
network read, so the parser works on bytes and splits each read once: no per-line
decoding, no per-event objects beyond a tuple. It handles ``\\r\\n`` and ``\\r`` line
ends, comments, multi-line ``data``, ``event`` names, and events split across reads at
any byte (a ``\\r`` at the end of a read is held back, since a ``\\n`` may follow).

Anything that is not a server-sent event raises :class:`MalformedStreamError` at once
(a field name the format does not have, an event larger than ``max_event_bytes``),
so a broken server fails the call instead of leaving it waiting.
"""

from __future__ import annotations

from runnables.providers.openai.errors import MalformedStreamError

__all__ = ["DONE", "SSEDecoder"]

#: The payload OpenAI-compatible servers send as their last event.
DONE = b"[DONE]"

_FIELDS = frozenset((b"data", b"event", b"id", b"retry"))


class SSEDecoder:
    """Turn network reads into ``(event, data)`` pairs.

    ``event`` is ``None`` for the default event type (``message``), else its name as
    ``str``; ``data`` is the event's data as bytes, ready for ``json.loads``.

        decoder = SSEDecoder()
        for event, data in decoder.feed(read_bytes):
            ...
        for event, data in decoder.close():  # at the end of the stream
            ...
    """

    __slots__ = ("_buf", "max_event_bytes", "url")

    def __init__(self, *, url: str | None = None, max_event_bytes: int = 16 * 1024 * 1024) -> None:
        self._buf = b""
        self.url = url
        self.max_event_bytes = max_event_bytes

    def feed(self, chunk: bytes) -> list[tuple[str | None, bytes]]:
        """The events completed by ``chunk`` (the rest is kept for the next read)."""
        if self._buf:
            chunk = self._buf + chunk
        if b"\r" in chunk:
            held = b""
            if chunk[-1] == 13:  # b"\r": a b"\n" may start the next read
                chunk, held = chunk[:-1], b"\r"
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            blocks = chunk.split(b"\n\n")
            self._buf = blocks.pop() + held
        else:
            blocks = chunk.split(b"\n\n")
            self._buf = blocks.pop()
        if len(self._buf) > self.max_event_bytes:
            raise MalformedStreamError(
                f"The server at {self.url} sent more than {self.max_event_bytes} bytes without "
                "ending an event; it is not sending server-sent events.",
                url=self.url,
            )
        out: list[tuple[str | None, bytes]] = []
        for block in blocks:
            # The common case, a single ``data: ...`` line, skips the line loop.
            if block[:6] == b"data: " and b"\n" not in block:
                out.append((None, block[6:]))
            elif block:
                event = self._parse_block(block)
                if event is not None:
                    out.append(event)
        return out

    def close(self) -> list[tuple[str | None, bytes]]:
        """The last event, if the stream ended without the blank line that closes it."""
        rest, self._buf = self._buf, b""
        if not rest.strip():
            return []
        event = self._parse_block(rest.replace(b"\r\n", b"\n").replace(b"\r", b"\n"))
        return [event] if event is not None else []

    def _parse_block(self, block: bytes) -> tuple[str | None, bytes] | None:
        data: list[bytes] = []
        event: str | None = None
        for line in block.split(b"\n"):
            if not line or line[0] == 58:  # b":" starts a comment (often a keep-alive)
                continue
            name, colon, value = line.partition(b":")
            if colon and value[:1] == b" ":
                value = value[1:]
            if name == b"data":
                data.append(value)
            elif name == b"event":
                event = value.decode("utf-8", "replace") or None
            elif name not in _FIELDS:
                raise MalformedStreamError(
                    f"The server at {self.url} sent a line that is not a server-sent event "
                    f"field: {line[:200]!r}. Check that base_url points at an "
                    "OpenAI-compatible server.",
                    url=self.url,
                )
        if not data:
            return None  # only id/retry/event lines: nothing to deliver
        if event == "message":
            event = None
        return event, data[0] if len(data) == 1 else b"\n".join(data)
