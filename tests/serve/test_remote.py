"""RemoteRunnable against a real uvicorn server on loopback (``add_routes`` routes)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request

from engine_testing import closable
from runnables import RunnableConfig, RunnableGenerator, RunnableLambda
from runnables.core.config import Context
from runnables.core.limiter import HOLDING
from runnables.messages import AIMessage, AIMessageChunk, HumanMessage
from runnables.models import FakeListChatModel
from runnables.serve import add_routes
from runnables.serve.remote import RemoteRunnable, RemoteRunnableError, ServerEvent, SSEParser

Start = Callable[..., Any]  # the live_server fixture (tests/serve/conftest.py)


class Server:
    """What the served chains saw, written from the server's thread."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.word_runs = 0
        self.slow_started = threading.Event()
        self.slow_cancelled = threading.Event()
        self.release_words = threading.Event()


def make_app(seen: Server) -> FastAPI:
    app = FastAPI()

    @app.middleware("http")
    async def count(request: Request, call_next: Any) -> Any:
        seen.requests.append(f"{request.method} {request.url.path}")
        return await call_next(request)

    def shout(text: str) -> str:
        if text == "fail":
            raise RuntimeError("secret internal detail")
        return text.upper()

    def show_config(_: Any, config: RunnableConfig) -> dict[str, Any]:
        return {
            "tags": config.get("tags", []),
            "metadata": {k: v for k, v in config.get("metadata", {}).items()},
            "configurable": config.get("configurable", {}),
        }

    async def words(inputs: AsyncIterator[str]) -> AsyncIterator[str]:
        text = "".join([t async for t in inputs])
        seen.word_runs += 1
        for i in range(6):
            if i == 3:
                # Hold the rest until the test has cut the first connection.
                while not seen.release_words.is_set():
                    await asyncio.sleep(0.01)
            yield f"{text}{i} "

    async def slow(inputs: AsyncIterator[Any]) -> AsyncIterator[str]:
        async for _ in inputs:
            pass
        yield "first"
        seen.slow_started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            seen.slow_cancelled.set()
            raise
        yield "never"

    add_routes(app, RunnableLambda(shout), path="/shout")
    add_routes(app, RunnableLambda(show_config), path="/config")
    add_routes(app, RunnableGenerator(words), path="/words", resume_grace=30)
    add_routes(app, RunnableGenerator(slow), path="/slow", resume_grace=0)
    add_routes(app, RunnableGenerator(slow), path="/slow_kept", resume_grace=30)
    add_routes(
        app,
        RunnableLambda(lambda x: x) | FakeListChatModel(responses=["hello there"]),
        path="/chat",
    )
    return app


@pytest.fixture
def served(live_server: Start) -> Iterator[tuple[str, Server]]:
    seen = Server()
    server = live_server(make_app(seen))
    yield server.url, seen
    seen.release_words.set()


# ---------------------------------------------------------------------- the SSE parser


def test_sse_parser_joins_events_split_across_reads_at_any_byte() -> None:
    wire = (
        b': keep-alive\r\n\r\nevent: metadata\r\nid: r:0\r\ndata: {"run_id": "r"}\r\n\r\n'
        b"event: data\r\nid: r:1\r\ndata: line one\r\ndata: line two\r\n\r\n"
        b"event: end\r\nid: r:2\r\n\r\n"
    )
    for cut in range(1, len(wire)):
        parser = SSEParser()
        got = parser.feed(wire[:cut]) + parser.feed(wire[cut:]) + parser.close()
        assert got == [
            ServerEvent("metadata", b'{"run_id": "r"}', "r:0"),
            ServerEvent("data", b"line one\nline two", "r:1"),
            ServerEvent("end", b"", "r:2"),
        ], cut
        assert parser.last_id == "r:2"


