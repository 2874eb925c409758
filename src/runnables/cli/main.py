"""The ``runnables`` command: serve a chain over HTTP, run it in the terminal, draw it.

::

    runnables serve                        # a chat chain on the embedded local model
    runnables serve app.chains:chat --port 8080 --path /chat
    runnables serve app.main:app --workers 4   # a FastAPI app of your own
    runnables run app.chains:chat '{"topic": "cats"}'
    runnables run app.chains:chat "plain text input" --events
    runnables graph app.chains:chat [--mermaid]
    runnables batch app.chains:chat rows.jsonl -o out.jsonl   # see runnables.batch.cli

``module:attr`` names a variable in an importable module (the current folder is
searched first, as ``uvicorn`` does); ``attr`` may be dotted (``module:obj.chain``).
``serve`` accepts a runnable (served with ``add_routes`` at ``--path``, default ``/``,
with the playground) or an ASGI app such as a ``FastAPI`` instance (served as is).
``run`` parses ``INPUT`` as JSON when it is valid JSON, else passes it as a string.

``serve`` guards what it serves (see :mod:`runnables.serve.server`): bound to loopback
(the default, 127.0.0.1) it answers only loopback ``Host`` headers, against DNS
rebinding (``--allowed-hosts`` names others, ``'*'`` any); request headers must arrive
within ``--header-timeout`` seconds (10), idle keep-alive connections close after
``--timeout-keep-alive`` (5), and at most ``--limit-concurrency`` connections (1000)
are served at once.

Exit status: 0 on success, 1 when the chain fails, 2 for a usage error (a bad
``module:attr``, something that is not a runnable), 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import sys
import traceback
from collections.abc import Sequence
from typing import Any

from runnables.errors import UserError

__all__ = ["CLIError", "build_app", "load_target", "main"]

#: Environment variables through which ``serve --workers N`` tells each worker process
#: what to serve (uvicorn starts workers from an import string, not from an object).
TARGET_ENV = "RUNNABLES_SERVE_TARGET"
PATH_ENV = "RUNNABLES_SERVE_PATH"
GRACE_ENV = "RUNNABLES_SERVE_GRACE"
HOSTS_ENV = "RUNNABLES_SERVE_ALLOWED_HOSTS"


class CLIError(UserError):
    """A usage mistake the command reports in one sentence, without a traceback."""


# ---------------------------------------------------------------------- loading targets


def load_target(spec: str) -> Any:
    """The object that ``spec`` (``"module:attr"``) names, with a clear error otherwise."""
    module_name, colon, attr = spec.partition(":")
    if not colon or not module_name or not attr:
        raise CLIError(
            f"{spec!r} is not of the form 'module:attribute'. Name the module and the "
            "variable that holds the chain or app, for example 'app.chains:chat'."
        )
    if module_name.endswith(".py"):
        raise CLIError(
            f"{module_name!r} (in {spec!r}) is a file name; use the module name instead, "
            f"for example {module_name[:-3].replace('/', '.')!r}:{attr}."
        )
    cwd = os.getcwd()
    if cwd not in sys.path:
        # Like uvicorn: a module in the current folder can be named without installing it.
        sys.path.insert(0, cwd)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing and (module_name == missing or module_name.startswith(missing + ".")):
            raise CLIError(
                f"No module named {missing!r} (from {spec!r}). Run the command in the folder "
                f"that contains it (now {cwd!r}), or install the package that provides it."
            ) from None
        raise CLIError(
            f"Importing {module_name!r} (from {spec!r}) failed: {exc}. Install the missing "
            "package, or fix the import in that module."
        ) from None
    except Exception as exc:
        details = "".join(traceback.format_exception(exc)).rstrip()
        raise CLIError(
            f"{details}\n\nImporting {module_name!r} (from {spec!r}) raised "
            f"{type(exc).__name__} (traceback above); fix the module."
        ) from None
    target: Any = module
    for part in attr.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise CLIError(
                f"Module {module_name!r} has no attribute {attr!r} (from {spec!r}). "
                f"{_candidates(module)}"
            ) from None
    return target


def _candidates(module: Any) -> str:
    from runnables.core.base import Runnable

    names = sorted(
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and (isinstance(value, Runnable) or _is_asgi_app(value))
    )
    if not names:
        return "It defines no runnable or app at module level."
    return f"Runnables and apps it defines: {', '.join(names)}."


def _is_asgi_app(value: Any) -> bool:
    try:
        from starlette.applications import Starlette
    except ImportError:  # pragma: no cover - the serve extra brings it
        return False
    return isinstance(value, Starlette)


def require_runnable(target: Any, spec: str) -> Any:
    """``target`` if it is a runnable, else a :class:`CLIError` naming what it is."""
    from runnables.core.base import Runnable

    if isinstance(target, Runnable):
        return target
    raise CLIError(
        f"{spec!r} is {_describe(target)}, not a runnable. Point at a Runnable (a chain "
        "built with |, a model, a RunnableLambda...)."
    )


def _describe(value: Any) -> str:
    text = repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return f"{text} (a {type(value).__name__})"


# ---------------------------------------------------------------------- serve


def normalize_path(path: str) -> str:
    """``"/"`` and ``""`` mean the root (routes at ``/invoke``); else ``"/name"``."""
    path = path.strip().rstrip("/")
    if path and not path.startswith("/"):
        path = "/" + path
    return path


def build_app(target: Any, path: str = "", *, spec: str = "the target") -> Any:
    """The ASGI app to serve for ``target``: an app as is, a runnable inside a new app."""
    from runnables.core.base import Runnable

    if _is_asgi_app(target):
        return target
    if not isinstance(target, Runnable):
        raise CLIError(
            f"{spec!r} is {_describe(target)}, which is neither a runnable nor an ASGI app. "
            "Point at a Runnable, or at a FastAPI app."
        )
    try:
        from fastapi import FastAPI
        from fastapi.responses import RedirectResponse

        from runnables.serve.routes import add_routes
    except ImportError as exc:
        raise CLIError(
            f"Serving needs the serve extra ({exc}). Install it with: "
            "pip install 'runnables[serve]'"
        ) from None
    path = normalize_path(path)
    app = FastAPI(title=target.get_name(), docs_url="/docs")
    add_routes(app, target, path=path)
    if path:
        playground = f"{path}/playground/"

        @app.get("/", include_in_schema=False)
        async def root() -> RedirectResponse:
            return RedirectResponse(playground)

    return app


#: The seconds uvicorn's own graceful shutdown waits beyond the routes' grace, as a
#: backstop: by then every stream has been stopped and has sent its last event.
SHUTDOWN_BACKSTOP = 2.0


def _shutdown_server_class() -> Any:
    import uvicorn

    from runnables.serve.shutdown import begin_shutdown

    class GracefulServer(uvicorn.Server):
        """uvicorn's server, telling the routes when shutdown begins (Ctrl-C, SIGTERM):
        uvicorn alone waits for open streams without their knowing."""

        grace: float | None = None

        async def shutdown(self, sockets: Any = None) -> None:
            begin_shutdown(grace=self.grace)
            await super().shutdown(sockets)

    return GracefulServer


def _notify_shutdown_on_signals(grace: float | None) -> None:
    """In a ``--workers`` process: call ``begin_shutdown`` when the exit signal comes.

    uvicorn's supervisor builds each worker's ``Server`` itself, so there is no class to
    replace; its signal handlers (installed before the app is loaded) are wrapped
    instead, and the notice is passed to the event loop, where the routes live.
    """
    import signal

    from runnables.serve.shutdown import begin_shutdown

    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous = signal.getsignal(sig)
        if not callable(previous):
            continue

        def handler(signum: int, frame: Any, previous: Any = previous) -> None:
            loop.call_soon_threadsafe(lambda: begin_shutdown(grace=grace))
            previous(signum, frame)

        signal.signal(sig, handler)


def worker_app() -> Any:
    """The app each ``serve --workers N`` worker process builds (a uvicorn factory)."""
    grace = os.environ.get(GRACE_ENV)
    _notify_shutdown_on_signals(float(grace) if grace else None)
    spec = os.environ.get(TARGET_ENV)
    if not spec:
        from runnables.serve.default_app import create_app

        app = create_app()
    else:
        app = build_app(load_target(spec), os.environ.get(PATH_ENV, ""), spec=spec)
    if os.environ.get(OTEL_ENV):
        app = start_otel(app)
    return _guard_hosts(app, os.environ.get(HOSTS_ENV, ""))


def _guard_hosts(app: Any, allowed: str) -> Any:
    """``app`` behind the Host allow-list ``allowed`` (comma-separated; empty: none)."""
    hosts = [h for h in allowed.split(",") if h.strip()]
    if not hosts:
        return app
    from runnables.serve.server import HostAllowList

    return HostAllowList(app, hosts)


def _allowed_hosts(args: argparse.Namespace) -> str:
    """``--allowed-hosts``, or the default for the bound address, comma-separated."""
    if args.allowed_hosts is not None:
        if not args.allowed_hosts.strip(", "):
            raise CLIError(
                f"--allowed-hosts must name at least one host, got {args.allowed_hosts!r}; "
                "for example --allowed-hosts example.com,localhost, or '*' for any host."
            )
        return str(args.allowed_hosts)
    from runnables.serve.server import default_allowed_hosts

    return ",".join(default_allowed_hosts(args.host) or ())


OTEL_ENV = "RUNNABLES_SERVE_OTEL"


def add_otel_flag(parser: argparse.ArgumentParser) -> None:
    """The ``--otel`` flag, for every command that runs chains (``serve``, ``batch``)."""
    parser.add_argument(
        "--otel",
        action="store_true",
        help="export OpenTelemetry traces and metrics over OTLP/HTTP, configured by the "
        "standard OTEL_* variables (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_SERVICE_NAME, "
        "OTEL_TRACES_SAMPLER); needs the 'otel' extra",
    )


def start_otel(app: Any = None) -> Any:
    """Instrument from the environment; return ``app`` wrapped with request spans."""
    try:
        from runnables import otel
    except ImportError as exc:
        raise CLIError(str(exc)) from None
    providers = otel.instrument_from_env()
    return None if app is None else otel.instrument_app(app, *providers)


def serve(args: argparse.Namespace) -> int:
    try:
        import uvicorn
    except ImportError:
        raise CLIError(
            "runnables serve needs uvicorn, which is not installed. Install it with: "
            "pip install 'runnables[serve]'"
        ) from None
    from runnables.serve.server import HEADER_TIMEOUT_ENV, http_protocol

    for flag, value in (
        ("--header-timeout", args.header_timeout),
        ("--timeout-keep-alive", args.timeout_keep_alive),
        ("--limit-concurrency", args.limit_concurrency),
    ):
        if not value > 0:
            raise CLIError(f"{flag} must be a number greater than 0, got {value!r}.")
    # Read by the protocol class, in this process and in every --workers process.
    os.environ[HEADER_TIMEOUT_ENV] = str(args.header_timeout)
    allowed = _allowed_hosts(args)
    options: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "log_level": args.log_level,
        "loop": args.loop,
        "http": http_protocol(args.http),
        "timeout_keep_alive": args.timeout_keep_alive,
        "limit_concurrency": args.limit_concurrency,
        # The routes stop open streams after the grace (begin_shutdown); uvicorn's own
        # timeout is only a backstop behind it.
        "timeout_graceful_shutdown": args.graceful_shutdown + SHUTDOWN_BACKSTOP,
    }
    if not args.graceful_shutdown >= 0:
        raise CLIError(
            f"--graceful-shutdown must be a number of seconds >= 0, got {args.graceful_shutdown!r}."
        )
    if args.target is None:
        if args.path not in (None, "", "/"):
            raise CLIError(
                f"--path {args.path!r} needs a target: the default app has its own routes "
                "(/chat and /v1). Name a runnable to serve it at a path of your choice."
            )
        from runnables.serve.default_app import create_app

        app: Any = create_app()
        print(
            f"runnables: serving a chat chain on the embedded local model; open "
            f"http://{_host_for_url(args.host)}:{args.port}/chat/playground/",
            file=sys.stderr,
        )
    else:
        target = load_target(args.target)
        app = build_app(target, args.path or "", spec=args.target)
        if app is not target:
            shown = normalize_path(args.path or "")
            print(
                f"runnables: serving {args.target} at "
                f"http://{_host_for_url(args.host)}:{args.port}{shown}/ "
                f"(playground: {shown}/playground/)",
                file=sys.stderr,
            )
    if args.otel:
        os.environ[OTEL_ENV] = "1"  # workers rebuild the app and instrument it themselves
        if args.workers <= 1:
            app = start_otel(app)
    if args.workers > 1:
        # Workers are separate processes: each rebuilds the app from the import string.
        if args.target is not None:
            os.environ[TARGET_ENV] = args.target
            os.environ[PATH_ENV] = args.path or ""
        else:
            os.environ.pop(TARGET_ENV, None)
        os.environ[GRACE_ENV] = str(args.graceful_shutdown)
        os.environ[HOSTS_ENV] = allowed
        uvicorn.run("runnables.cli.main:worker_app", factory=True, workers=args.workers, **options)
        return 0
    app = _guard_hosts(app, allowed)
    server = _shutdown_server_class()(uvicorn.Config(app, **options))
    server.grace = args.graceful_shutdown
    try:
        server.run()
    except KeyboardInterrupt:  # a second Ctrl-C: uvicorn's forced exit
        pass
    if not server.started:
        raise CLIError(
            f"The server did not start (see uvicorn's message above); is port {args.port} "
            f"on {args.host} already in use?"
        )
    return 0


def _host_for_url(host: str) -> str:
    if host in ("0.0.0.0", "::"):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


# ---------------------------------------------------------------------- run


def parse_input(text: str) -> Any:
    """``text`` as JSON if it is valid JSON, else the string itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


