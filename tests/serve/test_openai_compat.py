"""The OpenAI-compatible routes, driven by the official openai SDK over a real socket."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import openai
import pytest
from fastapi import FastAPI
from openai.types.chat import ChatCompletionMessageFunctionToolCall, ChatCompletionMessageParam

from runnables import RouterRunnable, RunnableLambda
from runnables.errors import ConfigError
from runnables.messages import AIMessage, BaseMessage
from runnables.models import FakeListChatModel, FakeTimedChatModel
from runnables.output_parsers import StrOutputParser
from runnables.prompts import ChatPromptTemplate, MessagesPlaceholder
from runnables.serve import add_openai_routes

Start = Callable[..., Any]  # the live_server fixture (tests/serve/conftest.py)


def client(url: str, api_key: str = "unused") -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key=api_key, max_retries=0, timeout=10)


def test_a_chat_model_answers_a_chat_completion_with_usage(live_server: Start) -> None:
    app = FastAPI()
    # The timed fake reports usage as a provider does (the list fake reports none).
    add_openai_routes(app, FakeTimedChatModel(["hello there"]), model_name="fake")
    url = live_server(app).url

    completion = client(url).chat.completions.create(
        model="fake", messages=[{"role": "user", "content": "hi"}]
    )

    assert completion.object == "chat.completion"
    assert completion.model == "fake"
    assert completion.choices[0].message.role == "assistant"
    assert completion.choices[0].message.content == "hello there"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None and completion.usage.total_tokens > 0


def test_streaming_sends_chunks_then_usage_then_done(live_server: Start) -> None:
    app = FastAPI()
    add_openai_routes(app, FakeTimedChatModel(["abc"]), model_name="fake")
    url = live_server(app).url

    chunks = list(
        client(url).chat.completions.create(
            model="fake",
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )

    assert {c.object for c in chunks} == {"chat.completion.chunk"}
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "abc"
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert len({c.id for c in chunks}) == 1


def test_the_stream_ends_with_done_on_the_wire(live_server: Start) -> None:
    app = FastAPI()
    add_openai_routes(app, FakeListChatModel(responses=["ok"]))
    url = live_server(app).url

    raw = httpx.post(
        f"{url}/v1/chat/completions",
        json={"model": "x", "messages": [{"role": "user", "content": "hi"}], "stream": True},
    ).text

    assert raw.rstrip().endswith("data: [DONE]")
    assert '"usage"' not in raw  # only with stream_options.include_usage


def test_a_chain_that_takes_messages_and_returns_a_string(live_server: Start) -> None:
    seen: list[list[BaseMessage]] = []

    def remember(messages: list[BaseMessage]) -> list[BaseMessage]:
        seen.append(messages)
        return messages

    prompt = ChatPromptTemplate.from_messages(
        [("system", "be brief"), MessagesPlaceholder("messages")]
    )
    chain = (
        RunnableLambda(remember)
        | (lambda messages: {"messages": messages})
        | prompt
        | FakeListChatModel(responses=["short answer"])
        | StrOutputParser()
    )
    app = FastAPI()
    add_openai_routes(app, chain, model_name="brief-chain")
    url = live_server(app).url

    streamed = client(url).chat.completions.create(
        model="brief-chain",
        messages=[
            {"role": "system", "content": "context"},
            {"role": "user", "content": "question?"},
            {"role": "assistant", "content": "earlier answer"},
            {"role": "user", "content": [{"type": "text", "text": "and now?"}]},
        ],
        stream=True,
    )

    assert "".join(c.choices[0].delta.content or "" for c in streamed if c.choices) == (
        "short answer"
    )
    assert [m.type for m in seen[0]] == ["system", "human", "ai", "human"]
    assert seen[0][-1].text == "and now?"


def test_tool_calls_in_the_output_are_openai_tool_calls(live_server: Start) -> None:
    message = AIMessage("", tool_calls=[{"name": "add", "args": {"a": 1, "b": 2}, "id": "call_1"}])
    app = FastAPI()
    add_openai_routes(app, RunnableLambda(lambda _: message))
    url = live_server(app).url

    completion = client(url).chat.completions.create(
        model="m", messages=[{"role": "user", "content": "add"}]
    )

    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls or []
    assert isinstance(call, ChatCompletionMessageFunctionToolCall)
    assert call.id == "call_1" and call.function.name == "add"
    assert json.loads(call.function.arguments) == {"a": 1, "b": 2}


def test_models_lists_the_served_names(live_server: Start) -> None:
    app = FastAPI()
    add_openai_routes(
        app,
        {"alpha": FakeListChatModel(responses=["a"]), "beta": FakeListChatModel(responses=["b"])},
    )
    url = live_server(app).url
    sdk = client(url)

    assert sorted(m.id for m in sdk.models.list()) == ["alpha", "beta"]
    answer = sdk.chat.completions.create(model="beta", messages=[{"role": "user", "content": "?"}])
    assert answer.choices[0].message.content == "b"
    with pytest.raises(openai.NotFoundError, match="gamma"):
        sdk.chat.completions.create(model="gamma", messages=[{"role": "user", "content": "?"}])


def test_bad_messages_are_a_400_the_sdk_raises(live_server: Start) -> None:
    app = FastAPI()
    add_openai_routes(app, FakeListChatModel(responses=["a"]))
    url = live_server(app).url

    with pytest.raises(openai.BadRequestError, match="messages"):
        client(url).chat.completions.create(model="m", messages=[])
    response = httpx.post(
        f"{url}/v1/chat/completions", json={"model": "m", "messages": [{"content": "x"}]}
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and "role" in error["message"]


def test_bearer_auth_uses_the_api_key(live_server: Start) -> None:
    app = FastAPI()
    add_openai_routes(app, FakeListChatModel(responses=["ok"]), auth_token="sk-test")
    url = live_server(app).url

    with pytest.raises(openai.AuthenticationError):
        client(url, api_key="wrong").chat.completions.create(
            model="m", messages=[{"role": "user", "content": "hi"}]
        )
    answer = client(url, api_key="sk-test").chat.completions.create(
        model="m", messages=[{"role": "user", "content": "hi"}]
    )
    assert answer.choices[0].message.content == "ok"


def test_a_failing_chain_sends_no_traceback(live_server: Start) -> None:
    def boom(_: Any) -> str:
        raise RuntimeError("internal secret")

    app = FastAPI()
    add_openai_routes(app, RunnableLambda(boom))
    url = live_server(app).url

    with pytest.raises(openai.InternalServerError) as caught:
        client(url).chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    assert "secret" not in str(caught.value.body)


def test_a_client_disconnect_cancels_a_streamed_completion(live_server: Start) -> None:
    started = threading.Event()
    cancelled = threading.Event()
    cancelled_at: list[float] = []

    async def sleep(seconds: float) -> None:
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled_at.append(time.monotonic())
            cancelled.set()
            raise

    model = FakeTimedChatModel(["never"], time_to_first_token=30, sleep=sleep)
    app = FastAPI()
    add_openai_routes(app, model)
    url = live_server(app).url
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    body = json.dumps(
        {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    ).encode()
    sock.sendall(
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    assert started.wait(10)
    closed_at = time.monotonic()
    sock.close()

    assert cancelled.wait(5)
    assert cancelled_at[0] - closed_at < 1.0


# ---------------------------------------------------------------------- guards


class Gate:
    """A model's ``sleep`` that holds each call until released (the server runs in its
    own thread and loop, so the gate is made of threading events)."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.cancelled = threading.Event()

    async def __call__(self, seconds: float) -> None:
        self.entered.set()
        try:
            # Poll so the wait stays cancellable from the server's loop.
            while not self.release.is_set():
                await asyncio.sleep(0.01)
        except asyncio.CancelledError:
            self.cancelled.set()
            raise


