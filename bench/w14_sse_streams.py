"""W14: 1,000 concurrent SSE streams of 200 chunks each, from the timed test model.

The same chain, a timed chat model (200 tokens at ``TOKENS_PER_SECOND``, so a stream
lasts about four seconds and all of them are open at once) piped into a string parser,
is served over ``POST /chain/stream`` three ways, each by its own uvicorn process with
W13's settings (``--loop uvloop --http httptools``, 1 worker, no access log):

- **runnables**: ``add_routes(app, FakeTimedChatModel(...) | StrOutputParser())`` with
  its defaults. A client that may want to resume sends ``Resume-Grace``, and then every
  event also goes to the run's replay buffer: that variant is measured too and reported
  in the notes ("runnables, resumable");
- **hand-written**: a bare FastAPI ``StreamingResponse`` over an async generator that
  sleeps on the same schedule and writes LangServe-shaped frames itself (``metadata``,
  one ``data`` per token, ``end``): the floor for this server stack;
- **LangServe**: ``langserve.add_routes`` on a langchain-core chat model that sleeps on
  the same schedule (``_astream``), piped into langchain-core's ``StrOutputParser``; it
  runs from W13's environment, ``bench/.venvs/langserve``, with 200 streams rather
  than 1,000 (it cannot keep up with either; at 1,000 it takes two minutes).

The client is a fresh process per side (``--client``): one raw HTTP/1.1 connection per
stream on asyncio (no HTTP library, so the client costs little of the two cores it
shares with the server), all opened at once. Every stream must answer 200 and bring
``metadata``, exactly 200 ``data`` events and ``end``, and no ``error``; any other
outcome fails the workload.
While the streams run, the server's resident memory is sampled every 20 ms.

Reported: chunks per second delivered over all streams (every ``data`` event received,
divided by the time from the first request to the last ``end``), and memory per open
stream (the server's peak RSS during the run, less its RSS after a warm-up, divided by
the most streams open at once). Target: every stream completes with no error.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import Result, main
from http_servers import ensure_langserve_venv, langserve_versions, uvicorn_server

STREAMS = 1000
#: LangServe serves about 1,700 chunks/s here, so 1,000 streams would take two minutes;
#: it runs 200 (still more than it keeps up with, so its rate is its ceiling too).
LANGSERVE_STREAMS = 200
TOKENS = 200
TOKENS_PER_SECOND = 50.0
QUICK = {"streams": 50, "tokens": 20, "tokens_per_second": 100.0}


def _text(tokens: int) -> str:
    """Words each followed by a space: ``tokens`` tokens for the timed model (words and
    the whitespace between them are tokens), so ``tokens`` ``data`` events on every side."""
    return "".join(f"w{i} " for i in range(tokens // 2))


def _schedule() -> tuple[str, float]:
    """The response and its rate; uvicorn's factories read them from the environment."""
    import os

    tokens = int(os.environ.get("W14_TOKENS", TOKENS))
    return _text(tokens), float(os.environ.get("W14_TPS", TOKENS_PER_SECOND))


# ---------------------------------------------------------------------- the three apps
# uvicorn imports these factories from this file (``--app-dir bench --factory``).


def runnables_app() -> Any:
    from fastapi import FastAPI

    from runnables import StrOutputParser
    from runnables.models import FakeTimedChatModel
    from runnables.serve import add_routes

    text, tps = _schedule()
    app = FastAPI()
    model = FakeTimedChatModel([text], tokens_per_second=tps)
    add_routes(app, model | StrOutputParser(), path="/chain")
    return app


def hand_app() -> Any:
    import uuid
    from collections.abc import AsyncIterator

    from fastapi import FastAPI
    from starlette.responses import StreamingResponse

    text, tps = _schedule()
    tokens = [t for t in text.replace(" ", "\0 \0").split("\0") if t]
    gap = 1.0 / tps

    async def frames() -> AsyncIterator[bytes]:
        run_id = str(uuid.uuid4())
        yield f'event: metadata\r\ndata: {{"run_id":"{run_id}"}}\r\n\r\n'.encode()
        for n, token in enumerate(tokens):
            if n:
                await asyncio.sleep(gap)
            yield f"event: data\r\ndata: {json.dumps(token)}\r\n\r\n".encode()
        yield b"event: end\r\n\r\n"

    app = FastAPI()

    @app.post("/chain/stream")
    async def stream() -> StreamingResponse:
        return StreamingResponse(frames(), media_type="text/event-stream")

    return app


