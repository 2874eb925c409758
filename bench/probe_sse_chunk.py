"""Probe (not a workload): the server's CPU per streamed chunk on W14's path, in-process.

W14 measures chunks per second over real sockets with 1,000 streams sharing two cores
with the client, so a 10% change in the server's cost per chunk hides in its noise.
This drives the same ASGI app (``w14_sse_streams.runnables_app``: ``add_routes`` on
``FakeTimedChatModel | StrOutputParser``, ``POST /chain/stream``) with no server and
no sockets: ``STREAMS`` requests at once, each read to its last frame by an in-memory
``send``, under uvloop as W14's uvicorn runs it. The model's sleeps are a microsecond,
so the loop still parks every stream between tokens (as in W14) but nothing waits.
What is left is the route's own work per chunk: the chain's ``astream``, the wire
encoding, the SSE response and, with ``--resumable``, the replay buffer.

Two measures, both per ``data`` frame delivered:

- CPU time (``time.process_time``), best of ``--rounds`` rounds (default 7) of
  ``STREAMS`` streams; the best is the round least disturbed by other processes;
- ``--calls``: the Python function calls per chunk counted by ``cProfile`` in one round,
  which do not depend on the machine's load at all (the same on every run), and the
  functions that make the most of them.

Compare source trees with ``PYTHONPATH``::

    PYTHONPATH=/tmp/before/src python bench/probe_sse_chunk.py [--resumable] [--calls]
    PYTHONPATH=src python bench/probe_sse_chunk.py [--resumable] [--calls]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import json
import os
import pstats
import sys
import time
from collections.abc import Callable
from typing import Any

from http_servers import post_scope

STREAMS = 100
TOKENS = 200
BODY = json.dumps({"input": "hi", "config": {}, "kwargs": {}}).encode()


class Tally:
    """Frames delivered across all streams of a round."""

    def __init__(self) -> None:
        self.data = 0
        self.ends = 0


async def one_stream(app: Any, tally: Tally, resumable: bool) -> None:
    """One ``POST /chain/stream`` through the ASGI app, read to its final body message."""
    extra = [(b"accept", b"text/event-stream")]
    if resumable:
        extra.append((b"resume-grace", b"5"))
    scope = post_scope("/chain/stream", BODY, *extra)
    sent_body = False
    finished = asyncio.Event()

    async def receive() -> dict[str, Any]:
        nonlocal sent_body
        if not sent_body:
            sent_body = True
            return {"type": "http.request", "body": BODY, "more_body": False}
        await finished.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            if message["status"] != 200:
                raise RuntimeError(f"status {message['status']}")
            return
        body = message.get("body", b"")
        if body.startswith(b"event: data") or b"\nevent: data" in body:
            tally.data += body.count(b"event: data")
        if b"event: end" in body:
            tally.ends += 1
        if not message.get("more_body", False):
            finished.set()

    await app(scope, receive, send)


async def one_round(app: Any, streams: int, resumable: bool) -> Tally:
    tally = Tally()
    await asyncio.gather(*(one_stream(app, tally, resumable) for _ in range(streams)))
    if tally.ends != streams or tally.data != streams * TOKENS:
        raise RuntimeError(
            f"{tally.data} data frames and {tally.ends} ends for {streams} streams of "
            f"{TOKENS} tokens: the route did not stream what W14 expects."
        )
    return tally


def _run(coro_factory: Callable[[], Any]) -> Any:
    import uvloop

    return uvloop.run(coro_factory())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resumable", action="store_true", help="send Resume-Grace: 5")
    parser.add_argument("--calls", action="store_true", help="count calls with cProfile")
    parser.add_argument(
        "--once", action="store_true", help="one untimed round (to run under callgrind)"
    )
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--streams", type=int, default=STREAMS)
    args = parser.parse_args()
    os.environ["W14_TOKENS"] = str(TOKENS)
    os.environ["W14_TPS"] = "1000000"  # a microsecond between tokens: parked, not waiting
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import runnables
    import w14_sse_streams

    app = w14_sse_streams.runnables_app()
    chunks = args.streams * TOKENS

    in_gc = [0.0, 0.0]  # CPU seconds in the collector; when the running one started
    collections = [0, 0, 0]
    timing = [False]

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if not timing[0]:
            return  # the explicit collection between rounds
        if phase == "start":
            in_gc[1] = time.process_time()
        else:
            in_gc[0] += time.process_time() - in_gc[1]
            collections[info["generation"]] += 1

    async def measure() -> list[float]:
        await one_round(app, 10, args.resumable)  # warm-up: imports, caches
        spent = []
        for _ in range(args.rounds):
            gc.collect()
            timing[0] = True
            start = time.process_time()
            await one_round(app, args.streams, args.resumable)
            spent.append(time.process_time() - start)
            timing[0] = False
        return spent

    async def profile() -> cProfile.Profile:
        await one_round(app, 10, args.resumable)
        gc.collect()
        prof = cProfile.Profile()
        prof.enable()
        await one_round(app, args.streams, args.resumable)
        prof.disable()
        return prof

    where = os.path.dirname(os.path.dirname(runnables.__file__))
    side = "resumable" if args.resumable else "plain"
    if args.once:
        # Warm up on asyncio's own loop, then one round on uvloop: under callgrind,
        # ``--collect-atstart=no --toggle-collect='*Loop_*run_forever'`` counts the
        # round alone (the imports and the warm-up run outside uvloop's run_forever).
        asyncio.run(one_round(app, 10, args.resumable))
        _run(lambda: one_round(app, args.streams, args.resumable))
        return
    if args.calls:
        stats = pstats.Stats(_run(profile))
        total = sum(row[1] for row in stats.stats.values())  # type: ignore[attr-defined]
        print(f"{where} {side}: {total / chunks:.1f} Python calls per chunk")
        top = sorted(stats.stats.items(), key=lambda kv: -kv[1][1])[:25]  # type: ignore[attr-defined]
        for (file, line, name), row in top:
            short = "/".join(file.split("/")[-2:])
            print(f"  {row[1] / chunks:7.2f}  {short}:{line} {name}")
        return
    gc.callbacks.append(on_gc)
    spent = _run(measure)
    best, median = min(spent), sorted(spent)[len(spent) // 2]
    print(
        f"{where} {side}: {best / chunks * 1e6:.2f} µs CPU per chunk (best of "
        f"{len(spent)}; median {median / chunks * 1e6:.2f}), {args.streams} streams x "
        f"{TOKENS} chunks; in the collector {in_gc[0] / sum(spent) * 100:.0f}% of it, "
        f"collections per round by generation {[round(c / len(spent)) for c in collections]}"
    )


if __name__ == "__main__":
    main()
