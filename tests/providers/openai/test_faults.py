"""Every scripted server fault ends in success after retries or in a typed error in time.

Each test is guarded by ``asyncio.wait_for`` (a hang fails the test) and ends with a
leak check (no connection still in use, none open on the server beyond the idle pool).
"""

from __future__ import annotations

import asyncio
import email.utils
import socket
import time
from collections.abc import Awaitable, Callable

import pytest

from runnables.providers.openai import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ChatOpenAI,
    InternalServerError,
    MalformedStreamError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
)
from runnables.testing.openai_server import (
    Complete,
    ErrorReply,
    FakeOpenAIServer,
    Hang,
    rate_limited,
    server_error,
)

Leaks = Callable[[FakeOpenAIServer], Awaitable[None]]
GUARD = 10.0  # every test's own limit: a fault must end well before this, never hang


def model(server: FakeOpenAIServer, **options: object) -> ChatOpenAI:
    opts: dict[str, object] = {"max_retries": 2, "stream_idle_timeout": 5.0, "timeout": 5.0}
    opts.update(options)
    m = ChatOpenAI(model="test", base_url=server.base_url, **opts)  # type: ignore[arg-type]
    m._transport.backoff_initial = 0.01  # keep retry tests fast
    return m


async def collect(m: ChatOpenAI, text: str = "hi") -> str:
    return "".join([c.text async for c in m.astream(text)])


async def test_429_with_retry_after_is_retried_after_the_wait(no_leaks: Leaks) -> None:
    async with FakeOpenAIServer([rate_limited(retry_after="0.3"), Complete("ok")]) as server:
        answer = await asyncio.wait_for(model(server).ainvoke("hi"), GUARD)
        assert answer.content == "ok"
        first, second = server.chat_requests
        assert second.time - first.time >= 0.25
        await no_leaks(server)


async def test_retry_after_as_an_http_date_is_honoured() -> None:
    when = email.utils.formatdate(time.time() + 1.2, usegmt=True)
    async with FakeOpenAIServer([rate_limited(retry_after=when), Complete("ok")]) as server:
        answer = await asyncio.wait_for(model(server).ainvoke("hi"), GUARD)
        assert answer.content == "ok"
        first, second = server.chat_requests
        assert second.time - first.time >= 0.1  # a date has whole-second precision


async def test_429_every_time_raises_rate_limit_error_with_server_message(no_leaks: Leaks) -> None:
    script = [rate_limited("0.01", message="You are over quota.")] * 3
    async with FakeOpenAIServer(script) as server:
        with pytest.raises(RateLimitError) as caught:
            await asyncio.wait_for(model(server).ainvoke("hi"), GUARD)
        assert caught.value.status_code == 429
        assert caught.value.message == "You are over quota."
        assert "Gave up after 3 attempts." in caught.value.__notes__
        assert len(server.chat_requests) == 3
        await no_leaks(server)


async def test_500_then_success_streams_the_whole_answer(no_leaks: Leaks) -> None:
    async with FakeOpenAIServer([server_error(500), server_error(503), Complete("a b c")]) as s:
        assert await asyncio.wait_for(collect(model(s)), GUARD) == "a b c"
        assert len(s.chat_requests) == 3
        await no_leaks(s)


async def test_persistent_500_raises_internal_server_error(no_leaks: Leaks) -> None:
    async with FakeOpenAIServer([server_error(502, "upstream down")] * 3) as server:
        with pytest.raises(InternalServerError, match="HTTP 502: upstream down") as caught:
            await asyncio.wait_for(collect(model(server)), GUARD)
        assert caught.value.status_code == 502
        await no_leaks(server)


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
    ],
)
async def test_client_errors_are_not_retried(
    status: int, error: type[APIError], no_leaks: Leaks
) -> None:
    reply = ErrorReply(status, f"the server says {status}", "invalid_request_error")
    async with FakeOpenAIServer([reply, Complete("never")]) as server:
        with pytest.raises(error) as caught:
            await asyncio.wait_for(model(server).ainvoke("hi"), GUARD)
        assert caught.value.status_code == status
        assert caught.value.message == f"the server says {status}"
        assert len(server.chat_requests) == 1
        await no_leaks(server)


