"""The stream endpoints of a route: ``/stream``, ``/stream_events``, ``/stream_log``,
and, for resumable streams, resuming (``GET .../{run_id}``) and cancelling
(``DELETE .../{run_id}``).

A stream's run is driven by its response (:class:`~runnables.serve.sse.SSEResponse`),
so a client that leaves cancels it at once; a client that sends ``Resume-Grace`` gets
a run held in the route's :class:`~runnables.serve.replay.RunStore` instead, which
outlives a dropped connection for that long. Failures arrive as an ``error`` event with
a status (422, 500, 503 on shutdown, 504 past the route's timeout); the events and
their JSON are :mod:`runnables.wire`'s.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, TypeVar, cast

from fastapi import HTTPException, Request
from starlette.responses import JSONResponse, Response

from runnables.core.base import Runnable
from runnables.core.config import RunnableConfig
from runnables.core.notes import _NOTED as NOTED_STEP
from runnables.core.tasks import aclose
from runnables.errors import ConfigError, InvalidInputError, StepTimeoutError
from runnables.serve.guards import InFlight
from runnables.serve.replay import RunStore, parse_event_id
from runnables.serve.requests import RequestReader, invalid
from runnables.serve.shutdown import SHUTDOWN_MESSAGE, StreamShutdown
from runnables.serve.sse import SSEResponse
from runnables.wire import dumps, frame

__all__ = ["CLIENT_ERRORS", "StreamEndpoints", "failed_step"]

logger = logging.getLogger("runnables.serve")

_EVENT_FILTERS = (
    "include_names",
    "include_types",
    "include_tags",
    "exclude_names",
    "exclude_types",
    "exclude_tags",
)
#: Errors a run raises because of what the request sent (an input a step cannot use,
#: a configurable alternative that does not exist): 422 with their message, which the
#: library writes to name the value and the fix, rather than a 500.
CLIENT_ERRORS = (InvalidInputError, ConfigError)
#: Seconds a stream's response may outlast the route's ``timeout`` (see ``_deadline``).
_STREAM_MARGIN = 1.0
T = TypeVar("T")


class StreamEndpoints:
    """The stream endpoints of one ``add_routes`` call."""

    def __init__(
        self,
        runnable: Runnable[Any, Any],
        *,
        requests: RequestReader,
        shutdown: StreamShutdown,
        in_flight: InFlight,
        store: RunStore | None,
        timeout: float | None,
    ) -> None:
        self.runnable = runnable
        self.requests = requests
        self.shutdown = shutdown
        self.in_flight = in_flight
        self.store = store
        self.timeout = timeout

    async def stream(self, request: Request) -> Response:
        """Stream the output as SSE: ``metadata``, ``data``..., then ``end`` or ``error``."""
        return await self._start_stream(request, "stream")

    async def stream_log(self, request: Request) -> Response:
        """Stream the run as langchain-core's ``astream_log`` patches (SSE ``data``
        events of ``{"ops": [...]}``), for LangServe's ``RemoteRunnable.astream_log``."""
        return await self._start_stream(request, "stream_log")

    async def stream_events(self, request: Request) -> Response:
        """Stream ``astream_events`` (v2) as SSE ``data`` events."""
        return await self._start_stream(request, "stream_events")

    async def _start_stream(self, request: Request, kind: str) -> Response:
        headers = request.headers
        resume = parse_event_id(headers.get("last-event-id"))
        if resume is not None and self.store is not None:
            self.requests.guard(request)
            return self._resume(*resume)
        self.shutdown.loop = asyncio.get_running_loop()
        value, config, body = await self.requests.single(request)
        grace = self._resume_grace(headers.get("resume-grace"))
        filters: dict[str, Any] = {}
        if kind in ("stream_events", "stream_log"):
            for key in _EVENT_FILTERS:
                got = body.get(key)
                if got is None:
                    continue
                if not isinstance(got, list) or not all(isinstance(x, str) for x in got):
                    raise invalid(("body", key), f"{key} must be a list of strings.", got)
                filters[key] = got
        rid = str(config["run_id"])
        run_config = cast(RunnableConfig, config)
        deadline = self._deadline()
        self.in_flight.enter()
        if self.store is None or grace <= 0:
            # Not resumable: the run is driven by the response itself, so a disconnect
            # cancels it at once, and nothing is kept once it is over. No ``id:``
            # lines: this stream cannot be resumed, so an id would name nothing, and
            # plain event/data pairs are what LangServe's clients (and its tests'
            # decoder) read. The events are framed where they are made: a generator
            # of its own for the framing would be one more object per chunk that lives
            # while the stream waits, which the collector scans over every open stream.
            in_flight = self.in_flight

            async def leave() -> None:
                in_flight.leave()

            frames = self._events(kind, value, run_config, rid, filters, frame)
            return SSEResponse(frames, on_close=leave, deadline=deadline)
        events = self._events(kind, value, run_config, rid, filters, _pair)
        run = self.store.start(
            rid, events, on_finish=self.in_flight.leave, grace=grace, deadline=deadline
        )
        return SSEResponse(
            run.read(-1), headers={"Resume-Grace": f"{run.grace:g}"}, deadline=deadline
        )

    def _deadline(self) -> float | None:
        """The most seconds a stream's response may take: the run's ``timeout`` and a
        margin for its own 504 ``error`` event to be written. Past it the run is
        cancelled and the connection closed, even if its client never reads."""
        return None if self.timeout is None else self.timeout + _STREAM_MARGIN

    def _resume_grace(self, raw: str | None) -> float:
        """The grace a ``Resume-Grace`` header asks for, capped by ``resume_grace``."""
        if raw is None or self.store is None:
            return 0.0
        try:
            seconds = float(raw)
        except ValueError:
            seconds = -1.0
        if not 0 <= seconds < float("inf"):
            raise invalid(
                ("header", "resume-grace"),
                f"Resume-Grace must be a number of seconds >= 0, got {raw!r}; for example "
                "'Resume-Grace: 5'.",
                raw,
            )
        return min(seconds, self.store.resume_grace)

    async def _events(
        self,
        kind: str,
        value: Any,
        config: RunnableConfig,
        run_id: str,
        filters: Mapping[str, Any],
        emit: Callable[[str, str | None], T],
    ) -> AsyncIterator[T]:
        """The run's events, each as ``emit(event, data)``: SSE frames for a stream the
        response drives, ``(event, data)`` pairs for a run store's buffered run."""
        task = asyncio.current_task()
        assert task is not None
        self.shutdown.streams.add(task)
        try:
            if kind == "stream":
                # LangServe sends this on /stream only; on /stream_events its client
                # logs it as an unsupported event type.
                yield emit("metadata", dumps({"run_id": run_id}))
            source: AsyncIterator[Any]
            if kind == "stream":
                source = self.runnable.astream(value, config)
            elif kind == "stream_log":
                from runnables.serve.run_log import run_log_patches

                source = run_log_patches(self.runnable, value, config, filters)
            else:
                source = self.runnable.astream_events(value, config, version="v2", **filters)
            try:
                async for item in source:
                    yield emit("data", dumps(item))
            finally:
                await aclose(source)
        except StepTimeoutError as exc:
            logger.warning("Run %s timed out: %s", run_id, exc)
            message = f"The run took longer than this server's limit of {exc.timeout:g} s."
            yield emit("error", dumps({"status_code": 504, "message": message}))
        except asyncio.CancelledError:
            if task not in self.shutdown.stopped:
                raise
            # Stopped by shutdown: the client is still there and learns why.
            task.uncancel()
            logger.info("Run %s was stopped: the server is shutting down.", run_id)
            yield emit("error", dumps({"status_code": 503, "message": SHUTDOWN_MESSAGE}))
        except CLIENT_ERRORS as exc:
            logger.info("Run %s refused its input or config: %s", run_id, exc)
            yield emit(
                "error", dumps({"status_code": 422, "message": str(exc), **failed_step(exc)})
            )
        except Exception as exc:
            logger.exception("Run %s failed.", run_id)
            # The step's name (already in the stream's events) lets the playground mark the
            # step that failed; the message and traceback stay in the server's log.
            failed = {"status_code": 500, "message": "Internal Server Error", **failed_step(exc)}
            yield emit("error", dumps(failed))
        else:
            yield emit("end", None)
        finally:
            self.shutdown.streams.discard(task)
            self.shutdown.stopped.discard(task)

    async def resume_stream(self, request: Request, run_id: str) -> Response:
        """Resume a stream: the events after ``Last-Event-ID`` (or all of them)."""
        self.requests.guard(request)
        raw = request.headers.get("last-event-id") or request.query_params.get("last_event_id")
        after = -1
        if raw:
            parsed = parse_event_id(raw)
            if parsed is not None:
                if parsed[0] != run_id:
                    raise HTTPException(
                        status_code=422,
                        detail=f"Last-Event-ID {raw!r} belongs to another run than {run_id!r}.",
                    )
                after = parsed[1]
            elif raw.strip().isdigit():
                after = int(raw)
            else:
                raise HTTPException(
                    status_code=422,
                    detail=f"Last-Event-ID {raw!r} is not an event id of the form "
                    "'{run_id}:{number}'.",
                )
        return self._resume(run_id, after)

    async def cancel_stream(self, request: Request, run_id: str) -> Response:
        """Cancel a resumable stream's run now, rather than after its ``Resume-Grace``:
        what a client that leaves on purpose sends (204; 404 for an unknown run)."""
        self.requests.guard(request)
        store = self.store
        run = store.get(run_id) if store is not None else None
        if store is None or run is None:
            raise HTTPException(
                status_code=404, detail=f"No stream with run id {run_id!r} is held."
            )
        run.stop("The client cancelled the run.")
        store.runs.pop(run_id, None)
        return Response(status_code=204)

    def _resume(self, run_id: str, after: int) -> Response:
        assert self.store is not None
        run = self.store.get(run_id)
        if run is None:
            raise HTTPException(
                status_code=404,
                detail=f"No stream with run id {run_id!r} is held: it never existed, was "
                "started without a Resume-Grace header, or its retention ran out. Start a "
                "new run.",
            )
        if after + 1 < run.first_seq:
            gone = run.gone(after)
            return JSONResponse(
                {"detail": gone["message"], "first_event_id": gone["first_event_id"]},
                status_code=410,
            )
        return SSEResponse(run.read(after), deadline=self._deadline())


def failed_step(exc: BaseException) -> dict[str, str]:
    """``{"step": name}`` for the innermost step that raised ``exc``, when the engine noted it."""
    step = getattr(exc, NOTED_STEP, None)
    return {"step": step} if isinstance(step, str) else {}


def _pair(event: str, data: str | None) -> tuple[str, str | None]:
    """An event as a run store buffers it (it frames each with its id)."""
    return event, data
