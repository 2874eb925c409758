"""Fixtures for the OpenAI client tests: a fresh fake server and a leak check."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from runnables.providers.openai.transport import pool_connections
from runnables.testing.openai_server import FakeOpenAIServer

#: Every test's own guard: a fault must end well before this, never hang.
GUARD = 10.0


async def assert_no_leaks(server: FakeOpenAIServer) -> None:
    """No request is still in flight, and every connection the server holds open is one
    the client's pool keeps idle (a kept-alive connection is not a leak)."""
    await server.wait_idle()
    busy = -1
    for _ in range(200):
        open_, busy = pool_connections(server.base_url)
        if busy == 0 and server.open_connections <= open_:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(
        f"leaked connections: pool busy={busy}, server open={server.open_connections}"
    )


@pytest.fixture
def no_leaks() -> Callable[[FakeOpenAIServer], Awaitable[None]]:
    """The leak check, as a fixture (test modules are not a package here)."""
    return assert_no_leaks