def test_sse_parser_keeps_the_last_id_for_events_without_one() -> None:
    parser = SSEParser()
    got = parser.feed(b"id: 7\ndata: a\n\ndata: b\n\n")

    assert [e.id for e in got] == ["7", "7"]
    assert [e.event for e in got] == ["message", "message"]


# ---------------------------------------------------------------------- invoke, batch


async def test_ainvoke_returns_the_servers_output(served: tuple[str, Server]) -> None:
    url, _ = served

    assert await RemoteRunnable(f"{url}/shout").ainvoke("hi") == "HI"


def test_sync_invoke_and_batch_work_through_the_bridge(served: tuple[str, Server]) -> None:
    url, _ = served
    remote = RemoteRunnable(f"{url}/shout")

    assert remote.invoke("a") == "A"
    assert remote.batch(["b", "c"]) == ["B", "C"]


async def test_abatch_sends_one_request_for_the_whole_batch(served: tuple[str, Server]) -> None:
    url, seen = served

    out = await RemoteRunnable(f"{url}/shout").abatch(["a", "b", "c"])

    assert out == ["A", "B", "C"]
    assert seen.requests == ["POST /shout/batch"]


async def test_abatch_with_return_exceptions_keeps_the_other_outputs(
    served: tuple[str, Server],
) -> None:
    url, _ = served

    out = await RemoteRunnable(f"{url}/shout").abatch(["a", "fail", "c"], return_exceptions=True)

    assert out[0] == "A" and out[2] == "C"
    assert isinstance(out[1], RemoteRunnableError) and out[1].status_code == 500


async def test_a_server_failure_raises_a_typed_error_without_the_servers_details(
    served: tuple[str, Server],
) -> None:
    url, _ = served

    with pytest.raises(RemoteRunnableError) as info:
        await RemoteRunnable(f"{url}/shout").ainvoke("fail")

    assert info.value.status_code == 500
    assert isinstance(info.value, httpx.HTTPStatusError)  # as LangServe's client raises
    assert "secret internal detail" not in str(info.value)
    assert f"{url}/shout/invoke" in str(info.value)


async def test_an_invalid_input_raises_with_the_422_detail(served: tuple[str, Server]) -> None:
    url, _ = served

    with pytest.raises(RemoteRunnableError) as info:
        await RemoteRunnable(f"{url}/shout").ainvoke({"not": "a string"})

    assert info.value.status_code == 422
    assert "input" in str(info.value)


async def test_config_tags_metadata_and_configurable_reach_the_server(
    served: tuple[str, Server],
) -> None:
    url, _ = served
    local_only = object()  # not JSON: must stay on this side

    out = await RemoteRunnable(f"{url}/config").ainvoke(
        None,
        {
            "tags": ["t1"],
            "metadata": {"user": "ann", "obj": local_only},
            "configurable": {"temperature": 0.5},
        },
    )

    assert out["tags"] == ["t1"]
    assert out["metadata"]["user"] == "ann" and "obj" not in out["metadata"]
    assert out["configurable"]["temperature"] == 0.5


async def test_messages_come_back_as_message_objects(served: tuple[str, Server]) -> None:
    url, _ = served
    chat = RemoteRunnable(f"{url}/chat")

    answer = await chat.ainvoke([HumanMessage("hi")])
    chunks = [c async for c in chat.astream([HumanMessage("hi")])]

    assert isinstance(answer, AIMessage) and answer.content == "hello there"
    assert chunks and all(isinstance(c, AIMessageChunk) for c in chunks)
    assert "".join(c.text for c in chunks) == "hello there"


# ---------------------------------------------------------------------- streams


async def test_astream_yields_each_chunk_as_it_arrives(served: tuple[str, Server]) -> None:
    url, seen = served
    stream = RemoteRunnable(f"{url}/words").astream("w")

    first = [await stream.__anext__() for _ in range(3)]
    # The server holds chunk 3 back: the first three arrived before the run was over.
    assert first == ["w0 ", "w1 ", "w2 "]
    seen.release_words.set()
    rest = [c async for c in stream]

    assert rest == ["w3 ", "w4 ", "w5 "]