async def _run_stream(runnable: Any, input: Any, config: Any, events: bool) -> None:
    from runnables.messages import BaseMessage
    from runnables.wire import dumps

    out = sys.stdout
    if events:
        async for event in runnable.astream_events(input, config):
            out.write(dumps(event) + "\n")
            out.flush()
        return
    text_mode = None  # decided by the first chunk: text as it comes, or one JSON per line
    async for chunk in runnable.astream(input, config):
        if text_mode is None:
            text_mode = isinstance(chunk, (str, BaseMessage))
        if isinstance(chunk, str) and text_mode:
            out.write(chunk)
        elif isinstance(chunk, BaseMessage) and text_mode:
            out.write(chunk.text)
        else:
            out.write(dumps(chunk) + "\n")
        out.flush()
    if text_mode:
        out.write("\n")
        out.flush()


def run(args: argparse.Namespace) -> int:
    runnable = require_runnable(load_target(args.target), args.target)
    input = parse_input(args.input)
    config = None
    if args.config is not None:
        config = parse_input(args.config)
        if not isinstance(config, dict):
            raise CLIError(
                f'--config must be a JSON object such as \'{{"tags": ["cli"]}}\', got '
                f"{args.config!r}."
            )
    try:
        asyncio.run(_run_stream(runnable, input, config, args.events))
    except KeyboardInterrupt:
        raise
    except Exception as exc:
        if args.traceback:
            traceback.print_exc(file=sys.stderr)
        print(f"error: the chain failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


# ---------------------------------------------------------------------- graph


def graph(args: argparse.Namespace) -> int:
    runnable = require_runnable(load_target(args.target), args.target)
    drawing = runnable.get_graph()
    print(drawing.draw_mermaid() if args.mermaid else drawing.draw_ascii())
    return 0


# ---------------------------------------------------------------------- the parser


def make_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``runnables`` command."""
    parser = argparse.ArgumentParser(
        prog="runnables",
        description="Serve a chain over HTTP, run it in the terminal, or draw it.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser(
        "serve",
        help="serve a runnable (or a FastAPI app) over HTTP, with the playground",
        description="Serve a runnable with add_routes (or a FastAPI app as is) under uvicorn. "
        "With no target: a chat chain on the embedded local model, at /chat.",
    )
    p.add_argument(
        "target",
        nargs="?",
        metavar="module:attr",
        help="a runnable or FastAPI app (default: the chat chain on the local model)",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port to bind (default 8000)")
    p.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--path", default=None, help="route prefix for a runnable (default /)")
    p.add_argument(
        "--log-level",
        default="info",
        choices=["critical", "error", "warning", "info", "debug", "trace"],
    )
    p.add_argument("--loop", default="auto", choices=["auto", "asyncio", "uvloop"])
    p.add_argument("--http", default="auto", choices=["auto", "h11", "httptools"])
    p.add_argument(
        "--graceful-shutdown",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="on shutdown (Ctrl-C, SIGTERM), how long open streams may take to finish "
        "before they are stopped with an error event (default 10)",
    )
    p.add_argument(
        "--allowed-hosts",
        default=None,
        metavar="HOSTS",
        help="comma-separated Host header values to answer (any port; '*.example.com' for "
        "subdomains, 'loopback' for loopback names, '*' for any). Default: loopback names "
        "when bound to loopback (against DNS rebinding), any host otherwise",
    )
    p.add_argument(
        "--header-timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="close a connection whose request headers are not complete this long after "
        "it opened or after its last response (slowloris; default 10)",
    )
    p.add_argument(
        "--timeout-keep-alive",
        type=int,
        default=5,
        metavar="SECONDS",
        help="close an idle keep-alive connection after this long (default 5)",
    )
    p.add_argument(
        "--limit-concurrency",
        type=int,
        default=1000,
        metavar="N",
        help="the most connections and tasks at once; past it new requests get 503 (default 1000)",
    )
    add_otel_flag(p)
    p.set_defaults(handler=serve)

    p = commands.add_parser(
        "run",
        help="run a runnable on one input, streaming the output",
        description="Run a runnable on INPUT and print its output as it streams in.",
    )
    p.add_argument("target", metavar="module:attr", help="the runnable to run")
    p.add_argument("input", metavar="INPUT", help="the input: JSON if it parses, else a string")
    p.add_argument("--events", action="store_true", help="print astream_events, one JSON a line")
    p.add_argument("--config", default=None, help="a RunnableConfig as a JSON object")
    p.add_argument("--traceback", action="store_true", help="print the traceback on failure")
    p.set_defaults(handler=run)

    p = commands.add_parser(
        "graph",
        help="draw the steps of a runnable",
        description="Draw the graph of a runnable's steps (ASCII, or Mermaid with --mermaid).",
    )
    p.add_argument("target", metavar="module:attr", help="the runnable to draw")
    p.add_argument("--mermaid", action="store_true", help="print Mermaid syntax instead")
    p.set_defaults(handler=graph)

    from runnables.batch.cli import add_batch_parser

    add_batch_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``runnables`` command with ``argv`` (default: the process's arguments)."""
    args = make_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except CLIError as exc:
        print(f"runnables {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
