"""The OpenAI client's view of the one SSE codec (:class:`runnables.wire.SSEDecoder`).

A model stream is thousands of small events (``data: {...}\\n\\n``), one or a few per
network read, so this view skips the per-event objects: it yields ``(event, data)``
pairs, ``event`` ``None`` for the default type, and a block that is a single
``data: ...`` line skips the line loop. The splitting of reads into events and the
parsing of fields are the codec's.

It is strict: anything that is not a server-sent event raises
:class:`MalformedStreamError` at once (a field name the format does not have, an event
larger than ``max_event_bytes``), so a broken server fails the call instead of leaving
it waiting.
"""

from __future__ import annotations

import functools

from runnables.providers.openai.errors import MalformedStreamError
from runnables.wire import ServerEvent
from runnables.wire import SSEDecoder as Codec

__all__ = ["DONE", "SSEDecoder"]

#: The payload OpenAI-compatible servers send as their last event.
DONE = b"[DONE]"


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

    __slots__ = ("_codec",)

    def __init__(self, *, url: str | None = None, max_event_bytes: int = 16 * 1024 * 1024) -> None:
        self._codec = Codec(
            url=url,
            strict=True,
            max_event_bytes=max_event_bytes,
            error=functools.partial(MalformedStreamError, url=url),
            hint=" Check that base_url points at an OpenAI-compatible server.",
        )

    def feed(self, chunk: bytes) -> list[tuple[str | None, bytes]]:
        """The events completed by ``chunk`` (the rest is kept for the next read)."""
        codec = self._codec
        out: list[tuple[str | None, bytes]] = []
        for block in codec.split(chunk):
            # The common case, a single ``data: ...`` line, skips the line loop.
            if block[:6] == b"data: " and b"\n" not in block:
                out.append((None, block[6:]))
            elif block:
                event = codec.parse(block)
                if event is not None:
                    out.append(_pair(event))
        return out

    def close(self) -> list[tuple[str | None, bytes]]:
        """The last event, if the stream ended without the blank line that closes it."""
        return [_pair(event) for event in self._codec.close()]


def _pair(event: ServerEvent) -> tuple[str | None, bytes]:
    return (None if event.event == "message" else event.event), event.data