async def test_a_remote_stream_marks_its_slot_held_while_it_reads_as_its_invoke_does(
    served: tuple[str, Server],
) -> None:
    # The leaf scope runs a remote stream as it runs a model's: one slot for the whole
    # request, marked held while the response is read (its copy of that code never
    # marked it, so a call nested there would have waited for a second slot).
    url, seen = served
    seen.release_words.set()
    marks: list[bool] = []

    class Probe(RemoteRunnable):
        async def _stream(self, input: Any, ctx: Context) -> AsyncGenerator[Any, None]:
            limiter = ctx.limiter
            marks.append(limiter is not None and HOLDING.get() is limiter)
            async for chunk in super()._stream(input, ctx):
                marks.append(limiter is not None and HOLDING.get() is limiter)
                yield chunk

        async def _invoke(self, input: Any, ctx: Context) -> Any:
            marks.append(ctx.limiter is not None and HOLDING.get() is ctx.limiter)
            return await super()._invoke(input, ctx)

    probe = Probe(f"{url}/words")
    chunks = [c async for c in probe.astream("w", {"max_concurrency": 1})]
    assert chunks == [f"w{i} " for i in range(6)]
    assert await probe.ainvoke("w", {"max_concurrency": 1}) == "w0 w1 w2 w3 w4 w5 "
    assert marks == [True] * 8


async def test_local_remote_local_composes_for_invoke_and_stream(
    served: tuple[str, Server],
) -> None:
    url, seen = served
    seen.release_words.set()

    async def bars(chunks: AsyncIterator[str]) -> AsyncIterator[str]:
        async for chunk in chunks:
            yield chunk.replace(" ", "|")

    remote = RemoteRunnable(f"{url}/words")
    chain = RunnableLambda[str, str](lambda x: x.strip()) | remote | RunnableGenerator(bars)

    assert await chain.ainvoke("  x ") == "x0|x1|x2|x3|x4|x5|"
    assert [c async for c in chain.astream(" y")] == [f"y{i}|" for i in range(6)]


async def test_an_error_event_raises_a_typed_error(live_server: Start) -> None:
    async def breaks(inputs: AsyncIterator[Any]) -> AsyncIterator[str]:
        async for _ in inputs:
            pass
        yield "one"
        raise ValueError("hidden")

    app = FastAPI()
    add_routes(app, RunnableGenerator(breaks), path="/breaks")
    url = live_server(app).url
    got: list[str] = []

    with pytest.raises(RemoteRunnableError) as info:
        async for chunk in RemoteRunnable(f"{url}/breaks").astream(None):
            got.append(chunk)

    assert got == ["one"]
    assert info.value.status_code == 500 and "hidden" not in str(info.value)


async def test_leaving_a_stream_early_cancels_the_run_on_the_server(
    served: tuple[str, Server],
) -> None:
    url, seen = served
    stream = closable(RemoteRunnable(f"{url}/slow").astream(None))

    assert await stream.__anext__() == "first"
    await asyncio.to_thread(seen.slow_started.wait, 10)
    await stream.aclose()

    # Generous: the server sees the closed connection and cancels the chain.
    assert await asyncio.to_thread(seen.slow_cancelled.wait, 10)


async def test_leaving_a_resumable_stream_early_cancels_it_at_once_not_after_its_grace(
    served: tuple[str, Server],
) -> None:
    url, seen = served
    stream = closable(RemoteRunnable(f"{url}/slow_kept", resume_grace=30).astream(None))

    assert await stream.__anext__() == "first"
    await asyncio.to_thread(seen.slow_started.wait, 10)
    await stream.aclose()

    # The server would wait 30 s for a reconnect; the client's DELETE ends the run now.
    assert await asyncio.to_thread(seen.slow_cancelled.wait, 2)
    assert any(r.startswith("DELETE /slow_kept/stream/") for r in seen.requests)