@pytest.mark.parametrize("status", [408, 409])
async def test_408_and_409_are_retried(status: int, no_leaks: Leaks) -> None:
    async with FakeOpenAIServer([ErrorReply(status, "try again"), Complete("ok")]) as server:
        answer = await asyncio.wait_for(model(server).ainvoke("hi"), GUARD)
        assert answer.content == "ok"
        assert len(server.chat_requests) == 2
        await no_leaks(server)


async def test_connect_timeout_raises_saying_it_timed_out_connecting() -> None:
    # A listening socket that never accepts, its backlog filled: the kernel drops
    # further SYNs, so connecting hangs until the client's connect timeout.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    try:
        for _ in range(8):
            filler = socket.socket()
            filler.setblocking(False)
            try:
                filler.connect(("127.0.0.1", port))
            except BlockingIOError:
                pass
            fillers.append(filler)
        m = ChatOpenAI(
            model="test", base_url=f"http://127.0.0.1:{port}/v1", connect_timeout=0.3, max_retries=0
        )
        start = time.monotonic()
        with pytest.raises(APITimeoutError, match="timed out connecting"):
            await asyncio.wait_for(m.ainvoke("hi"), GUARD)
        assert time.monotonic() - start < 5
    finally:
        for sock in [*fillers, listener]:
            sock.close()


async def test_hang_before_headers_times_out_and_retries_then_raises(no_leaks: Leaks) -> None:
    async with FakeOpenAIServer([Hang(), Hang()]) as server:
        m = model(server, stream_idle_timeout=0.2, max_retries=1)
        start = time.monotonic()
        with pytest.raises(APITimeoutError):
            await asyncio.wait_for(collect(m), GUARD)
        assert time.monotonic() - start < 5
        assert len(server.chat_requests) == 2
        await asyncio.wait_for(server.wait_disconnect(2), GUARD)
        await no_leaks(server)


async def test_hang_before_headers_unstreamed_uses_the_request_timeout(no_leaks: Leaks) -> None:
    async with FakeOpenAIServer([Hang()]) as server:
        with pytest.raises(APITimeoutError) as caught:
            await asyncio.wait_for(model(server, timeout=0.2, max_retries=0).ainvoke("hi"), GUARD)
        assert isinstance(caught.value, TimeoutError)
        await no_leaks(server)


async def test_hang_mid_stream_raises_after_idle_timeout_no_retry(no_leaks: Leaks) -> None:
    async with FakeOpenAIServer([Complete("a b c d", hang_after=2)]) as server:
        m = model(server, stream_idle_timeout=0.2)
        got: list[str] = []

        async def run() -> None:
            async for chunk in m.astream("hi"):
                got.append(chunk.text)

        with pytest.raises(APITimeoutError, match="between streamed chunks"):
            await asyncio.wait_for(run(), GUARD)
        assert got == ["a ", "b "]
        assert len(server.chat_requests) == 1  # part of the answer was seen: no retry
        await no_leaks(server)


async def test_connection_closed_mid_stream_raises_connection_error(no_leaks: Leaks) -> None:
    async with FakeOpenAIServer([Complete("a b c d", close_after=3)]) as server:
        with pytest.raises(APIConnectionError, match="incomplete chunked read"):
            await asyncio.wait_for(collect(model(server)), GUARD)
        await no_leaks(server)


async def test_connection_closed_before_the_first_event_is_retried(no_leaks: Leaks) -> None:
    async with FakeOpenAIServer([Complete("x", close_after=0), Complete("fine")]) as server:
        assert await asyncio.wait_for(collect(model(server)), GUARD) == "fine"
        assert len(server.chat_requests) == 2
        await no_leaks(server)