def gated_model(gate: Gate, text: str = "done") -> FakeTimedChatModel:
    return FakeTimedChatModel([text], time_to_first_token=1, sleep=gate)


USER: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hi"}]


def test_a_body_over_max_body_bytes_is_a_413_the_sdk_raises(live_server: Start) -> None:
    ran = threading.Event()

    def answer(_: Any) -> str:
        ran.set()
        return "ok"

    app = FastAPI()
    add_openai_routes(app, RunnableLambda(answer), max_body_bytes=200)
    url = live_server(app).url

    with pytest.raises(openai.APIStatusError) as caught:
        client(url).chat.completions.create(
            model="m", messages=[{"role": "user", "content": "x" * 1000}]
        )

    assert caught.value.status_code == 413
    assert "over this server's limit of 200 bytes" in caught.value.message
    assert isinstance(caught.value.body, dict)
    assert caught.value.body["type"] == "invalid_request_error"
    assert not ran.is_set()
    # A body under the limit still goes through.
    answer_ = client(url).chat.completions.create(model="m", messages=USER)
    assert answer_.choices[0].message.content == "ok"


def test_a_chunked_body_over_max_body_bytes_is_a_413(live_server: Start) -> None:
    app = FastAPI()
    add_openai_routes(app, FakeListChatModel(responses=["ok"]), max_body_bytes=200)
    url = live_server(app).url
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "x" * 1000}]})

    def chunks() -> Any:  # no Content-Length: the limit applies while reading
        yield body[:500].encode()
        yield body[500:].encode()

    response = httpx.post(
        f"{url}/v1/chat/completions",
        content=chunks(),
        headers={"Content-Type": "application/json"},
    )

    assert response.status_code == 413
    assert "at least" in response.json()["error"]["message"]