async def test_cancelling_the_caller_cancels_the_run_on_the_server(
    served: tuple[str, Server],
) -> None:
    url, seen = served

    async def consume() -> None:
        async for _ in RemoteRunnable(f"{url}/slow").astream(None):
            pass

    task = asyncio.create_task(consume())
    await asyncio.to_thread(seen.slow_started.wait, 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert await asyncio.to_thread(seen.slow_cancelled.wait, 10)


class CuttingProxy:
    """A TCP proxy to the server that cuts its first connection just after the response
    bytes ``marker``; later connections pass through whole."""

    def __init__(self, upstream_port: int, marker: bytes) -> None:
        self.upstream_port = upstream_port
        self.marker = marker
        self.connections = 0
        self.cut = asyncio.Event()
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> CuttingProxy:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        first = self.connections == 1
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)

        async def upstream() -> None:
            with contextlib.suppress(ConnectionError):
                while data := await reader.read(65536):
                    up_writer.write(data)
                    await up_writer.drain()

        async def downstream() -> None:
            seen = b""
            with contextlib.suppress(ConnectionError):
                while data := await up_reader.read(65536):
                    if first:
                        at = (seen + data).find(self.marker)
                        if at >= 0:
                            # Forward exactly up to the end of the marker, then cut.
                            writer.write(data[: at + len(self.marker) - len(seen)])
                            await writer.drain()
                            self.cut.set()
                            return
                        seen += data
                    writer.write(data)
                    await writer.drain()

        pump = asyncio.create_task(upstream())
        await downstream()
        pump.cancel()
        await asyncio.gather(pump, return_exceptions=True)
        for w in (writer, up_writer):
            w.transport.abort()

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()


async def test_a_dropped_stream_resumes_with_last_event_id_without_running_again(
    served: tuple[str, Server],
) -> None:
    url, seen = served
    port = int(url.rsplit(":", 1)[1])
    proxy = await CuttingProxy(port, marker=b'"w2 "\r\n\r\n').start()
    try:
        remote = RemoteRunnable(f"http://127.0.0.1:{proxy.port}/words")
        got: list[str] = []
        async for chunk in remote.astream("w"):
            got.append(chunk)
            if len(got) == 3:
                await proxy.cut.wait()
                seen.release_words.set()
    finally:
        await proxy.close()

    assert got == [f"w{i} " for i in range(6)]
    assert proxy.connections == 2
    assert seen.word_runs == 1


async def test_a_stream_dropped_before_any_event_is_not_sent_again(
    served: tuple[str, Server],
) -> None:
    url, _ = served
    port = int(url.rsplit(":", 1)[1])
    # The end of the response headers: the connection drops before the first event.
    proxy = await CuttingProxy(port, marker=b"\r\n\r\n").start()
    remote = RemoteRunnable(f"http://127.0.0.1:{proxy.port}/words")

    async def consume() -> None:
        async for _ in remote.astream("w"):
            pass

    try:
        with pytest.raises(httpx.HTTPError):
            await asyncio.wait_for(consume(), 20)
    finally:
        await proxy.close()

    assert proxy.connections == 1


# ---------------------------------------------------------------------- events


async def test_astream_events_yields_the_servers_events(served: tuple[str, Server]) -> None:
    url, _ = served

    events = [e async for e in RemoteRunnable(f"{url}/chat").astream_events([HumanMessage("hi")])]

    names = [(e["event"], e["name"]) for e in events]
    # The root run is named after the route, as LangServe names it.
    assert names[0] == ("on_chain_start", "/chat")
    assert ("on_chat_model_start", "FakeListChatModel") in names
    assert names[-1] == ("on_chain_end", "/chat")
    streamed = [e["data"]["chunk"] for e in events if e["event"] == "on_chat_model_stream"]
    assert streamed and all(isinstance(c, AIMessageChunk) for c in streamed)


