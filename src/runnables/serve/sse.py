"""Server-Sent Events responses for every route, over the one wire format.

JSON and SSE framing are :mod:`runnables.wire`'s (``dumps``, ``encode``, ``frame``,
``jsonable`` are re-exported here for the routes): the server, RemoteRunnable, the
OpenAI client and the CLI all write values the same way. The events of a resumable
stream have an ``id`` so a client can resume with ``Last-Event-ID`` (see
:mod:`runnables.serve.replay`); the id is ``"{run_id}:{seq}"``, which names the run as
well as the position, so the id alone is enough to resume. Other streams' events have
none (there is nothing to resume).

``SSEResponse`` writes a stream of frames and, at the same time, watches the
connection: when the client goes away it cancels the writer at once (uvicorn does not
fail ``send`` on a closed connection, so without watching ``receive`` a stream would
keep running for nobody).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from runnables.core.tasks import aclose, cancel_and_wait
from runnables.wire import dumps, encode, frame, jsonable

__all__ = ["SSEResponse", "dumps", "encode", "frame", "jsonable", "wait_for_disconnect"]

logger = logging.getLogger("runnables.serve")


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
