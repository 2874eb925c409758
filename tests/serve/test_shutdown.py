"""Graceful shutdown: open streams get shutdown_grace, then an error event; new runs 503."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from runnables import RunnableLambda
from runnables.models import FakeTimedChatModel
from runnables.serve import add_routes
from runnables.serve.shutdown import SHUTDOWN_MESSAGE, begin_shutdown

Start = Callable[..., Any]  # the live_server fixture (tests/serve/conftest.py)
Parse = Callable[[str], list[dict[str, Any]]]


class Cancelled:
    """A model sleep that records being cancelled (the upstream model call)."""

    def __init__(self) -> None:
        self.cancelled = threading.Event()

    async def sleep(self, seconds: float) -> None:
        try:
            await asyncio.sleep(seconds)
        except asyncio.CancelledError:
            self.cancelled.set()
            raise


def stream_through_shutdown(
    url: str, path: str, stop: Callable[[], None], headers: dict[str, str] | None = None
) -> tuple[list[str], float]:
    """Open a stream, call ``stop`` after its first data event, read it to its end.

    Returns the lines and the seconds from ``stop`` to the end of the stream.
    """
    lines: list[str] = []
    with httpx.stream(
        "POST", url + path, json={"input": "hi"}, headers=headers or {}, timeout=30
    ) as response:
        it = response.iter_lines()
        for line in it:
            lines.append(line)
            if line.startswith("event: data"):
                break
        started = time.monotonic()
        stopper = threading.Thread(target=stop)
        stopper.start()
        lines.extend(it)
        ended = time.monotonic() - started
    stopper.join(30)
    return lines, ended


def slow_model(probe: Cancelled) -> FakeTimedChatModel:
    # 40 words at 4 a second: about 10 s, far longer than the grace below.
    return FakeTimedChatModel([" ".join(["word"] * 40)], tokens_per_second=4, sleep=probe.sleep)


@pytest.mark.parametrize("headers", [{}, {"Resume-Grace": "5"}])
def test_a_stream_longer_than_the_grace_ends_with_a_503_error_event_in_time(
    live_server: Start, parse_sse: Parse, headers: dict[str, str]
) -> None:
    probe = Cancelled()
    app = FastAPI()
    add_routes(app, slow_model(probe), path="/chat", shutdown_grace=0.5)
    # uvicorn's own timeout is far away: only the routes' shutdown can end the stream.
    server = live_server(app, timeout_graceful_shutdown=30)

    def stop() -> None:
        begin_shutdown(app)  # from another thread, as a signal handler would
        server.stop(wait=30)

    lines, took = stream_through_shutdown(server.url, "/chat/stream", stop, headers)

    events = parse_sse("\n".join(lines) + "\n\n")
    assert events[-1]["event"] == "error"
    assert json.loads(events[-1]["data"]) == {"status_code": 503, "message": SHUTDOWN_MESSAGE}
    assert "shutting down" in SHUTDOWN_MESSAGE
    assert 0.4 < took < 0.5 + 2.0
    assert probe.cancelled.wait(5), "the model call was not cancelled"
    if headers:  # resumable: every event, the error too, has its id
        run_id = events[0]["id"].rpartition(":")[0]
        assert [e["id"] for e in events] == [f"{run_id}:{i}" for i in range(len(events))]
    else:
        assert [e["id"] for e in events] == [None] * len(events)


def test_a_stream_shorter_than_the_grace_finishes_normally(
    live_server: Start, parse_sse: Parse
) -> None:
    model = FakeTimedChatModel(["one two three four five"], tokens_per_second=20)
    app = FastAPI()
    add_routes(app, model, path="/chat", shutdown_grace=10)
    server = live_server(app, timeout_graceful_shutdown=30)

    def stop() -> None:
        begin_shutdown(app)
        server.stop(wait=30)

    lines, took = stream_through_shutdown(server.url, "/chat/stream", stop)

    events = parse_sse("\n".join(lines) + "\n\n")
    assert events[-1]["event"] == "end"
    text = "".join(json.loads(e["data"])["content"] for e in events if e["event"] == "data")
    assert text == "one two three four five"
    assert took < 5


def test_new_runs_during_shutdown_get_503_with_retry_after(live_server: Start) -> None:
    app = FastAPI()
    add_routes(app, RunnableLambda(str.upper), path="/u", retry_after=3)
    url = live_server(app).url
    assert httpx.post(f"{url}/u/invoke", json={"input": "a"}).status_code == 200

    begin_shutdown(app)  # the server itself keeps listening: the routes refuse
    invoke = httpx.post(f"{url}/u/invoke", json={"input": "a"})
    stream = httpx.post(f"{url}/u/stream", json={"input": "a"})

    assert invoke.status_code == stream.status_code == 503
    assert invoke.headers["retry-after"] == "3"
    assert "shutting down" in invoke.json()["detail"]


def test_begin_shutdown_for_one_app_leaves_the_others_serving(live_server: Start) -> None:
    stopping, other = FastAPI(), FastAPI()
    add_routes(stopping, RunnableLambda(str.upper), path="/u")
    add_routes(other, RunnableLambda(str.upper), path="/u")
    url_stopping = live_server(stopping).url
    url_other = live_server(other).url

    begin_shutdown(stopping)

    assert httpx.post(f"{url_stopping}/u/invoke", json={"input": "a"}).status_code == 503
    assert httpx.post(f"{url_other}/u/invoke", json={"input": "a"}).json()["output"] == "A"


def test_begin_shutdown_refuses_a_negative_grace() -> None:
    with pytest.raises(ValueError, match="-1"):
        begin_shutdown(FastAPI(), grace=-1)
