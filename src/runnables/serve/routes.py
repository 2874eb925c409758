"""``add_routes``: a runnable as LangServe-compatible HTTP endpoints on a FastAPI app.

The routes, under ``path``:

==========================  =====================================================
``POST {path}/invoke``      ``{"input", "config", "kwargs"}`` →
                            ``{"output", "metadata": {"run_id", "feedback_tokens"}}``
``POST {path}/batch``       ``{"inputs": [...], "config": {...} or [...]}`` →
                            ``{"output": [...], "metadata": {"run_ids": [...]}}``
``POST {path}/stream``      SSE: ``metadata`` (``{"run_id"}``), one ``data`` per chunk,
                            then ``end``, or ``error`` (``{"status_code", "message"}``)
``POST {path}/stream_events``  SSE: one ``data`` per ``astream_events`` (v2) event
                            (the first names the run: its ``run_id``), then ``end`` or
                            ``error``; no ``metadata`` event, as LangServe 0.3 sends
                            none there. The body may add ``include_names``,
                            ``include_types``, ``include_tags`` and the ``exclude_*`` lists.
``POST {path}/stream_log``  SSE: the run as langchain-core's ``astream_log`` patches,
                            one ``data`` (``{"ops": [...]}``) per patch, then ``end``
                            (:mod:`runnables.serve.run_log`); the same filters
``GET {path}/stream/{run_id}``  resume a stream (see :mod:`runnables.serve.replay`);
                            likewise ``GET {path}/stream_events/{run_id}``; ``DELETE``
                            on either cancels a resumable run at once (204)
``GET {path}/input_schema``, ``output_schema``, ``config_schema``: JSON schemas
``GET {path}/playground``   the playground page (:mod:`runnables.serve.playground`); its
                            base path is the request's own URL without ``/playground``,
                            so it works under any router prefix or ``root_path``
==========================  =====================================================

Chunks and outputs are serialised as LangServe does (:func:`runnables.serve.sse.dumps`),
so LangServe's ``RemoteRunnable`` and this library's both read them.

Status codes: 422 for a body, input or config that does not validate (FastAPI's
``{"detail": [{"loc": ["body", "input", "question"], "msg": ...}]}``, naming the field);
415 for a POST body that is not ``application/json``; 413 past ``max_body_bytes`` or
``max_batch_size``; 422 for JSON this server could not answer (``NaN``, lone
surrogates, deep nesting: see :func:`~runnables.serve.guards.read_json_body`); 401
without a valid bearer token (when ``auth_token`` is set); 503 with ``Retry-After``
past ``max_in_flight``; 504 when ``timeout`` runs out; 422 when the run itself refuses
what the request sent (an ``InvalidInputError`` or ``ConfigError``: say, an int sent to
a chat model or an unknown configurable alternative), with that error's message; 500
for any other failure. A failure's traceback is logged (logger ``runnables.serve``,
with the run id) and never sent: the client gets ``"Internal Server Error"`` and the
run id. In a stream, the same failures arrive as an ``error`` event (the response has
already started with 200). Validation, size, auth and capacity are checked before a
stream starts, so they are real HTTP statuses there too.

A client that disconnects cancels its run (and the model call under way) at once. A
client that means to reconnect says so: it sends ``Resume-Grace: <seconds>`` with its
stream request, and that stream's run then outlives a dropped connection by that long
(capped by ``resume_grace``), its events buffered for a reconnect with ``Last-Event-ID``
(the response echoes the grace granted in its own ``Resume-Grace`` header). Only such a
stream's events carry ``id:`` lines (``{run_id}:{seq}``); the others are plain
``event:``/``data:`` pairs, exactly as LangServe writes them.
:class:`~runnables.serve.remote.RemoteRunnable` sends it; the playground does not.

Shutdown (see :mod:`runnables.serve.shutdown`): once
:func:`~runnables.serve.shutdown.begin_shutdown` is called (``runnables serve`` calls
it when uvicorn begins to shut down) new runs get 503, open streams get
``shutdown_grace`` seconds to finish, and those still going then end with an ``error``
event (503). The app's lifespan is wrapped too, so that when it ends, runs still going
get what is left of that grace before being cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any, Literal, cast
from uuid import UUID, uuid4

try:
    from fastapi import APIRouter, FastAPI, HTTPException, Request
    from fastapi.params import Depends
    from starlette.responses import HTMLResponse, JSONResponse, Response
    from starlette.routing import Route
    from starlette.types import Receive, Scope, Send
except ImportError as exc:  # pragma: no cover - depends on the environment
    from runnables.errors import MissingExtraError

    raise MissingExtraError("Serving runnables over HTTP", "serve", "fastapi") from exc


from runnables.core.base import Runnable, coerce_to_runnable
from runnables.core.config import RunnableConfig
from runnables.core.tasks import gather_all
from runnables.errors import InvalidArgumentError, InvalidRunnableError, StepTimeoutError
from runnables.serve.guards import (
    DEFAULT_CONFIG_KEYS,
    ClientDisconnectedError,
    InFlight,
    until_disconnect,
)
from runnables.serve.replay import DEFAULT_MAX_BYTES, RunStore
from runnables.serve.requests import ConfigModifier, RequestReader, invalid
from runnables.serve.shutdown import StreamShutdown
from runnables.serve.sse import dumps, encode
from runnables.serve.streaming import CLIENT_ERRORS, StreamEndpoints

__all__ = ["add_routes"]

logger = logging.getLogger("runnables.serve")

Endpoint = Literal[
    "invoke",
    "batch",
    "stream",
    "stream_events",
    "stream_log",
    "input_schema",
    "output_schema",
    "config_schema",
    "playground",
]
ENDPOINTS: tuple[str, ...] = (
    "invoke",
    "batch",
    "stream",
    "stream_events",
    "stream_log",
    "input_schema",
    "output_schema",
    "config_schema",
    "playground",
)
# LangServe's endpoint names that name nothing served here (LangSmith feedback and
# trace links, config hashes): accepted in disabled_endpoints, so an add_routes call
# written for LangServe runs unchanged, and refused in enabled_endpoints.
LangServeOnlyEndpoint = Literal["feedback", "public_trace_link", "config_hashes", "token_feedback"]
_LANGSERVE_ONLY = ("feedback", "public_trace_link", "config_hashes", "token_feedback")


def add_routes(
    app: FastAPI | APIRouter,
    runnable: Any,
    path: str = "",
    *,
    config_keys: Sequence[str] = DEFAULT_CONFIG_KEYS,
    enabled_endpoints: Sequence[Endpoint] | None = None,
    disabled_endpoints: Sequence[Endpoint | LangServeOnlyEndpoint] | None = None,
    dependencies: Sequence[Depends] | None = None,
    per_req_config_modifier: ConfigModifier | None = None,
    auth_token: str | Sequence[str] | None = None,
    max_body_bytes: int | None = 1_000_000,
    max_in_flight: int | None = None,
    retry_after: float = 1.0,
    timeout: float | None = None,
    max_batch_size: int | None = 1_000,
    resumable: bool = True,
    resume_grace: float = 5.0,
    replay_retention: float = 60.0,
    replay_max_events: int = 10_000,
    replay_max_bytes: int | None = DEFAULT_MAX_BYTES,
    replay_max_runs: int | None = 1_000,
    shutdown_grace: float = 10.0,
) -> None:
    """Serve ``runnable`` on ``app`` under ``path`` (see the module docstring for routes).

    The names shared with LangServe's ``add_routes`` (``path``, ``config_keys``,
    ``enabled_endpoints``, ``disabled_endpoints``, ``dependencies``,
    ``per_req_config_modifier``) mean the same; ``config_keys`` defaults to
    ``configurable``, ``tags``, ``metadata`` and ``run_name``. As in LangServe: the root
    run is named after the route (a request may rename it when ``run_name`` is allowed),
    a client's ``run_id`` is used when ``config_keys`` has ``run_id``, sending
    ``configurable`` when it is not allowed is a 422, a ``with_types`` input model
    reaches the chain as a dict, LangServe's LangSmith endpoint names may be disabled,
    and serving a second runnable on the same path is a ``ValueError``.

    On a ``FastAPI`` app without dependencies (neither ``dependencies`` here nor the
    app's own), the POST routes are served as plain ASGI endpoints, ahead of their API
    routes (which still document them in the OpenAPI schema): FastAPI's per-request
    dependency solving would cost about as much as running a cheap chain. With any
    dependency, or on an ``APIRouter`` (which may be included later with dependencies),
    every route is an ordinary API route, so the dependencies always apply.

    Args:
        auth_token: a token (or several) that requests must send as
            ``Authorization: Bearer <token>``; ``None`` (default) means no auth. The
            playground page itself is served without a token (it holds no data).
        max_body_bytes: the largest request body accepted (413 past it).
        max_in_flight: the most runs at once through these routes (503 past it, with
            ``Retry-After: retry_after``). ``None``: no cap.
        timeout: seconds each run may take (``config["timeout"]``); 504 when it runs out.
            A stream's response may take ``timeout`` + 1 s in all: past that its run is
            cancelled and its connection closed, even if its client never reads.
        max_batch_size: the most inputs one ``/batch`` request may send (413 past it,
            naming the limit). ``None``: no cap. A batch also keeps to
            ``max_in_flight``: at most that many of its inputs run at once.
        resumable: let a stream request ask to be resumable with the header
            ``Resume-Grace: <seconds>``: its run then goes on in the background with a
            replay buffer, so the client can reconnect with ``Last-Event-ID`` (see
            :mod:`runnables.serve.replay`). Streams without the header, and every stream
            when ``False``, are cancelled as soon as their client disconnects.
        resume_grace: the most seconds a ``Resume-Grace`` header may ask for: how long a
            resumable stream's run keeps going after its client disconnects, waiting for
            a reconnect, before it is cancelled. ``0`` makes no stream resumable.
        replay_retention: seconds a finished resumable stream's events are kept.
        replay_max_events: the most events held per stream.
        replay_max_bytes: the most bytes of events held per stream (default 16 MiB;
            ``None``: no byte cap); with ``replay_max_events``, whichever is reached
            first bounds how far back a reconnect can resume (410 past it).
        replay_max_runs: the most resumable runs held at once; past it the oldest
            finished one is dropped first. ``None``: no cap.
        shutdown_grace: seconds open streams (and runs still going) get to finish once
            shutdown begins (:mod:`runnables.serve.shutdown`).

    >>> from fastapi import FastAPI
    >>> from runnables import RunnableLambda
    >>> app = FastAPI()
    >>> add_routes(app, RunnableLambda(lambda x: x + 1), path="/plus_one")
    """
    if path and (not path.startswith("/") or path.endswith("/")):
        raise InvalidArgumentError(
            f"add_routes path must start with '/' and not end with one, got {path!r}; "
            "for example path='/chat'."
        )
    if not isinstance(runnable, Runnable | Mapping) and not callable(runnable):
        # LangServe's words first, so code written against it recognises the error.
        raise InvalidRunnableError(
            f"Expected a Runnable, got {type(runnable)}: add_routes serves a Runnable, a "
            f"function or a dict of them, not {runnable!r}."
        )
    endpoints = set(enabled_endpoints if enabled_endpoints is not None else ENDPOINTS)
    unknown = (endpoints - set(ENDPOINTS)) | (
        set(disabled_endpoints or ()) - set(ENDPOINTS) - set(_LANGSERVE_ONLY)
    )
    if unknown:
        only = sorted(unknown & set(_LANGSERVE_ONLY))
        hint = (
            f" {only!r} are LangServe endpoints for LangSmith that this server does not have."
            if only
            else ""
        )
        raise InvalidArgumentError(
            f"add_routes got unknown endpoint names {sorted(unknown)!r}; the endpoints are "
            f"{list(ENDPOINTS)!r}.{hint}"
        )
    endpoints -= set(disabled_endpoints or ())
    # LangServe names the root run after the route (with a router's prefix), so traces
    # and events say which route ran; a request cannot rename it.
    run_name = (app.prefix if isinstance(app, APIRouter) else "") + path
    routes = app.router.routes if isinstance(app, FastAPI) else app.routes
    taken: set[str] = {p for r in routes if isinstance(p := getattr(r, "path", None), str)}
    clash = sorted(taken & {f"{path}/{e}" for e in endpoints})
    if clash:
        raise InvalidArgumentError(
            f"add_routes: the path {path or '/'!r} is already served on this app ({clash[0]!r} "
            "exists); give each runnable its own path, e.g. path='/other'."
        )
    handler = _Handler(
        coerce_to_runnable(runnable),
        config_keys=config_keys,
        per_req_config_modifier=per_req_config_modifier,
        run_name=run_name,
        auth_token=auth_token,
        max_body_bytes=max_body_bytes,
        in_flight=InFlight(max_in_flight, retry_after),
        timeout=timeout,
        max_batch_size=max_batch_size,
        store=RunStore(
            max_events=replay_max_events,
            max_bytes=replay_max_bytes,
            retention=replay_retention,
            resume_grace=resume_grace,
            max_runs=replay_max_runs,
        )
        if resumable
        else None,
        owner=app,
        shutdown_grace=shutdown_grace,
    )
    deps = list(dependencies or ())
    name = handler.runnable.get_name()
    # The POST routes' fast path (see _ASGIEndpoint) skips FastAPI's dependency system,
    # so it is taken only where no dependency could apply: on a FastAPI app (an
    # APIRouter may be included later with dependencies) with none of its own.
    fast = (
        app.router
        if isinstance(app, FastAPI) and not deps and not app.router.dependencies
        else None
    )

    def post(route: str, endpoint: Callable[..., Any], summary: str) -> None:
        if fast is not None:
            # Matched first; the API route below still documents it in the OpenAPI schema.
            asgi = Route(
                f"{path}/{route}",
                _ASGIEndpoint(endpoint),
                methods=["POST"],
                name=f"{path}/{route}:asgi",
                include_in_schema=False,
            )
            fast.routes.append(asgi)
        app.add_api_route(
            f"{path}/{route}",
            endpoint,
            methods=["POST"],
            dependencies=deps,
            summary=summary,
            name=f"{path}/{route}",
            response_model=None,
        )

    def get(route: str, endpoint: Callable[..., Any], summary: str, **extra: Any) -> None:
        app.add_api_route(
            f"{path}/{route}",
            endpoint,
            methods=["GET"],
            dependencies=deps,
            summary=summary,
            name=f"{path}/{route}",
            response_model=None,
            **extra,
        )

    def delete(route: str, endpoint: Callable[..., Any], route_name: str) -> None:
        app.add_api_route(
            f"{path}/{route}",
            endpoint,
            methods=["DELETE"],
            dependencies=deps,
            summary="Cancel a resumable stream's run",
            name=f"{path}/{route_name}",
            response_model=None,
        )

    if "invoke" in endpoints:
        post("invoke", handler.invoke, f"Invoke {name}")
    if "batch" in endpoints:
        post("batch", handler.batch, f"Batch {name}")
    if "stream" in endpoints:
        post("stream", handler.streaming.stream, f"Stream the output of {name} (SSE)")
        if resumable:
            get("stream/{run_id}", handler.streaming.resume_stream, "Resume a stream (SSE)")
            delete("stream/{run_id}", handler.streaming.cancel_stream, "stream/cancel")
    if "stream_events" in endpoints:
        post("stream_events", handler.streaming.stream_events, f"Stream the events of {name} (SSE)")
        if resumable:
            get("stream_events/{run_id}", handler.streaming.resume_stream, "Resume a stream (SSE)")
            delete(
                "stream_events/{run_id}", handler.streaming.cancel_stream, "stream_events/cancel"
            )
    if "stream_log" in endpoints:
        post("stream_log", handler.streaming.stream_log, f"Stream the run log of {name} (SSE)")
        if resumable:
            get("stream_log/{run_id}", handler.streaming.resume_stream, "Resume a stream (SSE)")
            delete("stream_log/{run_id}", handler.streaming.cancel_stream, "stream_log/cancel")
    if "input_schema" in endpoints:
        get("input_schema", handler.input_schema, f"The input schema of {name}")
    if "output_schema" in endpoints:
        get("output_schema", handler.output_schema, f"The output schema of {name}")
    if "config_schema" in endpoints:
        get("config_schema", handler.config_schema, f"The config schema of {name}")
    if "playground" in endpoints:
        # LangServe's page is /playground/ and its files; index.html is the page itself.
        for route in ("playground", "playground/", "playground/index.html"):
            app.add_api_route(
                f"{path}/{route}",
                handler.playground,
                methods=["GET"],
                dependencies=deps,
                include_in_schema=False,
                response_model=None,
            )
    _close_on_shutdown(app, handler)


def _close_on_shutdown(app: FastAPI | APIRouter, handler: _Handler) -> None:
    router = app.router if isinstance(app, FastAPI) else app
    original = router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(owner: Any) -> AsyncIterator[Any]:
        handler.shutdown.loop = asyncio.get_running_loop()
        async with original(owner) as state:
            try:
                yield state
            finally:
                handler.shutdown.begin_shutdown(None)  # does nothing if it has begun already
                await handler.shutdown.drain()

    router.lifespan_context = lifespan


class _ASGIEndpoint:
    """A handler method served as a plain ASGI app: the POST routes' fast path.

    FastAPI's per-request work for a route (solving dependencies, building arguments
    from the signature) costs about as much as the whole run of a cheap chain, and these
    handlers take just the ``Request``. Errors raised before the response starts
    (``HTTPException``, ``RequestValidationError``) reach the app's exception handlers
    exactly as they do from an API route, so statuses and bodies are the same.
    """

    __slots__ = ("endpoint",)

    def __init__(self, endpoint: Callable[[Request], Awaitable[Response]]) -> None:
        self.endpoint = endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self.endpoint(Request(scope, receive, send))
        await response(scope, receive, send)


class _Handler:
    """The endpoints of one ``add_routes`` call, sharing its settings."""

    def __init__(
        self,
        runnable: Runnable[Any, Any],
        *,
        config_keys: Sequence[str],
        per_req_config_modifier: ConfigModifier | None,
        auth_token: str | Sequence[str] | None,
        run_name: str = "",
        max_body_bytes: int | None,
        in_flight: InFlight,
        timeout: float | None,
        store: RunStore | None,
        max_batch_size: int | None = None,
        owner: object = None,
        shutdown_grace: float = 10.0,
    ) -> None:
        self.runnable = runnable
        # The concerns the endpoints share, each in its own object: reading a request
        # (auth, body, config, input), and shutting down (the streams to stop).
        self.requests = RequestReader(
            runnable,
            config_keys=config_keys,
            per_req_config_modifier=per_req_config_modifier,
            auth_token=auth_token,
            run_name=run_name,
            max_body_bytes=max_body_bytes,
            timeout=timeout,
        )
        self.shutdown = StreamShutdown(
            owner=owner, in_flight=in_flight, store=store, shutdown_grace=shutdown_grace
        )
        self.in_flight = in_flight
        self.timeout = timeout
        if max_batch_size is not None and max_batch_size < 1:
            raise InvalidArgumentError(
                f"max_batch_size must be at least 1 or None, got {max_batch_size!r}."
            )
        self.max_batch_size = max_batch_size
        self.store = store
        self.streaming = StreamEndpoints(
            runnable,
            requests=self.requests,
            shutdown=self.shutdown,
            in_flight=in_flight,
            store=store,
            timeout=timeout,
        )

    # ------------------------------------------------------------------ invoke / batch

    async def invoke(self, request: Request) -> Response:
        """Run the runnable once: ``{"input", "config"}`` → ``{"output", "metadata"}``."""
        value, config, _ = await self.requests.single(request)
        run_id = config["run_id"]
        runnable = self.runnable
        output = await self._run(
            request, lambda: runnable.ainvoke(value, cast(RunnableConfig, config)), str(run_id)
        )
        if isinstance(output, Response):
            return output
        metadata = {"run_id": str(run_id), "feedback_tokens": []}
        return _answer({"output": output, "metadata": metadata}, str(run_id))

    async def batch(self, request: Request) -> Response:
        """Run on many inputs: ``{"inputs", "config"}`` → ``{"output": [...], "metadata"}``."""
        body = await self.requests.body(request)
        inputs = body.get("inputs")
        if not isinstance(inputs, list):
            raise invalid(("body", "inputs"), "Field required: send {'inputs': [...]}.", inputs)
        if self.max_batch_size is not None and len(inputs) > self.max_batch_size:
            raise HTTPException(
                status_code=413,
                detail=f"The batch has {len(inputs)} inputs, over this server's limit of "
                f"{self.max_batch_size} per request; split it into smaller batches.",
            )
        raw = body.get("config")
        if isinstance(raw, list):
            if len(raw) != len(inputs):
                raise invalid(
                    ("body", "config"),
                    f"Got {len(inputs)} inputs but {len(raw)} configs; send one config for "
                    "all inputs or exactly one per input.",
                    None,
                )
            configs = [
                await self.requests.config(c, request, ("body", "config", i))
                for i, c in enumerate(raw)
            ]
        else:
            one = await self.requests.config(raw, request, ("body", "config"))
            configs = [dict(one) for _ in inputs]
        values = [self.requests.input(v, ("body", "inputs", i)) for i, v in enumerate(inputs)]
        seen: set[UUID] = set()
        for config in configs:
            if config["run_id"] in seen:
                config["run_id"] = uuid4()  # one config for all inputs: one id each
            seen.add(config["run_id"])
        ids = [str(c["run_id"]) for c in configs]
        limit = self.in_flight.limit
        if limit is not None and len(values) > limit:
            # Each input has its own config (its run id), so abatch would give each its
            # own budget: the route's cap is kept here instead.
            def work() -> Awaitable[list[Any]]:
                return _bounded_batch(self.runnable, values, configs, limit)
        else:

            def work() -> Awaitable[list[Any]]:
                return self.runnable.abatch(values, cast(list[RunnableConfig], configs))

        output = await self._run(request, work, ", ".join(ids))
        if isinstance(output, Response):
            return output
        # LangServe's shape: one entry per input under "responses" (run_ids kept too).
        responses = [{"run_id": i, "feedback_tokens": []} for i in ids]
        metadata = {"run_ids": ids, "responses": responses}
        return _answer({"output": output, "metadata": metadata}, ", ".join(ids))

    async def _run(self, request: Request, work: Callable[[], Awaitable[Any]], run_id: str) -> Any:
        self.in_flight.enter()
        try:
            # A chain that cannot suspend finishes before any disconnect could be seen.
            may_suspend = self.runnable._needs_loop()
            return await until_disconnect(request, work(), may_suspend=may_suspend)
        except ClientDisconnectedError:
            logger.info("Run %s was cancelled: the client disconnected.", run_id)
            return Response(status_code=499)
        except StepTimeoutError as exc:
            logger.warning("Run %s timed out: %s", run_id, exc)
            return _error(
                504, f"The run took longer than this server's limit of {exc.timeout:g} s.", run_id
            )
        except HTTPException:
            raise
        except CLIENT_ERRORS as exc:
            logger.info("Run %s refused its input or config: %s", run_id, exc)
            return _error(422, str(exc), run_id)
        except Exception:
            logger.exception("Run %s failed.", run_id)
            return _error(500, "Internal Server Error", run_id)
        finally:
            self.in_flight.leave()

    # ------------------------------------------------------------------ schemas, page

    async def input_schema(self, request: Request) -> Response:
        """The JSON schema of the input."""
        self.requests.guard(request)
        return _json(self.runnable.get_input_jsonschema())

    async def output_schema(self, request: Request) -> Response:
        """The JSON schema of the output."""
        self.requests.guard(request)
        return _json(self.runnable.get_output_jsonschema())

    async def config_schema(self, request: Request) -> Response:
        """The JSON schema of the config a request may send."""
        self.requests.guard(request)
        keys = [k for k in self.requests.config_keys if k != "configurable"]
        return _json(self.runnable.config_schema(include=keys).model_json_schema())

    async def playground(self, request: Request) -> Response:
        """The playground page, pointed at these routes."""
        from runnables.serve.playground import render_playground

        page = request.url.path.removesuffix("index.html").rstrip("/")
        base = page.removesuffix("/playground")
        # Behind a proxy that strips a prefix (root_path), the browser must ask for it.
        root = str(request.scope.get("root_path") or "").rstrip("/")
        if root and not base.startswith(root + "/"):
            base = root + base
        return HTMLResponse(render_playground(self.runnable.get_name(), base or ""))


async def _bounded_batch(
    runnable: Runnable[Any, Any], values: list[Any], configs: list[dict[str, Any]], limit: int
) -> list[Any]:
    """``abatch`` with at most ``limit`` inputs running at once, over per-input configs:
    ``limit`` workers take the inputs in order; the first failure cancels the rest."""
    results: list[Any] = [None] * len(values)
    position = iter(range(len(values)))

    async def worker() -> None:
        for i in position:
            results[i] = await runnable.ainvoke(values[i], cast(RunnableConfig, configs[i]))

    await gather_all([worker() for _ in range(limit)])
    return results


def _json(content: Any, status_code: int = 200) -> Response:
    return Response(encode(dumps(content)), status_code=status_code, media_type="application/json")


def _answer(content: Any, run_id: str) -> Response:
    """A run's answer as JSON, or a 500 if its output holds a value JSON cannot encode
    (LangServe's answer too: sending its ``str()`` would pass it off as data)."""
    try:
        return _json(content)
    except TypeError as exc:
        logger.error("Run %s's output could not be sent: %s", run_id, exc)
        return _error(500, "Internal Server Error", run_id)


def _error(status_code: int, message: str, run_id: str) -> Response:
    return JSONResponse({"detail": message, "run_id": run_id}, status_code=status_code)