def test_over_max_in_flight_is_a_503_with_retry_after(live_server: Start) -> None:
    gate = Gate()
    app = FastAPI()
    add_openai_routes(app, gated_model(gate), max_in_flight=1, retry_after=7)
    url = live_server(app).url
    first: list[Any] = []
    holder = threading.Thread(
        target=lambda: first.append(client(url).chat.completions.create(model="m", messages=USER))
    )
    holder.start()
    assert gate.entered.wait(10)

    with pytest.raises(openai.APIStatusError) as caught:
        client(url).chat.completions.create(model="m", messages=USER)

    gate.release.set()
    holder.join(10)
    assert caught.value.status_code == 503
    assert caught.value.response.headers["retry-after"] == "7"
    assert "limit" in caught.value.message and "Retry-After" in caught.value.message
    assert first[0].choices[0].message.content == "done"
    # The held run has left the count: the next request is served.
    again = client(url).chat.completions.create(model="m", messages=USER)
    assert again.choices[0].message.content == "done"


def test_a_stream_in_flight_counts_until_its_run_ends(live_server: Start) -> None:
    gate = Gate()
    app = FastAPI()
    add_openai_routes(app, gated_model(gate, "a b"), max_in_flight=1)
    url = live_server(app).url
    streamed: list[str] = []

    def hold() -> None:
        stream = client(url).chat.completions.create(model="m", messages=USER, stream=True)
        streamed.append("".join(c.choices[0].delta.content or "" for c in stream if c.choices))

    holder = threading.Thread(target=hold)
    holder.start()
    assert gate.entered.wait(10)

    with pytest.raises(openai.APIStatusError) as caught:
        client(url).chat.completions.create(model="m", messages=USER, stream=True)

    gate.release.set()
    holder.join(10)
    assert caught.value.status_code == 503
    assert caught.value.response.headers["retry-after"] == "1"
    assert streamed == ["a b"]
    again = client(url).chat.completions.create(model="m", messages=USER)
    assert again.choices[0].message.content == "a b"


def test_a_run_past_the_timeout_is_a_504(live_server: Start) -> None:
    gate = Gate()
    app = FastAPI()
    add_openai_routes(app, gated_model(gate), timeout=0.2)
    url = live_server(app).url

    with pytest.raises(openai.APIStatusError) as caught:
        client(url).chat.completions.create(model="m", messages=USER)

    assert caught.value.status_code == 504
    assert isinstance(caught.value.body, dict) and caught.value.body["type"] == "timeout"
    assert caught.value.body["message"] == "The run took longer than this server's limit of 0.2 s."
    assert "Traceback" not in caught.value.response.text
    assert gate.cancelled.wait(5)  # the run was stopped, not left running


def test_a_stream_past_the_timeout_ends_with_an_error_chunk(live_server: Start) -> None:
    """The 200 and the role chunk are already sent when the deadline passes, so the
    timeout comes as an OpenAI error chunk (which the SDK raises) and no ``[DONE]``."""
    gate = Gate()
    app = FastAPI()
    add_openai_routes(app, gated_model(gate), timeout=0.2)
    url = live_server(app).url

    stream = client(url).chat.completions.create(model="m", messages=USER, stream=True)
    first = next(iter(stream))
    with pytest.raises(openai.APIError) as caught:
        list(stream)

    assert first.choices[0].delta.role == "assistant"
    assert not isinstance(caught.value, openai.APIStatusError)
    assert caught.value.message == "The run took longer than this server's limit of 0.2 s."
    assert caught.value.body == {
        "message": "The run took longer than this server's limit of 0.2 s.",
        "type": "timeout",
        "param": None,
        "code": None,
    }
    assert gate.cancelled.wait(5)
    raw = httpx.post(
        f"{url}/v1/chat/completions", json={"model": "m", "messages": USER, "stream": True}
    )
    assert raw.status_code == 200
    assert "[DONE]" not in raw.text and "Traceback" not in raw.text


def test_a_failing_stream_sends_no_traceback(live_server: Start) -> None:
    async def boom(_: Any) -> Any:
        raise RuntimeError("internal secret")
        yield ""  # pragma: no cover - makes this an async generator

    app = FastAPI()
    add_openai_routes(app, RunnableLambda(boom))
    url = live_server(app).url

    stream = client(url).chat.completions.create(model="m", messages=USER, stream=True)
    with pytest.raises(openai.APIError) as caught:
        list(stream)

    assert caught.value.message == "Internal Server Error"
    raw = httpx.post(
        f"{url}/v1/chat/completions", json={"model": "m", "messages": USER, "stream": True}
    ).text
    assert "secret" not in raw and "Traceback" not in raw and "RuntimeError" not in raw