async def test_malformed_sse_raises_a_typed_error(no_leaks: Leaks) -> None:
    async with FakeOpenAIServer([Complete("a b c", malformed_after=1)]) as server:
        with pytest.raises(MalformedStreamError, match="not JSON"):
            await asyncio.wait_for(collect(model(server)), GUARD)
        server.push(Complete("a b c", malformed_after=1, malformed=b"garbage line\n\n"))
        with pytest.raises(MalformedStreamError, match="not a server-sent event field"):
            await asyncio.wait_for(collect(model(server)), GUARD)
        await no_leaks(server)


@pytest.mark.parametrize(
    ("payload", "shown"),
    [
        (b"data: 123\n\n", "JSON but not an object: b'123'"),
        (b"data: [1,2]\n\n", "JSON but not an object: b'[1,2]'"),
        (b'data: "text"\n\n', "JSON but not an object"),
        (b'data: {"choices":"x"}\n\n', "not in the Chat Completions shape"),
        (b'data: {"choices":[1]}\n\n', "not in the Chat Completions shape"),
        (b'data: {"choices":[{"delta":"x"}]}\n\n', '{"choices": [{"delta": "x"}]}'),
        (b'data: {"usage":"many"}\n\n', '{"usage": "many"}'),
    ],
)
async def test_json_that_is_not_a_chunk_raises_a_typed_error_naming_it(
    payload: bytes, shown: str, no_leaks: Leaks
) -> None:
    async with FakeOpenAIServer([Complete("a b c", malformed_after=1, malformed=payload)]) as s:
        with pytest.raises(MalformedStreamError) as caught:
            await asyncio.wait_for(collect(model(s)), GUARD)
        assert shown in str(caught.value)
        await no_leaks(s)


async def test_a_huge_malformed_chunk_is_named_truncated() -> None:
    payload = b'data: {"choices":"' + b"x" * 5000 + b'"}\n\n'
    async with FakeOpenAIServer([Complete("a", malformed_after=1, malformed=payload)]) as s:
        with pytest.raises(MalformedStreamError) as caught:
            await asyncio.wait_for(collect(model(s)), GUARD)
        assert len(str(caught.value)) < 600


async def test_a_null_error_field_is_an_ordinary_chunk() -> None:
    chunk = b'data: {"error":null,"choices":[{"index":0,"delta":{"content":"mid "}}]}\n\n'
    reply = Complete("a b", inject_after=1, inject=chunk)
    async with FakeOpenAIServer([reply]) as s:
        assert await asyncio.wait_for(collect(model(s)), GUARD) == "a mid b"


async def test_a_string_error_raises_api_error_with_that_message(no_leaks: Leaks) -> None:
    payload = b'data: {"error": "model overloaded"}\n\n'
    async with FakeOpenAIServer([Complete("a b", malformed_after=1, malformed=payload)]) as s:
        with pytest.raises(APIError, match="model overloaded") as caught:
            await asyncio.wait_for(collect(model(s)), GUARD)
        assert type(caught.value) is APIError
        assert caught.value.message == "model overloaded"
        await no_leaks(s)


async def test_unknown_named_events_are_ignored_as_the_sdk_does() -> None:
    reply = Complete("a b c", inject_after=1, inject=b"event: ping\ndata: {}\n\n")
    other = Complete("a b", inject_after=1, inject=b"event: keepalive\ndata: not json\n\n")
    async with FakeOpenAIServer([reply, other]) as s:
        assert await asyncio.wait_for(collect(model(s)), GUARD) == "a b c"
        assert await asyncio.wait_for(collect(model(s)), GUARD) == "a b"


async def test_an_error_event_raises_api_error() -> None:
    payload = b'event: error\ndata: {"error": {"message": "quota gone"}}\n\n'
    async with FakeOpenAIServer([Complete("a b", malformed_after=1, malformed=payload)]) as s:
        with pytest.raises(APIError, match="quota gone"):
            await asyncio.wait_for(collect(model(s)), GUARD)


