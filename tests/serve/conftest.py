"""A real uvicorn server on loopback for the serving tests.

``live_server(app)`` starts ``app`` on ``127.0.0.1`` on a free port in a thread (its own
event loop, as in production) and returns a :class:`LiveServer` with the base URL;
servers still running are stopped when the test ends.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import uvicorn


class LiveServer:
    """One uvicorn server running in a background thread."""

    def __init__(self, app: Any, **config: Any) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config.setdefault("log_level", "warning")
        config.setdefault("lifespan", "on")
        self.server = uvicorn.Server(uvicorn.Config(app, **config))
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def start(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("The test server did not start within 10 s.")
            time.sleep(0.01)
        return self

    def stop(self, wait: float = 10) -> None:
        """Ask the server to shut down (gracefully) and wait for its thread."""
        self.server.should_exit = True
        self.thread.join(wait)
        self.sock.close()


@pytest.fixture
def live_server() -> Iterator[Callable[..., LiveServer]]:
    """Start an ASGI app on loopback: ``live_server(app, **uvicorn_config).url``."""
    servers: list[LiveServer] = []

    def start(app: Any, **config: Any) -> LiveServer:
        server = LiveServer(app, **config).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        if server.thread.is_alive():
            server.stop()


def parse_sse(text: str) -> list[dict[str, Any]]:
    """The events in an SSE body: dicts with ``event``, ``id`` and ``data`` (None if absent)."""
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        if not block.strip() or block.startswith(":"):
            continue
        event: dict[str, Any] = {"event": "message", "id": None, "data": None}
        for line in block.split("\n"):
            field, _, value = line.partition(": ")
            if field in ("event", "id", "data"):
                event[field] = value
        events.append(event)
    return events


@pytest.fixture(name="parse_sse")
def parse_sse_fixture() -> Callable[[str], list[dict[str, Any]]]:
    """:func:`parse_sse`, for tests."""
    return parse_sse