def langserve_app() -> Any:
    from collections.abc import AsyncIterator

    from fastapi import FastAPI
    from langchain_core.language_models.chat_models import BaseChatModel
    from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
    from langserve import add_routes

    text, tps = _schedule()
    tokens = [t for t in text.replace(" ", "\0 \0").split("\0") if t]
    gap = 1.0 / tps

    class TimedChatModel(BaseChatModel):
        """langchain-core's side of FakeTimedChatModel: one token every ``gap`` s."""

        @property
        def _llm_type(self) -> str:
            return "timed-fake"

        def _generate(self, messages: list[BaseMessage], *a: Any, **k: Any) -> ChatResult:
            return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

        async def _astream(
            self, messages: list[BaseMessage], *a: Any, **k: Any
        ) -> AsyncIterator[ChatGenerationChunk]:
            for n, token in enumerate(tokens):
                if n:
                    await asyncio.sleep(gap)
                yield ChatGenerationChunk(message=AIMessageChunk(content=token))

    app = FastAPI()
    add_routes(app, TimedChatModel() | StrOutputParser(), path="/chain")
    return app


# ---------------------------------------------------------------------- the client


class StreamError(Exception):
    """A stream that did not answer 200 with metadata, every data event and end."""


@dataclass
class Tally:
    """What the client saw across all streams."""

    open: int = 0
    peak_open: int = 0
    chunks: int = 0


BODY = json.dumps({"input": "hi", "config": {}, "kwargs": {}}).encode()


async def one_stream(port: int, tokens: int, tally: Tally, extra: bytes = b"") -> None:
    """POST one stream request and read it to ``end``, checking every event."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(
            b"POST /chain/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nAccept: text/event-stream\r\n"
            + extra
            + b"Content-Length: "
            + str(len(BODY)).encode()
            + b"\r\n\r\n"
            + BODY
        )
        status = await reader.readline()
        if b" 200 " not in status:
            raise StreamError(f"status line {status!r}")
        chunked = False
        while (line := await reader.readline()) not in (b"\r\n", b""):
            if line.lower().startswith(b"transfer-encoding:") and b"chunked" in line.lower():
                chunked = True
        tally.open += 1
        tally.peak_open = max(tally.peak_open, tally.open)
        try:
            events = await _read_events(reader, chunked, tally)
        finally:
            tally.open -= 1
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    data = events.count("data")
    if events[:1] != ["metadata"] or events[-1:] != ["end"] or data != tokens:
        others = sorted(set(events) - {"metadata", "data", "end"})
        raise StreamError(
            f"{data} data events of {tokens}; first/last {events[:1]}/"
            f"{events[-1:]}; other events {others}"
        )


async def _read_events(reader: asyncio.StreamReader, chunked: bool, tally: Tally) -> list[str]:
    """The SSE event names of one response body, up to ``end`` (or the body's end).

    A ``data`` event whose data is the empty string is left out: langchain-core's chat
    models end their stream with an empty chunk, which LangServe sends on; it is no token.
    """
    events: list[str] = []
    buffer = b""
    while True:
        if chunked:
            size = int((await reader.readline()).split(b";")[0], 16)
            if size == 0:
                break
            piece = await reader.readexactly(size + 2)
            buffer += piece[:-2]
        else:
            piece = await reader.read(65536)
            if not piece:
                break
            buffer += piece
        *done, buffer = buffer.split(b"\r\n\r\n")
        for block in done:
            lines = block.split(b"\r\n")
            name = next((x[7:].decode() for x in lines if x.startswith(b"event: ")), "")
            if name == "data" and b'data: ""' in lines:
                continue  # langchain-core's models end with an empty chunk: not a token
            events.append(name)
            if name == "data":
                tally.chunks += 1
        if events and events[-1] in ("end", "error"):
            break
    return events


def rss_bytes(pid: int) -> int:
    """The resident set size of process ``pid`` (Linux ``/proc``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS in /proc/{pid}/status")


async def load(
    port: int, pid: int, streams: int, tokens: int, extra: bytes = b""
) -> dict[str, Any]:
    """Run ``streams`` streams at once; chunks/s, memory per open stream, failures."""
    warm = Tally()
    await asyncio.gather(*(one_stream(port, tokens, warm, extra) for _ in range(10)))
    await asyncio.sleep(0.3)  # let the server settle (its replay buffers expire later)
    baseline = rss_bytes(pid)
    peak = baseline
    tally = Tally()
    done = asyncio.Event()

    async def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, rss_bytes(pid))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), 0.02)

    sampler = asyncio.create_task(sample())
    start = time.perf_counter()
    outcomes = await asyncio.gather(
        *(one_stream(port, tokens, tally, extra) for _ in range(streams)),
        return_exceptions=True,
    )
    took = time.perf_counter() - start
    done.set()
    await sampler
    failures = [o for o in outcomes if isinstance(o, BaseException)]
    return {
        "streams": streams,
        "chunks_per_s": tally.chunks / took,
        "seconds": took,
        "kib_per_stream": (peak - baseline) / 1024 / max(1, tally.peak_open),
        "peak_open": tally.peak_open,
        "failures": len(failures),
        "first_failure": repr(failures[0]) if failures else "",
    }


