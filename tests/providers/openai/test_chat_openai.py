"""ChatOpenAI: request building, responses and chunks, cancellation, pooling, credentials."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable

import pytest
from pydantic import BaseModel

from runnables.messages import AIMessageChunk, HumanMessage, SystemMessage
from runnables.providers.openai import ChatOpenAI, MissingCredentialsError
from runnables.providers.openai.transport import endpoint_concurrency
from runnables.testing.openai_server import (
    Complete,
    FakeOpenAIServer,
    RecordedRequest,
    Reply,
    rate_limited,
)

Leaks = Callable[[FakeOpenAIServer], Awaitable[None]]
GUARD = 10.0


class Answer(BaseModel):
    city: str


def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


async def test_request_carries_every_parameter() -> None:
    usage = {"prompt_tokens": 10, "completion_tokens": 1, "total_tokens": 11}
    async with FakeOpenAIServer([Complete('{"city": "Paris"}', usage=usage)]) as server:
        m = ChatOpenAI(
            model="m1",
            base_url=server.base_url,
            api_key="sk-test",
            temperature=0.0,
            max_tokens=50,
            stop="END",
            seed=7,
            response_format=Answer,
        )
        out = await asyncio.wait_for(
            m.ainvoke([SystemMessage("Be brief."), HumanMessage("Where?")]), GUARD
        )
        body = server.chat_requests[0].json
        assert body["model"] == "m1"
        assert body["messages"] == [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Where?"},
        ]
        assert (body["temperature"], body["max_tokens"], body["stop"], body["seed"]) == (
            0.0,
            50,
            ["END"],
            7,
        )
        assert body["response_format"]["type"] == "json_schema"
        assert body["response_format"]["json_schema"]["schema"]["properties"]["city"]
        assert "stream" not in body
        assert server.chat_requests[0].headers["authorization"] == "Bearer sk-test"
        assert out.additional_kwargs["parsed"] == Answer(city="Paris")
        assert out.usage_metadata == {"input_tokens": 10, "output_tokens": 1, "total_tokens": 11}


async def test_streaming_request_asks_for_usage_and_bound_params_override() -> None:
    async with FakeOpenAIServer() as server:
        m = ChatOpenAI(model="m", base_url=server.base_url, temperature=1.0)
        bound = m.bind_tools([add], tool_choice="add").bind(temperature=0.2, logprobs=True)
        chunks = [c async for c in bound.astream("hi", stop=["x"])]
        body = server.chat_requests[0].json
        assert body["stream"] is True
        assert body["stream_options"] == {"include_usage": True}
        assert body["temperature"] == 0.2
        assert body["logprobs"] is True
        assert body["stop"] == ["x"]
        assert body["tools"][0]["function"]["name"] == "add"
        assert body["tool_choice"] == {"type": "function", "function": {"name": "add"}}
        assert all(isinstance(c, AIMessageChunk) for c in chunks)
        assert chunks[-1].usage_metadata is not None


async def test_streamed_tool_calls_are_parsed_once_complete() -> None:
    call = {"name": "add", "arguments": '{"a": 1, "b": 22}', "id": "call_9"}
    async with FakeOpenAIServer([Complete("", tool_calls=[call])]) as server:
        m = ChatOpenAI(model="m", base_url=server.base_url).bind_tools([add])
        chunks: list[AIMessageChunk] = []
        async for c in m.astream("add"):
            assert isinstance(c, AIMessageChunk)  # typed AIMessage through the binding
            chunks.append(c)
        assert len(chunks) > 3
        full = chunks[0]
        for c in chunks[1:]:
            full = full + c
        assert full.tool_calls == [
            {"name": "add", "args": {"a": 1, "b": 22}, "id": "call_9", "type": "tool_call"}
        ]
        assert full.response_metadata["finish_reason"] == "tool_calls"


async def test_tool_calls_without_streaming() -> None:
    calls = [
        {"name": "add", "arguments": '{"a": 1, "b": 2}', "id": "c1"},
        {"name": "add", "arguments": '{"a": ', "id": "c2"},
    ]
    async with FakeOpenAIServer([Complete("", tool_calls=calls)]) as server:
        out = await ChatOpenAI(model="m", base_url=server.base_url).ainvoke("add")
        assert out.tool_calls[0]["args"] == {"a": 1, "b": 2}
        assert out.invalid_tool_calls[0]["id"] == "c2"


async def test_astream_yields_each_token_as_it_arrives() -> None:
    async with FakeOpenAIServer([Complete("one two three four")]) as server:
        m = ChatOpenAI(model="m", base_url=server.base_url)
        texts = [c.text async for c in m.astream("hi")]
        assert [t for t in texts if t] == ["one ", "two ", "three ", "four"]


async def test_cancelling_astream_closes_the_connection_at_once(no_leaks: Leaks) -> None:
    async with FakeOpenAIServer([Complete(chunks=["t"] * 1000, chunk_delay=0.01)]) as server:
        m = ChatOpenAI(model="m", base_url=server.base_url)
        started = asyncio.Event()

        async def consume() -> None:
            async for _ in m.astream("hi"):
                started.set()

        task = asyncio.ensure_future(consume())
        await asyncio.wait_for(started.wait(), GUARD)
        cancelled_at = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        seen = await asyncio.wait_for(server.wait_disconnect(), GUARD)
        assert seen - cancelled_at < 0.1
        await no_leaks(server)


async def test_leaving_the_stream_early_closes_the_connection(no_leaks: Leaks) -> None:
    async with FakeOpenAIServer([Complete(chunks=["t"] * 1000, chunk_delay=0.01)]) as server:
        m = ChatOpenAI(model="m", base_url=server.base_url)
        stream = m.astream("hi")
        async for _ in stream:
            break
        left_at = time.monotonic()
        await stream.aclose()  # type: ignore[attr-defined]
        seen = await asyncio.wait_for(server.wait_disconnect(), GUARD)
        assert seen - left_at < 0.1
        await no_leaks(server)


async def test_cancelling_ainvoke_while_the_server_thinks_disconnects(no_leaks: Leaks) -> None:
    async with FakeOpenAIServer([Complete("late", headers_delay=30)]) as server:
        m = ChatOpenAI(model="m", base_url=server.base_url)
        task = asyncio.ensure_future(m.ainvoke("hi"))
        while not server.chat_requests:
            await asyncio.sleep(0.005)
        cancelled_at = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        seen = await asyncio.wait_for(server.wait_disconnect(), GUARD)
        assert seen - cancelled_at < 0.1
        await no_leaks(server)


async def test_concurrent_calls_share_one_pool_and_reuse_connections(no_leaks: Leaks) -> None:
    async with FakeOpenAIServer() as server:
        m = ChatOpenAI(model="m", base_url=server.base_url)
        other = ChatOpenAI(model="m2", base_url=server.base_url)
        for _ in range(5):
            await m.ainvoke("hi")
            await other.ainvoke("hi")
        assert server.total_connections == 1
        await asyncio.wait_for(m.abatch(["a"] * 8), GUARD)
        assert server.total_connections <= 8
        await no_leaks(server)


async def test_a_burst_of_429s_shrinks_the_endpoints_concurrency() -> None:
    def script(request: RecordedRequest) -> Reply:
        # The first wave of 8 is over the server's limit; later requests succeed.
        if len(request_log) < 8:
            request_log.append(request)
            return rate_limited("0.05")
        return Complete("ok")

    request_log: list[RecordedRequest] = []
    async with FakeOpenAIServer(script) as server:
        m = ChatOpenAI(model="m", base_url=server.base_url, max_concurrency=16)
        m._transport.backoff_initial = 0.01
        outs = await asyncio.wait_for(m.abatch(["x"] * 8), GUARD)
        assert [o.content for o in outs] == ["ok"] * 8
        limit = endpoint_concurrency(server.base_url)
        assert limit.limit < 16
        assert limit.in_flight == 0


async def test_the_adaptive_limit_grows_back_after_429s_over_http() -> None:
    def script(request: RecordedRequest) -> Reply:
        if len(limited) < 4:
            limited.append(request)
            return rate_limited("0.01")
        return Complete("ok", headers_delay=0.05)

    limited: list[RecordedRequest] = []
    async with FakeOpenAIServer(script) as server:
        m = ChatOpenAI(model="m", base_url=server.base_url, max_concurrency=4)
        m._transport.backoff_initial = 0.01
        outs = await asyncio.wait_for(m.abatch(["x"] * 4), GUARD)
        assert [o.content for o in outs] == ["ok"] * 4
        limit = endpoint_concurrency(server.base_url)
        cut = limit.limit
        assert cut < 4
        for _ in range(limit.grow_after * (4 - cut)):
            await asyncio.wait_for(m.ainvoke("x"), GUARD)
        assert limit.limit == 4  # back to the model's max_concurrency, and no further
        await asyncio.wait_for(m.abatch(["x"] * 8), GUARD)
        assert limit.limit == 4


async def test_abatch_max_concurrency_with_429s_ends_right_within_the_bound() -> None:
    def script(request: RecordedRequest) -> Reply:
        if len(limited) < 5:
            limited.append(request)
            return rate_limited("0.02")
        return Complete("ok", headers_delay=0.05)

    limited: list[RecordedRequest] = []
    async with FakeOpenAIServer(script) as server:
        m = ChatOpenAI(model="m", base_url=server.base_url)
        m._transport.backoff_initial = 0.01
        inputs = [f"q{i}" for i in range(12)]
        outs = await asyncio.wait_for(m.abatch(inputs, {"max_concurrency": 3}), GUARD)
        assert [o.content for o in outs] == ["ok"] * 12
        assert 1 <= server.max_in_flight <= 3
        assert len(server.chat_requests) == 12 + 5
        assert endpoint_concurrency(server.base_url).in_flight == 0


async def test_each_model_keeps_its_own_max_concurrency_on_a_shared_endpoint() -> None:
    async with FakeOpenAIServer(default=Complete("ok", headers_delay=0.2)) as server:
        small = ChatOpenAI(model="m", base_url=server.base_url, max_concurrency=2)
        await asyncio.wait_for(small.abatch(["x"] * 6), GUARD)
        assert server.max_in_flight == 2
        big = ChatOpenAI(model="m", base_url=server.base_url, max_concurrency=100)
        server.max_in_flight = 0
        await asyncio.wait_for(big.abatch(["x"] * 10), GUARD)
        assert server.max_in_flight > 2  # not held to the first model's cap
        server.max_in_flight = 0
        await asyncio.wait_for(small.abatch(["x"] * 6), GUARD)
        assert server.max_in_flight == 2
        assert endpoint_concurrency(server.base_url).max_limit == 100


async def test_max_concurrency_bounds_requests_without_adaptive_concurrency() -> None:
    async with FakeOpenAIServer(default=Complete("ok", headers_delay=0.1)) as server:
        m = ChatOpenAI(
            model="m", base_url=server.base_url, max_concurrency=2, adaptive_concurrency=False
        )
        outs = await asyncio.wait_for(m.abatch(["x"] * 6), GUARD)
        assert [o.content for o in outs] == ["ok"] * 6
        assert server.max_in_flight == 2


def test_sync_invoke_works_through_the_bridge() -> None:
    async def main() -> FakeOpenAIServer:
        return await FakeOpenAIServer().start()

    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(main())
    runner = __import__("threading").Thread(target=loop.run_forever, daemon=True)
    runner.start()
    try:
        m = ChatOpenAI(model="m", base_url=server.base_url)
        assert m.invoke("hi").content == "Hello! How can I help?"
        assert "".join(c.text for c in m.stream("hi")) == "Hello! How can I help?"
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        runner.join(5)


def test_no_key_and_no_base_url_says_how_to_set_one(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_BASE"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(MissingCredentialsError) as caught:
        ChatOpenAI(model="gpt-4o-mini")
    text = str(caught.value)
    for hint in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "base_url=", "init_chat_model('local')"):
        assert hint in text


def test_environment_supplies_key_and_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1/")
    m = ChatOpenAI()
    assert m.base_url == "http://127.0.0.1:9/v1"
    assert m._transport.api_key == "sk-env"
    assert "sk-env" not in repr(m) and "sk-env" not in str(m._identifying_params)


def test_loopback_base_url_needs_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert ChatOpenAI(base_url="http://localhost:8000/v1").base_url.endswith("/v1")


def test_importing_runnables_does_not_import_httpx() -> None:
    code = (
        "import sys, runnables, runnables.providers.openai\n"
        "assert 'httpx' not in sys.modules, 'httpx imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_missing_httpx_names_the_install_command() -> None:
    code = (
        "import sys; sys.modules['httpx'] = None\n"
        "from runnables.providers.openai import ChatOpenAI\n"
        "from runnables.errors import MissingExtraError\n"
        "try:\n"
        "    ChatOpenAI(base_url='http://localhost:1/v1')\n"
        "except MissingExtraError as e:\n"
        "    assert \"pip install 'runnables[openai]'\" in str(e), str(e)\n"
        "else:\n"
        "    raise SystemExit('no error')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
