"""add_routes against a real uvicorn server on loopback: shapes, validation and limits."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, TypedDict

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel

from runnables import RunnableConfig, RunnableLambda
from runnables.models import FakeListChatModel, FakeTimedChatModel
from runnables.serve import add_routes

Start = Callable[..., Any]  # the live_server fixture (tests/serve/conftest.py)
Parse = Callable[[str], list[dict[str, Any]]]


class Question(TypedDict):
    question: str
    times: int


def repeat(q: Question) -> str:
    return q["question"] * q["times"]


class Answer(BaseModel):
    text: str
    score: float


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Probe:
    """Records when a slow step starts and when it is cancelled (thread-safe)."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.cancelled = threading.Event()
        self.cancelled_at = 0.0

    async def sleep(self, seconds: float) -> None:
        self.started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            self.cancelled_at = time.monotonic()
            self.cancelled.set()
            raise


def raw_post(
    url: str, path: str, body: dict[str, Any], headers: dict[str, str] | None = None
) -> socket.socket:
    """Send a POST on a plain socket, so the test controls when the connection closes."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    data = json.dumps(body).encode()
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    sock.sendall(
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"{extra}Content-Length: {len(data)}\r\n\r\n".encode()
        + data
    )
    return sock


# ---------------------------------------------------------------------- shapes


def test_invoke_answers_langserve_shape_with_a_run_id(live_server: Start) -> None:
    app = FastAPI()
    add_routes(app, RunnableLambda(repeat), path="/repeat")
    url = live_server(app).url

    body = httpx.post(f"{url}/repeat/invoke", json={"input": {"question": "ab", "times": 2}}).json()

    assert body["output"] == "abab"
    assert len(body["metadata"]["run_id"]) == 36
    assert body["metadata"]["feedback_tokens"] == []


def test_batch_answers_one_output_and_run_id_per_input(live_server: Start) -> None:
    app = FastAPI()
    add_routes(app, RunnableLambda(repeat), path="/repeat")
    url = live_server(app).url
    inputs = [{"question": "a", "times": 1}, {"question": "b", "times": 3}]

    body = httpx.post(f"{url}/repeat/batch", json={"inputs": inputs, "config": {}}).json()

    assert body["output"] == ["a", "bbb"]
    assert len(set(body["metadata"]["run_ids"])) == 2


def test_batch_takes_one_config_per_input(live_server: Start) -> None:
    def tags(_: str, config: RunnableConfig) -> list[str]:
        return config.get("tags", [])

    app = FastAPI()
    add_routes(app, RunnableLambda(tags), path="/tags")
    url = live_server(app).url

    body = httpx.post(
        f"{url}/tags/batch",
        json={"inputs": ["x", "y"], "config": [{"tags": ["one"]}, {"tags": ["two"]}]},
    ).json()

    assert body["output"] == [["one"], ["two"]]


def test_stream_sends_metadata_data_end_with_ids_only_when_resumable(
    live_server: Start, parse_sse: Parse
) -> None:
    app = FastAPI()
    add_routes(app, FakeListChatModel(responses=["hi you"]), path="/chat")
    url = live_server(app).url

    response = httpx.post(f"{url}/chat/stream", json={"input": "hello"})
    resumable = httpx.post(
        f"{url}/chat/stream", json={"input": "hello"}, headers={"Resume-Grace": "1"}
    )

    assert response.headers["content-type"].startswith("text/event-stream")
    events = parse_sse(response.text)
    assert [e["event"] for e in events] == ["metadata"] + ["data"] * 6 + ["end"]
    # Nothing to resume, so no ids: LangServe's plain event/data pairs.
    assert "id:" not in response.text and {e["id"] for e in events} == {None}
    held = parse_sse(resumable.text)
    run_id = json.loads(held[0]["data"])["run_id"]
    assert [e["id"] for e in held] == [f"{run_id}:{i}" for i in range(len(held))]
    chunks = [json.loads(e["data"]) for e in events[1:-1]]
    assert "".join(c["content"] for c in chunks) == "hi you"
    assert {c["type"] for c in chunks} == {"AIMessageChunk"}


def test_stream_events_sends_v2_events_under_the_run_id(
    live_server: Start, parse_sse: Parse
) -> None:
    app = FastAPI()
    add_routes(app, RunnableLambda(repeat), path="/repeat")
    url = live_server(app).url

    response = httpx.post(
        f"{url}/repeat/stream_events",
        json={"input": {"question": "z", "times": 2}},
        headers={"Resume-Grace": "1"},
    )

    events = parse_sse(response.text)
    # As LangServe 0.3: no metadata event here (its client logs one as unsupported).
    assert [e["event"] for e in events] == ["data"] * 3 + ["end"]
    data = [json.loads(e["data"]) for e in events if e["event"] == "data"]
    assert [d["event"] for d in data] == ["on_chain_start", "on_chain_stream", "on_chain_end"]
    run_id = data[0]["run_id"]
    assert [e["id"] for e in events] == [f"{run_id}:{i}" for i in range(len(events))]
    assert data[-1]["data"]["output"] == "zz"
    assert events[-1]["event"] == "end"


def test_stream_events_applies_the_include_filters(live_server: Start, parse_sse: Parse) -> None:
    chain = RunnableLambda(str.upper, name="upper") | RunnableLambda(str.lower, name="lower")
    app = FastAPI()
    add_routes(app, chain, path="/c")
    url = live_server(app).url

    response = httpx.post(
        f"{url}/c/stream_events", json={"input": "Hi", "include_names": ["lower"]}
    )

    names = {
        json.loads(e["data"])["name"] for e in parse_sse(response.text) if e["event"] == "data"
    }
    assert names == {"lower"}


def test_outputs_serialise_pydantic_models_dataclasses_and_messages(live_server: Start) -> None:
    app = FastAPI()
    add_routes(app, RunnableLambda(lambda _: Answer(text="ok", score=0.5)), path="/model")
    add_routes(app, RunnableLambda(lambda _: {"p": Point(1, 2)}), path="/dc")
    add_routes(app, FakeListChatModel(responses=["yo"]), path="/chat")
    url = live_server(app).url

    assert httpx.post(f"{url}/model/invoke", json={"input": 1}).json()["output"] == {
        "text": "ok",
        "score": 0.5,
    }
    assert httpx.post(f"{url}/dc/invoke", json={"input": 1}).json()["output"] == {
        "p": {"x": 1, "y": 2}
    }
    message = httpx.post(f"{url}/chat/invoke", json={"input": "hi"}).json()["output"]
    assert message["type"] == "ai" and message["content"] == "yo"


class Opaque:
    """A value JSON has no form for (no model_dump, not a dataclass)."""


def test_an_output_json_cannot_encode_is_a_500_on_every_route_not_its_text(
    live_server: Start, parse_sse: Parse, caplog: pytest.LogCaptureFixture
) -> None:
    # LangServe's answer: a 500 (an error event in a stream), never the value's str().
    chain = RunnableLambda[None, list[Opaque]](lambda _: [Opaque()]) | RunnableLambda(
        lambda _: "after"
    )
    app = FastAPI()
    add_routes(app, RunnableLambda(lambda _: Opaque()), path="/opaque")
    add_routes(app, chain, path="/inner")
    url = live_server(app).url

    with caplog.at_level(logging.ERROR, logger="runnables.serve"):
        invoked = httpx.post(f"{url}/opaque/invoke", json={"input": 1})
        batched = httpx.post(f"{url}/opaque/batch", json={"inputs": [1, 2]})
        streamed = httpx.post(f"{url}/opaque/stream", json={"input": 1})
        # The chain's end output is fine; an intermediate event's data is not.
        events = httpx.post(f"{url}/inner/stream_events", json={"input": 1})

    assert invoked.status_code == 500 and invoked.json()["detail"] == "Internal Server Error"
    assert batched.status_code == 500 and "Opaque" not in batched.text
    error = {"status_code": 500, "message": "Internal Server Error"}
    for response in (streamed, events):
        assert "Opaque object at" not in response.text
        last = parse_sse(response.text)[-1]
        assert last["event"] == "error" and json.loads(last["data"]) == error
    assert httpx.post(f"{url}/inner/invoke", json={"input": 1}).json()["output"] == "after"
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert invoked.json()["run_id"] in logged and "Opaque" in logged


def test_messages_in_the_input_are_converted(live_server: Start) -> None:
    app = FastAPI()
    add_routes(app, FakeListChatModel(responses=["fine"]), path="/chat")
    url = live_server(app).url

    body = httpx.post(
        f"{url}/chat/invoke",
        json={"input": [{"type": "human", "content": "how are you?"}]},
    ).json()

    assert body["output"]["content"] == "fine"


def test_schemas_are_served(live_server: Start) -> None:
    app = FastAPI()
    add_routes(app, RunnableLambda(repeat), path="/repeat")
    url = live_server(app).url

    schema = httpx.get(f"{url}/repeat/input_schema").json()
    if "$ref" in schema:  # a TypedDict input is described under $defs
        schema = schema["$defs"][schema["$ref"].rsplit("/", 1)[-1]]
    assert set(schema["properties"]) == {"question", "times"}
    assert httpx.get(f"{url}/repeat/output_schema").json()["type"] == "string"
    config = httpx.get(f"{url}/repeat/config_schema").json()
    assert {"tags", "metadata", "run_name"} <= set(config["properties"])


def test_disabled_endpoints_are_not_routed(live_server: Start) -> None:
    app = FastAPI()
    add_routes(app, RunnableLambda(repeat), path="/r", disabled_endpoints=["batch"])
    url = live_server(app).url

    assert httpx.post(f"{url}/r/batch", json={"inputs": []}).status_code in (404, 405)


def test_add_routes_refuses_an_unknown_endpoint_name() -> None:
    with pytest.raises(ValueError, match=r"unknown endpoint names \['invok'\]"):
        add_routes(FastAPI(), RunnableLambda(repeat), enabled_endpoints=["invok"])  # type: ignore[list-item]


# ---------------------------------------------------------------------- validation


def test_invalid_input_is_422_naming_the_field(live_server: Start) -> None:
    app = FastAPI()
    add_routes(app, RunnableLambda(repeat), path="/repeat")
    url = live_server(app).url

    response = httpx.post(
        f"{url}/repeat/invoke", json={"input": {"question": "a", "times": "many"}}
    )

    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "input", "times"]


def test_invalid_stream_input_is_422_before_the_stream_starts(live_server: Start) -> None:
    app = FastAPI()
    add_routes(app, RunnableLambda(repeat), path="/repeat")
    url = live_server(app).url

    response = httpx.post(f"{url}/repeat/stream", json={"input": {"question": "a"}})

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "input", "times"]


def test_batch_422_names_the_failing_input_index(live_server: Start) -> None:
    app = FastAPI()
    add_routes(app, RunnableLambda(repeat), path="/repeat")
    url = live_server(app).url

    response = httpx.post(
        f"{url}/repeat/batch",
        json={"inputs": [{"question": "a", "times": 1}, {"question": "b"}]},
    )

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "inputs", 1, "times"]


def test_body_that_is_not_json_is_422(live_server: Start) -> None:
    app = FastAPI()
    add_routes(app, RunnableLambda(repeat), path="/repeat")
    url = live_server(app).url

    response = httpx.post(
        f"{url}/repeat/invoke", content=b"{not json", headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 422


def test_config_keys_outside_the_allow_list_are_dropped(live_server: Start) -> None:
    seen: list[RunnableConfig] = []

    def record(x: str, config: RunnableConfig) -> str:
        seen.append(config)
        return x

    app = FastAPI()
    add_routes(app, RunnableLambda(record), path="/r")
    url = live_server(app).url

    response = httpx.post(
        f"{url}/r/invoke",
        json={
            "input": "x",
            "config": {"tags": ["kept"], "recursion_limit": 3, "max_concurrency": 1},
        },
    )

    assert response.status_code == 200
    assert seen[0].get("tags") == ["kept"]
    assert seen[0].get("recursion_limit") != 3
    assert seen[0].get("max_concurrency") is None


def test_a_key_that_is_not_a_config_key_is_422_naming_it(live_server: Start) -> None:
    app = FastAPI()
    add_routes(app, RunnableLambda(repeat), path="/repeat")
    url = live_server(app).url

    response = httpx.post(
        f"{url}/repeat/invoke",
        json={"input": {"question": "a", "times": 1}, "config": {"configurabel": {}}},
    )

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "config", "configurabel"]


def test_config_value_of_the_wrong_type_is_422(live_server: Start) -> None:
    app = FastAPI()
    add_routes(app, RunnableLambda(repeat), path="/repeat")
    url = live_server(app).url

    response = httpx.post(
        f"{url}/repeat/invoke",
        json={"input": {"question": "a", "times": 1}, "config": {"tags": "one"}},
    )

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "config", "tags"]


# ---------------------------------------------------------------------- limits


def test_body_over_the_limit_is_413(live_server: Start) -> None:
    app = FastAPI()
    add_routes(app, RunnableLambda(len), path="/len", max_body_bytes=1000)
    url = live_server(app).url

    big = httpx.post(f"{url}/len/invoke", json={"input": "x" * 2000})
    small = httpx.post(f"{url}/len/invoke", json={"input": "x" * 100})

    assert big.status_code == 413
    assert "1000 bytes" in big.json()["detail"]
    assert small.json()["output"] == 100


def test_chunked_body_over_the_limit_is_413(live_server: Start) -> None:
    app = FastAPI()
    add_routes(app, RunnableLambda(len), path="/len", max_body_bytes=1000)
    url = live_server(app).url

    def body() -> Any:
        yield b'{"input": "'
        for _ in range(30):
            yield b"x" * 100
        yield b'"}'

    response = httpx.post(
        f"{url}/len/invoke", content=body(), headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 413


def test_requests_over_the_in_flight_cap_get_503_with_retry_after(live_server: Start) -> None:
    release = threading.Event()
    entered = threading.Event()

    async def hold(x: str) -> str:
        entered.set()
        while not release.is_set():
            await asyncio.sleep(0.01)
        return x

    app = FastAPI()
    add_routes(app, RunnableLambda(hold), path="/hold", max_in_flight=1, retry_after=2)
    url = live_server(app).url
    results: list[httpx.Response] = []
    first = threading.Thread(
        target=lambda: results.append(httpx.post(f"{url}/hold/invoke", json={"input": "a"}))
    )
    first.start()
    try:
        assert entered.wait(10)
        second = httpx.post(f"{url}/hold/invoke", json={"input": "b"})
        stream = httpx.post(f"{url}/hold/stream", json={"input": "c"})
    finally:
        release.set()
        first.join(10)

    assert second.status_code == 503
    assert second.headers["retry-after"] == "2"
    assert stream.status_code == 503
    assert results[0].json()["output"] == "a"
    # The slot is free again once the first run is over.
    assert httpx.post(f"{url}/hold/invoke", json={"input": "d"}).status_code == 200


def test_a_run_over_the_deadline_is_504(live_server: Start, parse_sse: Parse) -> None:
    model = FakeTimedChatModel(["slow answer"], time_to_first_token=5)
    app = FastAPI()
    add_routes(app, model, path="/slow", timeout=0.2)
    url = live_server(app).url

    response = httpx.post(f"{url}/slow/invoke", json={"input": "hi"}, timeout=10)
    streamed = httpx.post(f"{url}/slow/stream", json={"input": "hi"}, timeout=10)

    assert response.status_code == 504
    assert "0.2 s" in response.json()["detail"]
    last = parse_sse(streamed.text)[-1]
    assert last["event"] == "error"
    assert json.loads(last["data"])["status_code"] == 504


def test_clients_that_never_read_free_their_slots_once_the_timeout_runs_out(
    live_server: Start,
) -> None:
    async def flood(text: str) -> AsyncIterator[str]:
        if text != "flood":
            yield text
            return
        while True:  # far more than the socket buffers hold
            yield "x" * 65_536

    app = FastAPI()
    add_routes(
        app, RunnableLambda(flood), path="/f", max_in_flight=3, timeout=1.0, replay_max_events=8
    )
    url = live_server(app).url
    host, port = url.removeprefix("http://").split(":")
    stuck = []
    for extra in ("", "", "Resume-Grace: 30\r\n"):  # two plain streams, one resumable
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.settimeout(30)
        sock.connect((host, int(port)))
        body = b'{"input": "flood"}'
        sock.sendall(
            f"POST /f/stream HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"{extra}Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        stuck.append(sock)  # and never read
    try:
        statuses = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            status = httpx.post(f"{url}/f/invoke", json={"input": "hi"}, timeout=30).status_code
            statuses.append(status)
            if status == 200 and 503 in statuses:
                break
            time.sleep(0.1)

        assert statuses[-1] == 200, f"the slots were never freed: {statuses[-5:]}"
        assert 503 in statuses  # the three streams did hold the route full
        for sock in stuck:
            # The server closed each connection: draining it reaches EOF, no normal end.
            received = b""
            while chunk := sock.recv(1 << 20):
                received += chunk
            assert b"event: end" not in received
    finally:
        for sock in stuck:
            sock.close()


def test_a_batch_over_max_batch_size_is_413_naming_the_limit(live_server: Start) -> None:
    app = FastAPI()
    add_routes(app, RunnableLambda(len), path="/len", max_batch_size=3)
    url = live_server(app).url

    fits = httpx.post(f"{url}/len/batch", json={"inputs": ["a", "bb", "ccc"]})
    over = httpx.post(f"{url}/len/batch", json={"inputs": ["a"] * 4})

    assert fits.json()["output"] == [1, 2, 3]
    assert over.status_code == 413
    assert "4 inputs" in over.json()["detail"] and "limit of 3" in over.json()["detail"]


def test_a_batch_runs_at_most_max_in_flight_of_its_inputs_at_once(live_server: Start) -> None:
    running = 0
    most = 0

    async def step(x: int) -> int:
        nonlocal running, most
        running += 1
        most = max(most, running)
        # Give every other input that could start now the chance to start.
        for _ in range(20):
            await asyncio.sleep(0)
        running -= 1
        return x * 2

    app = FastAPI()
    add_routes(app, RunnableLambda(step), path="/double", max_in_flight=2)
    url = live_server(app).url

    response = httpx.post(f"{url}/double/batch", json={"inputs": list(range(12))}, timeout=30)

    assert response.json()["output"] == [x * 2 for x in range(12)]
    assert most == 2


def test_bearer_token_is_required_when_configured(live_server: Start) -> None:
    app = FastAPI()
    add_routes(app, RunnableLambda(len), path="/len", auth_token=["s3cret", "other"])
    url = live_server(app).url

    missing = httpx.post(f"{url}/len/invoke", json={"input": "abc"})
    wrong = httpx.post(
        f"{url}/len/invoke", json={"input": "abc"}, headers={"Authorization": "Bearer nope"}
    )
    schema = httpx.get(f"{url}/len/input_schema")
    ok = httpx.post(
        f"{url}/len/invoke", json={"input": "abc"}, headers={"Authorization": "Bearer other"}
    )

    assert missing.status_code == wrong.status_code == schema.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    assert ok.json()["output"] == 3
    assert httpx.get(f"{url}/len/playground").status_code == 200


def test_failures_are_logged_with_the_run_id_and_never_sent(
    live_server: Start, parse_sse: Parse, caplog: pytest.LogCaptureFixture
) -> None:
    def boom(_: str) -> str:
        raise ValueError("secret database password in this message")

    app = FastAPI()
    add_routes(app, RunnableLambda(boom), path="/boom")
    url = live_server(app).url

    with caplog.at_level(logging.ERROR, logger="runnables.serve"):
        response = httpx.post(f"{url}/boom/invoke", json={"input": "x"})
        streamed = httpx.post(f"{url}/boom/stream", json={"input": "x"})

    assert response.status_code == 500
    assert "secret" not in response.text and "Traceback" not in response.text
    run_id = response.json()["run_id"]
    events = parse_sse(streamed.text)
    assert "secret" not in streamed.text
    assert json.loads(events[-1]["data"]) == {
        "status_code": 500,
        "message": "Internal Server Error",
        "step": "boom",  # the step's name, already in the stream's events
    }
    stream_run_id = json.loads(events[0]["data"])["run_id"]
    logged = [r for r in caplog.records if r.exc_info]
    assert any(run_id in r.getMessage() for r in logged)
    assert any(stream_run_id in r.getMessage() for r in logged)
    assert all("secret" in str(r.exc_info[1]) for r in logged if r.exc_info)


# ---------------------------------------------------------------------- disconnects


def slow_chain(probe: Probe) -> Any:
    model = FakeTimedChatModel(["never sent"], time_to_first_token=30, sleep=probe.sleep)
    return RunnableLambda(lambda x: x) | model


def test_a_client_disconnect_cancels_invoke_and_its_model_call(live_server: Start) -> None:
    probe = Probe()
    app = FastAPI()
    add_routes(app, slow_chain(probe), path="/slow")
    url = live_server(app).url

    sock = raw_post(url, "/slow/invoke", {"input": "hi"})
    assert probe.started.wait(10)
    closed_at = time.monotonic()
    sock.close()

    assert probe.cancelled.wait(5), "the model call was not cancelled"
    # The goal is 100 ms; the bound is generous because the machine is shared.
    assert probe.cancelled_at - closed_at < 1.0


@pytest.mark.parametrize(
    ("route", "options", "headers"),
    [
        ("stream", {}, {}),  # the defaults: resumable routes, a client that did not ask
        ("stream_events", {}, {}),
        ("stream", {"resumable": False}, {"Resume-Grace": "30"}),
        ("stream", {"resume_grace": 0}, {"Resume-Grace": "30"}),
        ("stream", {}, {"Resume-Grace": "0"}),
    ],
)
def test_a_client_disconnect_cancels_a_stream_and_its_model_call_within_100_ms(
    live_server: Start, route: str, options: dict[str, Any], headers: dict[str, str]
) -> None:
    probe = Probe()
    app = FastAPI()
    add_routes(app, slow_chain(probe), path="/slow", **options)
    url = live_server(app).url

    sock = raw_post(url, f"/slow/{route}", {"input": "hi"}, headers)
    assert probe.started.wait(10)
    got = b""
    while b"event: " not in got:  # the first event may come after the headers
        got += sock.recv(4096)
    closed_at = time.monotonic()
    sock.close()

    assert probe.cancelled.wait(5), "the model call was not cancelled"
    # The requirement is 100 ms; 0.3 s of slack is for the shared, noisy test machine
    # (a scheduling hiccup of a thread), not for any wait in the server.
    assert probe.cancelled_at - closed_at < 0.3


def test_a_stream_without_resume_grace_is_not_held_for_a_reconnect(
    live_server: Start, parse_sse: Parse
) -> None:
    app = FastAPI()
    add_routes(app, RunnableLambda(str.upper), path="/u")
    url = live_server(app).url

    response = httpx.post(f"{url}/u/stream", json={"input": "a"})

    events = parse_sse(response.text)
    run_id = json.loads(events[0]["data"])["run_id"]
    assert [e["id"] for e in events] == [None] * len(events)
    assert "resume-grace" not in response.headers
    assert httpx.get(f"{url}/u/stream/{run_id}").status_code == 404


def test_resume_grace_is_capped_by_the_routes_resume_grace(live_server: Start) -> None:
    app = FastAPI()
    add_routes(app, RunnableLambda(str.upper), path="/u", resume_grace=2)
    url = live_server(app).url

    asked = httpx.post(f"{url}/u/stream", json={"input": "a"}, headers={"Resume-Grace": "1.5"})
    capped = httpx.post(f"{url}/u/stream", json={"input": "a"}, headers={"Resume-Grace": "60"})

    assert asked.headers["resume-grace"] == "1.5"
    assert capped.headers["resume-grace"] == "2"


@pytest.mark.parametrize("value", ["soon", "-1", "nan", "inf"])
def test_an_invalid_resume_grace_is_422_naming_the_header(live_server: Start, value: str) -> None:
    app = FastAPI()
    add_routes(app, RunnableLambda(str.upper), path="/u")
    url = live_server(app).url

    response = httpx.post(f"{url}/u/stream", json={"input": "a"}, headers={"Resume-Grace": value})

    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["header", "resume-grace"] and value in error["msg"]


def test_shutdown_lets_an_open_stream_finish(live_server: Start, parse_sse: Parse) -> None:
    model = FakeTimedChatModel(["one two three four five"], tokens_per_second=20)
    app = FastAPI()
    add_routes(app, model, path="/chat")
    server = live_server(app, timeout_graceful_shutdown=10)
    received: list[str] = []

    with httpx.stream("POST", f"{server.url}/chat/stream", json={"input": "hi"}) as response:
        lines = response.iter_lines()
        for line in lines:
            received.append(line)
            if line.startswith("event: data"):
                break
        stopper = threading.Thread(target=server.stop)
        stopper.start()
        received.extend(lines)
    stopper.join(15)

    events = parse_sse("\n".join(received) + "\n\n")
    assert events[-1]["event"] == "end"
    text = "".join(json.loads(e["data"])["content"] for e in events if e["event"] == "data")
    assert text == "one two three four five"


def test_shutdown_gives_a_detached_stream_run_its_grace_to_finish(live_server: Start) -> None:
    finished = threading.Event()
    started = threading.Event()

    async def work(x: str) -> Any:
        started.set()
        yield "first"
        await asyncio.sleep(0.5)
        yield "second"
        finished.set()

    app = FastAPI()
    add_routes(app, RunnableLambda(work), path="/w", resume_grace=30, shutdown_grace=10)
    server = live_server(app)
    sock = raw_post(server.url, "/w/stream", {"input": "x"}, {"Resume-Grace": "30"})
    assert started.wait(10)
    sock.close()  # the run is now detached, waiting for a reconnect

    server.stop(wait=15)

    assert finished.is_set()


def test_a_prompts_optional_variable_left_out_of_the_request_stays_out(
    live_server: Start,
) -> None:
    from runnables.prompts import ChatPromptTemplate, MessagesPlaceholder

    prompt = ChatPromptTemplate.from_messages(
        [MessagesPlaceholder("history", optional=True), ("human", "{q}")]
    )
    app = FastAPI()
    add_routes(app, prompt | RunnableLambda(lambda v: len(v.to_messages())), path="/p")
    url = live_server(app).url

    body = httpx.post(f"{url}/p/invoke", json={"input": {"q": "hi"}}).json()

    assert body["output"] == 1