async def test_astream_events_rejects_versions_but_v2_as_a_local_runnable_does(
    served: tuple[str, Server],
) -> None:
    url, seen = served
    with pytest.raises(NotImplementedError) as local:
        RunnableLambda(lambda x: x).astream_events("hi", version="v1")

    with pytest.raises(NotImplementedError) as remote:
        RemoteRunnable(f"{url}/chat").astream_events([HumanMessage("hi")], version="v1")

    assert str(remote.value) == str(local.value)
    assert "version='v1'" in str(remote.value)
    assert not any("stream_events" in r for r in seen.requests)  # raised at the call


async def test_astream_events_passes_filters_to_the_server(served: tuple[str, Server]) -> None:
    url, _ = served
    remote = RemoteRunnable(f"{url}/chat")

    events = [e async for e in remote.astream_events("hi", include_types=["chat_model"])]

    kinds = {e["event"] for e in events}
    assert kinds == {"on_chat_model_start", "on_chat_model_stream", "on_chat_model_end"}


async def test_remote_events_nest_under_the_remote_step_of_a_local_chain(
    served: tuple[str, Server],
) -> None:
    url, _ = served
    chain = (
        RunnableLambda(lambda x: x, name="before")
        | RemoteRunnable(f"{url}/chat", name="remote_chat")
        | RunnableLambda(lambda m: m.content, name="after")
    )

    events = [e async for e in chain.astream_events("hi")]

    by_name = {(e["event"], e["name"]): e for e in events}
    remote_start = by_name[("on_chain_start", "remote_chat")]
    model_start = by_name[("on_chat_model_start", "FakeListChatModel")]
    assert remote_start["run_id"] in model_start["parent_ids"]
    root_id = events[0]["run_id"]
    assert model_start["parent_ids"][0] == root_id
    assert ("on_chain_end", "after") in by_name
    assert events[-1]["event"] == "on_chain_end" and events[-1]["data"]["output"] == "hello there"
    order = [(e["event"], e["name"]) for e in events]
    assert order.index(("on_chat_model_start", "FakeListChatModel")) < order.index(
        ("on_chain_end", "remote_chat")
    )


async def test_local_event_filters_apply_to_remote_events(served: tuple[str, Server]) -> None:
    url, _ = served
    chain = RunnableLambda(lambda x: x) | RemoteRunnable(f"{url}/chat")

    events = [e async for e in chain.astream_events("hi", include_types=["chat_model"])]

    assert events and all(e["event"].startswith("on_chat_model_") for e in events)


def test_a_url_without_a_scheme_is_refused_with_an_example() -> None:
    with pytest.raises(ValueError, match=r"http://127\.0\.0\.1:8000/chat"):
        RemoteRunnable("localhost:8000/chat")


def test_remote_runnable_has_a_default_timeout_and_checks_the_value() -> None:
    from runnables.serve.remote import DEFAULT_TIMEOUT

    remote = RemoteRunnable("http://127.0.0.1:9/chat")
    assert remote.timeout == DEFAULT_TIMEOUT == 300.0
    assert RemoteRunnable("http://127.0.0.1:9/chat", timeout=None).timeout is None
    for bad in (0, -1, "5", True):
        with pytest.raises(ValueError, match=r"timeout must be a number of seconds above 0"):
            RemoteRunnable("http://127.0.0.1:9/chat", timeout=bad)  # type: ignore[arg-type]


async def test_a_server_that_never_answers_fails_after_the_timeout() -> None:
    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            await reader.read()  # until the client goes away
        writer.close()

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        remote = RemoteRunnable(f"http://127.0.0.1:{port}/chat", timeout=0.3)
        with pytest.raises(httpx.TimeoutException):
            await asyncio.wait_for(remote.ainvoke(1), 10)
    finally:
        server.close()
        await server.wait_closed()