def test_a_run_that_refuses_its_input_or_config_is_a_400_naming_the_problem(
    live_server: Start,
) -> None:
    def needs_a_setting(_: Any) -> str:
        raise ConfigError("The 'style' setting must be 'short' or 'long', got 'loud'.")

    app = FastAPI()
    # A router takes {"key", "input"}: served as a chat model, it refuses the messages.
    router: RouterRunnable[str] = RouterRunnable({"a": RunnableLambda(lambda x: "a")})
    add_openai_routes(app, {"router": router, "config": RunnableLambda(needs_a_setting)})
    url = live_server(app).url

    for model, words in [("router", "takes a dict with 'key'"), ("config", "'style' setting")]:
        raw = httpx.post(f"{url}/v1/chat/completions", json={"model": model, "messages": USER})
        assert raw.status_code == 400
        error = raw.json()["error"]
        assert error["type"] == "invalid_request_error" and words in error["message"]
        with pytest.raises(openai.BadRequestError, match=words):
            client(url).chat.completions.create(model=model, messages=USER)
        stream = client(url).chat.completions.create(model=model, messages=USER, stream=True)
        with pytest.raises(openai.APIError, match=words) as caught:
            list(stream)
        assert caught.value.type == "invalid_request_error"


@pytest.mark.parametrize("stream", [False, True])
def test_an_answer_holding_a_lone_surrogate_is_sent_as_its_json_escape(
    live_server: Start, stream: bool
) -> None:
    app = FastAPI()
    add_openai_routes(app, FakeListChatModel(responses=["half \ud83d of a pair"]))
    url = live_server(app).url

    raw = httpx.post(
        f"{url}/v1/chat/completions", json={"model": "m", "messages": USER, "stream": stream}
    )

    assert raw.status_code == 200
    if stream:
        chunks = [
            json.loads(line.removeprefix("data: "))
            for line in raw.text.splitlines()
            if line.startswith("data: {")
        ]
        text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
        assert text == "half \ud83d of a pair" and raw.text.endswith("data: [DONE]\n\n")
    else:
        assert raw.json()["choices"][0]["message"]["content"] == "half \ud83d of a pair"
    assert "\\ud83d" in raw.text  # as JSON's escape, the only way UTF-8 can carry it


def test_stream_must_be_a_boolean(live_server: Start) -> None:
    app = FastAPI()
    add_openai_routes(app, FakeListChatModel(responses=["a"]))
    url = live_server(app).url

    response = httpx.post(
        f"{url}/v1/chat/completions",
        json={"model": "m", "messages": [{"role": "user", "content": "x"}], "stream": "false"},
    )

    assert response.status_code == 400
    error = response.json()["error"]
    assert "'stream': expected true or false, got 'false'" in error["message"]
    assert error["param"] == "stream"


def test_after_begin_shutdown_new_completions_get_a_503(live_server: Start) -> None:
    from runnables.serve.shutdown import begin_shutdown

    app = FastAPI()
    add_openai_routes(app, FakeListChatModel(responses=["a"]))
    url = live_server(app).url
    assert client(url).chat.completions.create(model="m", messages=USER).choices

    begin_shutdown(app)

    with pytest.raises(openai.APIStatusError) as caught:
        client(url).chat.completions.create(model="m", messages=USER)
    assert caught.value.status_code == 503
    assert caught.value.response.headers.get("retry-after")


def test_streams_that_are_never_read_free_their_slots_once_the_timeout_runs_out(
    live_server: Start,
) -> None:
    async def flood(messages: list[BaseMessage]) -> Any:
        if messages[-1].text != "flood":
            yield AIMessage("ok")
            return
        while True:  # far more than the socket buffers hold
            yield AIMessage("x" * 65_536)

    app = FastAPI()
    add_openai_routes(app, RunnableLambda(flood), max_in_flight=2, timeout=1.0)
    url = live_server(app).url
    host, port = url.removeprefix("http://").split(":")
    body = json.dumps(
        {"model": "runnables", "stream": True, "messages": [{"role": "user", "content": "flood"}]}
    ).encode()
    stuck = []
    for _ in range(2):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect((host, int(port)))
        sock.sendall(
            f"POST /v1/chat/completions HTTP/1.1\r\nHost: {host}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        stuck.append(sock)  # and never read
    ask = {"model": "runnables", "messages": [{"role": "user", "content": "hi"}]}
    try:
        statuses: list[int] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            statuses.append(httpx.post(f"{url}/v1/chat/completions", json=ask).status_code)
            if statuses[-1] == 200 and 503 in statuses:
                break
            time.sleep(0.1)

        assert 503 in statuses and statuses[-1] == 200, statuses[-5:]
    finally:
        for sock in stuck:
            sock.close()