async def test_a_retryable_error_object_as_the_first_event_is_retried(no_leaks: Leaks) -> None:
    first = Complete("x", error_after=0, error_code=503, error_message="warming up")
    async with FakeOpenAIServer([first, Complete("fine")]) as s:
        assert await asyncio.wait_for(collect(model(s)), GUARD) == "fine"
        assert len(s.chat_requests) == 2
        await no_leaks(s)


async def test_an_error_after_events_that_carry_no_answer_is_still_retried() -> None:
    # Azure first sends prompt-filter results with no choices: nothing reaches the caller.
    filters = b'data: {"choices":[],"prompt_filter_results":[]}\n\n'
    first = Complete("x", inject_after=0, inject=filters, error_after=0, error_code=503)
    async with FakeOpenAIServer([first, Complete("fine")]) as s:
        assert await asyncio.wait_for(collect(model(s)), GUARD) == "fine"
        assert len(s.chat_requests) == 2


async def test_a_retryable_error_object_after_the_first_chunk_is_not_retried() -> None:
    late = Complete("a b", error_after=1, error_code=503, error_message="fell over")
    async with FakeOpenAIServer([late, Complete("never")]) as s:
        with pytest.raises(InternalServerError, match="fell over") as caught:
            await asyncio.wait_for(collect(model(s)), GUARD)
        assert caught.value.status_code == 503
        assert len(s.chat_requests) == 1


async def test_a_non_retryable_error_object_as_the_first_event_raises_at_once() -> None:
    first = Complete("x", error_after=0, error_code=400, error_message="bad tool schema")
    async with FakeOpenAIServer([first, Complete("never")]) as s:
        with pytest.raises(BadRequestError, match="bad tool schema"):
            await asyncio.wait_for(collect(model(s)), GUARD)
        assert len(s.chat_requests) == 1


async def test_error_object_inside_the_stream_raises_with_its_message(no_leaks: Leaks) -> None:
    reply = Complete("a b", error_after=1, error_message="GPU fell over")
    async with FakeOpenAIServer([reply]) as s:
        with pytest.raises(APIError, match="GPU fell over") as caught:
            await asyncio.wait_for(collect(model(s)), GUARD)
        assert caught.value.message == "GPU fell over"
        await no_leaks(s)


async def test_error_body_that_is_not_json_is_reported_as_text() -> None:
    reply = ErrorReply(400, body=b"<html>bad gateway config</html>")
    async with FakeOpenAIServer([reply]) as server:
        with pytest.raises(BadRequestError, match="bad gateway config"):
            await asyncio.wait_for(model(server).ainvoke("hi"), GUARD)


async def test_connection_refused_is_retried_then_raises_connection_error() -> None:
    server = FakeOpenAIServer()
    await server.start()
    base_url = server.base_url
    await server.stop()  # nothing listens on that port now
    m = ChatOpenAI(model="test", base_url=base_url, max_retries=1)
    m._transport.backoff_initial = 0.01
    with pytest.raises(APIConnectionError, match="Check that the server is running"):
        await asyncio.wait_for(m.ainvoke("hi"), GUARD)


async def test_no_retry_starts_after_the_calls_deadline() -> None:
    async with FakeOpenAIServer([rate_limited(retry_after="3"), Complete("late")]) as server:
        start = time.monotonic()
        with pytest.raises(RateLimitError) as caught:
            await asyncio.wait_for(model(server).ainvoke("hi", config={"timeout": 1.0}), GUARD)
        assert time.monotonic() - start < 2.5
        assert any("deadline" in note for note in caught.value.__notes__)
        assert len(server.chat_requests) == 1


async def test_retry_after_above_the_cap_raises_at_once_saying_how_long(no_leaks: Leaks) -> None:
    async with FakeOpenAIServer([rate_limited(retry_after="120"), Complete("late")]) as server:
        start = time.monotonic()
        with pytest.raises(RateLimitError) as caught:
            await asyncio.wait_for(model(server).ainvoke("hi"), GUARD)
        assert time.monotonic() - start < 5  # neither waited 120 s nor retried sooner
        assert any("asked to wait 120 s" in note for note in caught.value.__notes__)
        assert len(server.chat_requests) == 1
        await no_leaks(server)


