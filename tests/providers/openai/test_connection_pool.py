"""FastPool: linear-time assignment that reuses connections and never double-books one."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from runnables.providers.openai import ChatOpenAI
from runnables.providers.openai.connection_pool import FastPool, install
from runnables.providers.openai.transport import get_client
from runnables.testing.openai_server import Complete, FakeOpenAIServer

GUARD = 10.0


def test_install_swaps_the_pool_and_refuses_what_it_does_not_know() -> None:
    transport = httpx.AsyncHTTPTransport()
    assert install(transport) is True
    assert type(transport._pool) is FastPool
    assert install(object()) is False


async def test_shared_clients_use_the_fast_pool() -> None:
    client = get_client("http://127.0.0.1:9/v1")
    assert type(client._transport._pool) is FastPool  # type: ignore[attr-defined]


async def test_concurrent_requests_reuse_connections_without_double_booking(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = 0
    assign = FastPool._assign_requests_to_connections

    def counted(self: FastPool) -> list[object]:
        nonlocal calls
        calls += 1
        return assign(self)

    monkeypatch.setattr(FastPool, "_assign_requests_to_connections", counted)
    async with FakeOpenAIServer(default=Complete("ok", headers_delay=0.05)) as server:
        m = ChatOpenAI(model="m", base_url=server.base_url)
        for _ in range(2):
            outs = await asyncio.wait_for(m.abatch(["x"] * 20), GUARD)
            assert [o.content for o in outs] == ["ok"] * 20
        assert server.total_connections == 20  # the second wave reused the first's
        # One pass as each request starts and one as it ends: a connection handed to
        # two requests at once would send one of them round again.
        assert calls == 2 * 40


async def test_idle_connections_beyond_the_keepalive_limit_are_closed() -> None:
    async with FakeOpenAIServer(default=Complete("ok", headers_delay=0.05)) as server:
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=2)
        transport = httpx.AsyncHTTPTransport(limits=limits)
        assert install(transport)
        async with httpx.AsyncClient(transport=transport, trust_env=False) as client:
            url = server.base_url + "/chat/completions"
            body = {"model": "m", "messages": []}
            answers = await asyncio.wait_for(
                asyncio.gather(*(client.post(url, json=body) for _ in range(5))), GUARD
            )
            assert all(a.status_code == 200 for a in answers)
            assert server.total_connections == 5
            await client.post(url, json=body)  # its pass closes the surplus idle ones
            for _ in range(200):
                if server.open_connections <= 2:
                    break
                await asyncio.sleep(0.01)
            assert server.open_connections <= 2
