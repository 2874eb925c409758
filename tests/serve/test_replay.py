"""Resumable streams: reconnecting with Last-Event-ID replays the rest without a re-run."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from runnables import RunnableLambda
from runnables.serve import add_routes
from runnables.serve.replay import ReplayGoneError, RunStore, parse_event_id

Start = Callable[..., Any]  # the live_server fixture (tests/serve/conftest.py)
Parse = Callable[[str], list[dict[str, Any]]]
RESUMABLE = {"Resume-Grace": "30"}


class Gate:
    """A generator step that yields ``n`` words, the later ones only once released."""

    def __init__(self, n: int, release_after: int) -> None:
        self.n = n
        self.release_after = release_after
        self.runs = 0
        self.release = threading.Event()
        self.finished = threading.Event()
        self.cancelled = threading.Event()

    def step(self) -> RunnableLambda[str, str]:
        gate = self

        async def words(_: str) -> AsyncIterator[str]:
            gate.runs += 1
            try:
                for i in range(gate.n):
                    if i == gate.release_after:
                        while not gate.release.is_set():
                            await asyncio.sleep(0.005)
                    yield f"w{i} "
            except asyncio.CancelledError:
                gate.cancelled.set()
                raise
            gate.finished.set()

        return RunnableLambda(words)


def read_until(sock: socket.socket, marker: bytes) -> bytes:
    data = b""
    while marker not in data:
        got = sock.recv(65536)
        if not got:
            break
        data += got
    return data


def start_stream(url: str, path: str, grace: float | None = 30) -> socket.socket:
    """POST a stream on a plain socket; ``grace`` is sent as ``Resume-Grace`` (None: not)."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    body = b'{"input": "go"}'
    extra = f"Resume-Grace: {grace:g}\r\n" if grace is not None else ""
    sock.sendall(
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{extra}"
        f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    return sock


def last_id(raw: bytes, parse_sse: Parse) -> str:
    text = raw.decode().split("\r\n\r\n", 1)[1]  # past the HTTP headers
    # Chunked transfer encoding wraps the events; keep only complete SSE lines.
    ids: list[str] = [e["id"] for e in parse_sse(text) if e["id"]]
    return ids[-1]


def test_reconnecting_with_last_event_id_gets_the_rest_without_a_rerun(
    live_server: Start, parse_sse: Parse
) -> None:
    gate = Gate(n=6, release_after=3)
    app = FastAPI()
    add_routes(app, gate.step(), path="/g", resume_grace=30)
    url = live_server(app).url

    sock = start_stream(url, "/g/stream")
    seen = read_until(sock, b'"w2 "')
    resume_from = last_id(seen, parse_sse)
    sock.close()  # the connection drops mid-stream
    gate.release.set()
    run_id, seq = parse_event_id(resume_from) or ("", 0)

    response = httpx.get(f"{url}/g/stream/{run_id}", headers={"Last-Event-ID": resume_from})

    events = parse_sse(response.text)
    assert [e["id"] for e in events] == [
        f"{run_id}:{i}" for i in range(seq + 1, seq + 1 + len(events))
    ]
    assert [json.loads(e["data"]) for e in events if e["event"] == "data"] == ["w3 ", "w4 ", "w5 "]
    assert events[-1]["event"] == "end"
    assert gate.runs == 1


def test_posting_again_with_last_event_id_resumes_the_same_run(
    live_server: Start, parse_sse: Parse
) -> None:
    gate = Gate(n=4, release_after=2)
    app = FastAPI()
    add_routes(app, gate.step(), path="/g", resume_grace=30)
    url = live_server(app).url

    sock = start_stream(url, "/g/stream")
    resume_from = last_id(read_until(sock, b'"w1 "'), parse_sse)
    sock.close()
    gate.release.set()

    response = httpx.post(
        f"{url}/g/stream", json={"input": "ignored"}, headers={"Last-Event-ID": resume_from}
    )

    data = [json.loads(e["data"]) for e in parse_sse(response.text) if e["event"] == "data"]
    assert data == ["w2 ", "w3 "]
    assert gate.runs == 1


def test_a_finished_run_replays_from_the_start_without_an_id(
    live_server: Start, parse_sse: Parse
) -> None:
    app = FastAPI()
    add_routes(app, RunnableLambda(str.upper), path="/u")
    url = live_server(app).url

    first = parse_sse(
        httpx.post(f"{url}/u/stream_events", json={"input": "a"}, headers=RESUMABLE).text
    )
    run_id = json.loads(first[0]["data"])["run_id"]  # the root run's first event
    again = parse_sse(httpx.get(f"{url}/u/stream_events/{run_id}").text)

    assert again == first


def test_an_unknown_run_is_404(live_server: Start) -> None:
    app = FastAPI()
    add_routes(app, RunnableLambda(str.upper), path="/u")
    url = live_server(app).url

    response = httpx.get(f"{url}/u/stream/not-a-run", headers={"Last-Event-ID": "not-a-run:3"})

    assert response.status_code == 404
    assert "not-a-run" in response.json()["detail"]


def test_a_dropped_run_with_no_reconnect_is_cancelled_after_the_grace(
    live_server: Start, parse_sse: Parse
) -> None:
    gate = Gate(n=4, release_after=2)
    app = FastAPI()
    add_routes(app, gate.step(), path="/g", resume_grace=30)
    url = live_server(app).url

    sock = start_stream(url, "/g/stream", grace=0.2)
    seen = read_until(sock, b'"w1 "')
    sock.close()

    assert gate.cancelled.wait(10)
    assert not gate.finished.is_set()
    run_id, _ = parse_event_id(last_id(seen, parse_sse)) or ("", 0)
    # Nobody is left to read the abandoned run's events: they are not kept.
    assert httpx.get(f"{url}/g/stream/{run_id}").status_code == 404


# ---------------------------------------------------------------------- the buffer itself


def test_parse_event_id_reads_run_and_position() -> None:
    assert parse_event_id("abc-1:12") == ("abc-1", 12)
    assert parse_event_id("12") is None
    assert parse_event_id("abc:x") is None
    assert parse_event_id(None) is None


async def events(n: int, produced: list[int]) -> AsyncIterator[tuple[str, str | None]]:
    for i in range(n):
        produced.append(i)
        yield "data", str(i)
    yield "end", None


async def test_the_producer_waits_rather_than_drop_events_no_client_has_read() -> None:
    store = RunStore(max_events=4, resume_grace=30, retention=30)
    produced: list[int] = []
    run = store.start("r", events(100, produced))
    await asyncio.sleep(0.05)

    assert len(run.frames) == 4
    assert len(produced) <= 5  # held back: nothing has been read yet

    reader = run.read(-1)
    got = [await reader.__anext__() for _ in range(10)]
    await reader.aclose()
    assert b"id: r:9" in got[-1]
    await store.aclose(0)


async def test_reading_from_a_position_already_dropped_is_refused() -> None:
    store = RunStore(max_events=3, resume_grace=30, retention=30)
    run = store.start("r", events(10, []))
    reader = run.read(-1)
    async for _ in reader:
        pass
    assert run.first_seq > 0

    with pytest.raises(ReplayGoneError, match="no longer buffered"):
        await run.read(0).__anext__()
    await store.aclose(0)


async def test_a_reader_cancelled_while_waiting_leaves_the_other_readers_waiting() -> None:
    # Readers of one run wait for its next frame together; cancelling one (its
    # connection dropped) must neither wake nor cancel the others.
    store = RunStore(max_events=10, resume_grace=30, retention=30)
    release = asyncio.Event()

    async def held() -> AsyncIterator[tuple[str, str | None]]:
        yield "data", "1"
        await release.wait()
        yield "data", "2"

    run = store.start("r", held())
    first, second = run.read(-1), run.read(-1)
    assert b"data: 1" in await first.__anext__()
    assert b"data: 1" in await second.__anext__()
    leaving = asyncio.ensure_future(first.__anext__())
    staying = asyncio.ensure_future(second.__anext__())
    await asyncio.sleep(0.01)  # both wait for frame 2
    assert not leaving.done() and not staying.done()
    leaving.cancel()
    await asyncio.sleep(0.01)
    assert leaving.cancelled() and not staying.done()

    release.set()
    assert b"data: 2" in await asyncio.wait_for(staying, 5)
    await second.aclose()
    await store.aclose(0)


async def test_aclose_cancels_runs_that_outlive_the_grace() -> None:
    store = RunStore(max_events=10, resume_grace=30, retention=30)
    cancelled = asyncio.Event()

    async def forever() -> AsyncIterator[tuple[str, str | None]]:
        try:
            yield "data", "1"
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    store.start("r", forever())
    await asyncio.sleep(0.01)
    await store.aclose(0.05)

    assert cancelled.is_set()
    assert store.get("r") is None


# ---------------------------------------------------------------------- retention and caps


def test_a_finished_runs_events_expire_after_the_retention(
    live_server: Start, parse_sse: Parse
) -> None:
    app = FastAPI()
    add_routes(app, RunnableLambda(str.upper), path="/u", replay_retention=0.3)
    url = live_server(app).url

    first = parse_sse(httpx.post(f"{url}/u/stream", json={"input": "a"}, headers=RESUMABLE).text)
    run_id = json.loads(first[0]["data"])["run_id"]
    kept = httpx.get(f"{url}/u/stream/{run_id}")
    deadline = time.monotonic() + 10
    while (gone := httpx.get(f"{url}/u/stream/{run_id}")).status_code == 200:
        assert time.monotonic() < deadline, "the run's events were never dropped"
        time.sleep(0.05)

    assert kept.status_code == 200
    assert gone.status_code == 404 and "retention" in gone.json()["detail"]


def test_resuming_from_an_event_the_buffer_dropped_is_410(
    live_server: Start, parse_sse: Parse
) -> None:
    async def words(_: str) -> AsyncIterator[str]:
        for i in range(10):
            yield f"w{i}"

    app = FastAPI()
    add_routes(app, RunnableLambda(words), path="/w", replay_max_events=3)
    url = live_server(app).url

    events = parse_sse(httpx.post(f"{url}/w/stream", json={"input": "a"}, headers=RESUMABLE).text)
    run_id = json.loads(events[0]["data"])["run_id"]
    late = httpx.get(f"{url}/w/stream/{run_id}", headers={"Last-Event-ID": f"{run_id}:0"})
    recent = httpx.get(f"{url}/w/stream/{run_id}", headers={"Last-Event-ID": events[-2]["id"]})

    assert len(events) == 12  # metadata, ten chunks, end: all delivered as they came
    assert late.status_code == 410 and "no longer buffered" in late.json()["detail"]
    first = late.json()["first_event_id"]  # where the client can choose to resume from
    assert first.startswith(f"{run_id}:") and first in late.json()["detail"]
    assert [e["event"] for e in parse_sse(recent.text)] == ["end"]


async def test_past_max_runs_the_oldest_finished_run_is_dropped_first() -> None:
    store = RunStore(max_runs=3, resume_grace=30, retention=30)
    release = asyncio.Event()

    async def held() -> AsyncIterator[tuple[str, str | None]]:
        yield "data", "1"
        await release.wait()
        yield "end", None

    running = store.start("running", held())
    for name in ("old", "new"):
        run = store.start(name, events(1, []))
        async for _ in run.read(-1):
            pass
    store.start("newest", events(1, []))

    assert store.get("running") is running  # still going: never evicted
    assert store.get("old") is None
    assert store.get("new") is not None and store.get("newest") is not None
    release.set()
    await store.aclose(1)


async def big_events(n: int, size: int) -> AsyncIterator[tuple[str, str | None]]:
    for i in range(n):
        yield "data", json.dumps(f"{i}:" + "x" * size)
    yield "end", None


async def test_the_producer_waits_at_the_byte_cap_rather_than_drop_unread_events() -> None:
    # Far under max_events: the bytes alone hold the run back.
    store = RunStore(max_events=10_000, max_bytes=5_000, resume_grace=30, retention=30)
    run = store.start("r", big_events(100, 1_000))
    await asyncio.sleep(0.05)

    assert 1 <= len(run.frames) <= 5 and run.held_bytes <= 5_000
    assert run.held_bytes == sum(len(f) for f in run.frames)
    held = run.next_seq
    await asyncio.sleep(0.05)
    assert run.next_seq == held  # waiting for a reader, not dropping unread events

    reader = run.read(-1)
    got = [await reader.__anext__() for _ in range(101)]
    await reader.aclose()
    assert frame_ids(got) == list(range(101))  # every event, in order, none skipped
    assert run.held_bytes <= 5_000
    await store.aclose(0)


async def test_an_event_larger_than_the_byte_cap_is_held_alone_not_stalled_on() -> None:
    store = RunStore(max_bytes=100, resume_grace=30, retention=30)
    run = store.start("r", big_events(3, 500))
    got = [chunk async for chunk in run.read(-1)]

    assert frame_ids(got) == [0, 1, 2, 3]
    assert len(run.frames) == 1  # only the last event (end) is left
    await store.aclose(0)


def test_resuming_from_before_the_byte_cap_is_410_naming_the_first_event_held(
    live_server: Start, parse_sse: Parse
) -> None:
    async def words(_: str) -> AsyncIterator[str]:
        for i in range(10):
            yield f"{i}" * 400

    app = FastAPI()
    add_routes(app, RunnableLambda(words), path="/w", replay_max_bytes=2_000)
    url = live_server(app).url

    events = parse_sse(httpx.post(f"{url}/w/stream", json={"input": "a"}, headers=RESUMABLE).text)
    run_id = json.loads(events[0]["data"])["run_id"]
    late = httpx.get(f"{url}/w/stream/{run_id}", headers={"Last-Event-ID": f"{run_id}:1"})
    recent = httpx.get(f"{url}/w/stream/{run_id}", headers={"Last-Event-ID": events[-3]["id"]})

    assert len(events) == 12  # all delivered as they came: the cap only bounds the replay
    assert late.status_code == 410 and "2000 bytes" in late.json()["detail"]
    first = late.json()["first_event_id"]
    assert first.startswith(f"{run_id}:") and int(first.rpartition(":")[2]) > 2
    assert [e["event"] for e in parse_sse(recent.text)] == ["data", "end"]


@pytest.mark.parametrize("value", [0, -1, True])
def test_replay_max_bytes_must_be_positive_or_none(value: int) -> None:
    with pytest.raises(ValueError, match=f"replay_max_bytes must be .* got {value!r}"):
        RunStore(max_bytes=value)
    RunStore(max_bytes=None)  # no byte cap: allowed


def test_replay_max_runs_must_be_positive() -> None:
    with pytest.raises(ValueError, match="replay_max_runs must be at least 1"):
        RunStore(max_runs=0)


# ---------------------------------------------------------------------- no gaps


def frame_ids(frames: list[bytes]) -> list[int]:
    ids = []
    for raw in frames:
        for line in raw.decode().split("\r\n"):
            if line.startswith("id: "):
                ids.append(int(line.rpartition(":")[2]))
    return ids


async def test_a_resumed_reader_slower_than_the_old_connection_gets_a_410_never_a_gap() -> None:
    # The scenario at a bounded size: the client's old half-open connection is
    # still attached and takes every event as fast as the run makes them, while its
    # resumed connection reads more slowly. The buffer drops what the old one was sent.
    store = RunStore(max_events=16, resume_grace=30, retention=30)
    run = store.start("r", events(2_000, []))
    old = run.read(-1)
    resumed = run.read(-1)
    got: list[bytes] = []

    async def drain_old() -> None:
        async for _ in old:
            pass

    async def read_slowly() -> None:
        async for chunk in resumed:
            got.append(chunk)
            for _ in range(3):
                await asyncio.sleep(0)

    await asyncio.wait_for(asyncio.gather(drain_old(), read_slowly()), 30)

    ids = frame_ids(got)
    assert ids == list(range(len(ids))), "the resumed reader skipped events"
    last = got[-1].decode()
    if "event: end" not in last:
        assert "event: error" in last
        data = json.loads(last.split("data: ", 1)[1])
        assert data["status_code"] == 410
        assert data["first_event_id"].startswith("r:")
        assert int(data["first_event_id"].rpartition(":")[2]) > ids[-1] + 1
    await store.aclose(0)


def dechunk(body: bytes) -> bytes:
    """A chunked HTTP/1.1 body as the bytes it carries."""
    out = b""
    while body:
        size, _, body = body.partition(b"\r\n")
        n = int(size, 16)
        out += body[:n]
        body = body[n + 2 :]
    return out


def test_over_http_a_resumed_slow_reader_beside_the_old_connection_never_sees_a_gap(
    live_server: Start, parse_sse: Parse
) -> None:
    # The scenario over real sockets, at a bounded size: the old connection is
    # still attached and drained at full speed (as a half-open socket takes writes),
    # while the resumed one stalls, then reads. 4,000 events of 4 KB overflow the
    # socket buffers, so the resumed connection's writer falls behind.
    release = threading.Event()

    async def words(_: str) -> AsyncIterator[str]:
        for i in range(4_000):
            if i == 1:  # the rest once the resumed connection is attached
                while not release.is_set():
                    await asyncio.sleep(0.005)
            yield f"{i:05d}" + "x" * 4_000

    app = FastAPI()
    add_routes(app, RunnableLambda(words), path="/w", replay_max_events=16)
    url = live_server(app).url
    host, port = url.removeprefix("http://").split(":")

    old = start_stream(url, "/w/stream")
    head = b""
    while (found := re.search(rb"id: ([0-9a-f-]+):0\r\n", head)) is None:
        head += old.recv(65536)
    run_id = found.group(1).decode()
    drained = threading.Thread(target=lambda: read_until(old, b"event: end"), daemon=True)

    resumed = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    resumed.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    resumed.settimeout(30)
    resumed.connect((host, int(port)))
    resumed.sendall(
        f"GET /w/stream/{run_id} HTTP/1.1\r\nConnection: close\r\nHost: {host}\r\n"
        f"Last-Event-ID: {run_id}:0\r\n\r\n".encode()
    )
    raw = resumed.recv(256)  # the response has started: this reader is attached
    drained.start()
    release.set()
    time.sleep(1.0)  # the resumed reader stalls while the old connection takes everything
    while chunk := resumed.recv(1 << 20):
        raw += chunk
    drained.join(30)
    old.close()
    resumed.close()

    events = parse_sse(dechunk(raw.split(b"\r\n\r\n", 1)[1]).decode())
    ids = [int(e["id"].rpartition(":")[2]) for e in events if e["id"]]
    assert ids == list(range(1, len(ids) + 1)), "the resumed stream skipped events"
    last = events[-1]
    if last["event"] != "end":
        assert last["event"] == "error"
        error = json.loads(last["data"])
        assert error["status_code"] == 410 and error["first_event_id"].startswith(run_id)