async def test_retry_after_past_the_deadline_raises_saying_how_long() -> None:
    async with FakeOpenAIServer([rate_limited(retry_after="30"), Complete("late")]) as server:
        with pytest.raises(RateLimitError) as caught:
            await asyncio.wait_for(model(server).ainvoke("hi", config={"timeout": 2.0}), GUARD)
        notes = caught.value.__notes__
        assert any("asked to wait 30 s" in n and "deadline" in n for n in notes)
        assert len(server.chat_requests) == 1


async def test_timeout_bounds_the_whole_unstreamed_answer(no_leaks: Leaks) -> None:
    # Ten pieces 0.15 s apart: no single read waits 0.5 s, the whole answer takes 1.5 s.
    trickle = Complete("a long answer", body_delay=0.15)
    async with FakeOpenAIServer([trickle]) as server:
        with pytest.raises(APITimeoutError, match=r"whole answer \(timeout=0.5 s\)"):
            await asyncio.wait_for(model(server, timeout=0.5, max_retries=0).ainvoke("hi"), GUARD)
        # (No wait_disconnect: the server may see the reset as a failed write instead.)
        await no_leaks(server)
    async with FakeOpenAIServer([trickle]) as server:
        answer = await asyncio.wait_for(model(server, timeout=5.0).ainvoke("hi"), GUARD)
        assert answer.content == "a long answer"


async def test_a_streams_retries_respect_the_calls_deadline() -> None:
    # The stream reads the deadline when it starts, in the context the engine pulls it in.
    async with FakeOpenAIServer([rate_limited(retry_after="3"), Complete("late")]) as server:

        async def run() -> None:
            async for _ in model(server).astream("hi", config={"timeout": 1.0}):
                pass

        with pytest.raises(RateLimitError) as caught:
            await asyncio.wait_for(run(), GUARD)
        assert any("deadline" in note for note in caught.value.__notes__)
        assert len(server.chat_requests) == 1


async def test_the_calls_deadline_stops_a_hanging_request(no_leaks: Leaks) -> None:
    from runnables.errors import StepTimeoutError

    async with FakeOpenAIServer(default=Hang()) as server:
        # The deadline has to fire while the request is at the server (else there is no
        # request to stop): a machine too loaded to send it within the first deadline
        # tries again with a longer one (each below the request timeout and GUARD).
        for deadline in (0.3, 1.2, 4.0):
            # The deadline's own error: GUARD's TimeoutError would hide one that never fired.
            with pytest.raises(StepTimeoutError):
                await asyncio.wait_for(
                    model(server).ainvoke("hi", config={"timeout": deadline}), GUARD
                )
            if server.chat_requests:
                break
        await asyncio.wait_for(server.wait_disconnect(), GUARD)
        await no_leaks(server)


@pytest.mark.parametrize("fault", ["keepalive_after", "trickle_after"])
async def test_stream_that_is_never_silent_but_sends_no_event_times_out(
    no_leaks: Leaks, fault: str
) -> None:
    # Each read resets the per-read timer (0.1 s apart here, under stream_idle_timeout),
    # so only the time since the last event can end such a stream.
    stalled = Complete("a b c d", fault_interval=0.05, **{fault: 2})  # type: ignore[arg-type]
    async with FakeOpenAIServer([stalled]) as server:
        m = model(server, stream_idle_timeout=5.0, stream_event_timeout=0.5)
        got: list[str] = []

        async def run() -> None:
            async for chunk in m.astream("hi"):
                got.append(chunk.text)

        with pytest.raises(APITimeoutError, match="stream_event_timeout") as caught:
            await asyncio.wait_for(run(), GUARD)
        assert isinstance(caught.value, TimeoutError)
        assert got == ["a ", "b "]
        assert len(server.chat_requests) == 1  # part of the answer was seen: no retry
        await asyncio.wait_for(server.wait_disconnect(), GUARD)
        await no_leaks(server)