def measure(
    python: str, factory: str, streams: int, tokens: int, tps: float, extra: bytes = b""
) -> dict[str, Any]:
    """One side's figures; ``extra`` is added to every request's headers.

    The client runs in a fresh process of its own (``--client``), not in the harness's:
    ``bench/run.py`` runs W1-W13 in the harness's process first, with the tree under
    test, and the client shares two cores with the server, so in that process its cost
    could depend on what those workloads left behind rather than on the server.
    """
    env = {"W14_TOKENS": str(tokens), "W14_TPS": str(tps)}
    with uvicorn_server(python, Path(__file__).stem, factory, env=env) as server:
        args = [server.port, server.pid, streams, tokens, extra.decode("latin-1")]
        done = subprocess.run(
            [sys.executable, __file__, "--client", json.dumps(args)],
            capture_output=True,
            text=True,
            check=False,
        )
    if done.returncode != 0:
        raise RuntimeError(f"the W14 client failed ({done.returncode}):\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


def _client(argument: str) -> None:
    """``python bench/w14_sse_streams.py --client '[port, pid, streams, tokens, extra]'``:
    one side's load, its figures printed as one JSON line."""
    port, pid, streams, tokens, extra = json.loads(argument)
    _raise_fd_limit(2 * streams + 256)
    print(json.dumps(asyncio.run(load(port, pid, streams, tokens, extra.encode("latin-1")))))


def _raise_fd_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(needed, hard), hard))


# ---------------------------------------------------------------------- the workload


def run(quick: bool) -> list[Result]:
    streams, tokens, tps = (
        (QUICK["streams"], QUICK["tokens"], QUICK["tokens_per_second"])
        if quick
        else (STREAMS, TOKENS, TOKENS_PER_SECOND)
    )
    _raise_fd_limit(2 * streams + 256)  # the servers inherit it
    sides: dict[str, dict[str, Any]] = {
        "runnables": measure(sys.executable, "runnables_app", streams, int(tokens), tps),
        "runnables, resumable": measure(
            sys.executable, "runnables_app", streams, int(tokens), tps, b"Resume-Grace: 5\r\n"
        ),
        "hand-written": measure(sys.executable, "hand_app", streams, int(tokens), tps),
    }
    python = ensure_langserve_venv(create=not quick)
    if python is not None:
        ls_streams = streams if quick else LANGSERVE_STREAMS
        sides["LangServe"] = measure(python, "langserve_app", ls_streams, int(tokens), tps)
    rn, hand, ls = sides["runnables"], sides["hand-written"], sides.get("LangServe")
    ideal = streams * tokens / ((tokens - 1) / tps)
    notes = [
        f"{streams} streams opened at once, {int(tokens)} data events each at "
        f"{tps:g} tokens/s (ideal {ideal:,.0f} chunks/s if no stream fell behind); "
        "POST /chain/stream; uvicorn --loop uvloop --http httptools, 1 worker; "
        "client: raw asyncio connections in a fresh process per side.",
    ]
    for name, side in sides.items():
        notes.append(
            f"{name}: {side['chunks_per_s']:,.0f} chunks/s, "
            f"{side['seconds']:.2f} s for {side['streams']} streams, "
            f"at most {side['peak_open']} "
            f"open at once, {side['kib_per_stream']:.1f} KiB per open stream, "
            f"{side['failures']} failed"
            + (f" (first: {side['first_failure']})" if side["failures"] else "")
        )
    if python is None:
        notes.append("LangServe not measured in --quick: bench/.venvs/langserve does not exist.")
    else:
        notes.append(f"LangServe: {langserve_versions(python)}, from bench/.venvs/langserve")
    ok = all(side["failures"] == 0 for side in sides.values())
    rate_ratios = {"rn/hand": rn["chunks_per_s"] / hand["chunks_per_s"]}
    memory_ratios = {"rn/hand": rn["kib_per_stream"] / max(hand["kib_per_stream"], 1e-9)}
    if ls is not None:
        rate_ratios = {"rn/langserve": rn["chunks_per_s"] / ls["chunks_per_s"], **rate_ratios}
        memory_ratios = {
            "langserve/rn": ls["kib_per_stream"] / max(rn["kib_per_stream"], 1e-9),
            **memory_ratios,
        }
    return [
        Result(
            id="W14",
            title=f"{streams:,} SSE streams x {int(tokens)} chunks",
            unit="chunks/s",
            runnables=rn["chunks_per_s"],
            hand=hand["chunks_per_s"],
            langchain=ls["chunks_per_s"] if ls is not None else None,
            target="every stream completes, no error",
            passed=rn["failures"] == 0 and sides["runnables, resumable"]["failures"] == 0,
            ratios=rate_ratios,
            notes=notes if ok else [*notes, "a side had failed streams: see above"],
        ),
        Result(
            id="W14",
            title="memory per open SSE stream",
            unit="KiB/stream",
            runnables=rn["kib_per_stream"],
            hand=hand["kib_per_stream"],
            langchain=ls["kib_per_stream"] if ls is not None else None,
            target="report",
            passed=None,
            ratios=memory_ratios,
        ),
    ]


if __name__ == "__main__":
    if sys.argv[1:2] == ["--client"]:
        _client(sys.argv[2])
    else:
        main(run)