async def test_keepalive_before_the_first_event_times_out_and_is_retried(no_leaks: Leaks) -> None:
    async with FakeOpenAIServer(
        [Complete("x", keepalive_after=0, fault_interval=0.05), Complete("ok")]
    ) as server:
        m = model(server, stream_event_timeout=0.5)
        assert await asyncio.wait_for(collect(m), GUARD) == "ok"
        assert len(server.chat_requests) == 2
        await no_leaks(server)


async def test_slow_consumer_does_not_count_against_the_event_timeout(no_leaks: Leaks) -> None:
    async with FakeOpenAIServer([Complete("a b c")]) as server:
        m = model(server, stream_event_timeout=0.3)
        got: list[str] = []
        async for chunk in m.astream("hi"):
            got.append(chunk.text)
            await asyncio.sleep(0.5)  # longer than stream_event_timeout, on our side
        assert "".join(got) == "a b c"
        await no_leaks(server)


@pytest.mark.parametrize("bad", [0, -1.0, "10", None, True])
def test_stream_event_timeout_must_be_positive_seconds(bad: object) -> None:
    with pytest.raises(ValueError, match=r"stream_event_timeout must be a number of seconds"):
        ChatOpenAI(model="m", base_url="http://127.0.0.1:9/v1", stream_event_timeout=bad)  # type: ignore[arg-type]


async def test_huge_error_text_from_the_server_is_capped(no_leaks: Leaks) -> None:
    huge = "x" * 1_000_000
    async with FakeOpenAIServer([server_error(400, message=huge)]) as server:
        with pytest.raises(BadRequestError) as caught:
            await asyncio.wait_for(model(server, max_retries=0).ainvoke("hi"), GUARD)
        text = str(caught.value)
        assert len(text) < 3000
        assert "more characters)" in text
        assert caught.value.message is not None and len(caught.value.message) < 3000
        await no_leaks(server)


async def test_huge_plain_text_error_body_is_capped(no_leaks: Leaks) -> None:
    async with FakeOpenAIServer([ErrorReply(500, body=b"y" * 1_000_000)]) as server:
        with pytest.raises(InternalServerError) as caught:
            await asyncio.wait_for(model(server, max_retries=0).ainvoke("hi"), GUARD)
        assert len(str(caught.value)) < 3000
        await no_leaks(server)


def test_transport_repr_never_shows_the_api_key() -> None:
    m = ChatOpenAI(model="m", base_url="http://127.0.0.1:9/v1", api_key="sk-secret-123")
    assert "sk-secret-123" not in repr(m._transport)
    assert "sk-secret-123" not in repr(m)


async def test_configurable_base_url_and_max_retries_take_effect(no_leaks: Leaks) -> None:
    from runnables import ConfigurableField
    from runnables.errors import ConfigError

    async with (
        FakeOpenAIServer([Complete("first")]) as one,
        FakeOpenAIServer([server_error(500), Complete("second")]) as two,
    ):
        m = model(one, max_retries=0).configurable_fields(
            base_url=ConfigurableField(id="base_url"),
            max_retries=ConfigurableField(id="retries"),
        )
        assert (await m.ainvoke("hi")).content == "first"
        conf = {"configurable": {"base_url": two.base_url, "retries": 1}}
        got = await asyncio.wait_for(m.ainvoke("hi", conf), GUARD)  # type: ignore[arg-type]
        assert got.content == "second"
        assert len(one.chat_requests) == 1 and len(two.chat_requests) == 2
        with pytest.raises(ConfigError, match=r"'retries'.*'2'"):
            await m.ainvoke("hi", {"configurable": {"retries": "2"}})
        await no_leaks(one)
        await no_leaks(two)
