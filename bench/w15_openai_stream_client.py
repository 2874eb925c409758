"""W15: client CPU per streamed chunk, OpenAI-compatible streaming, four clients.

One process streams answers from the fake OpenAI server (``runnables.testing.
openai_server``, run in a *subprocess* so its CPU is not counted) with four clients:
runnables' ``ChatOpenAI.astream`` (message chunks built), raw ``httpx`` reading lines
and ``json.loads`` (the hand-written floor), the official ``openai`` SDK, and
langchain-openai's ``ChatOpenAI.astream``. CPU is ``time.process_time()`` of this
process divided by the events the server sent (content chunks, the finish chunk and
the usage chunk). Every client uses a loopback connection with ``trust_env=False``, so
no proxy from the environment is in the way.

Two shapes: ``burst`` (the server writes events as fast as it can: several arrive per
network read) and ``paced`` (one event every 2 ms per stream: about one per read, as
with a real model).

Target: runnables at most 15 µs of CPU per chunk.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from harness import Result, main

TARGET_US = 15.0


def _start_server(tokens: int, delay: float) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "runnables.testing.openai_server",
            "--tokens",
            str(tokens),
            "--chunk-delay",
            str(delay),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    port = int(proc.stdout.readline().split()[1])
    return proc, f"http://127.0.0.1:{port}/v1"


def _clients(base: str) -> dict[str, Callable[[], Callable[[], Awaitable[int]]] | None]:
    """Factories (called inside the measuring loop) of one-stream coroutines per client."""
    body = {
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }

    def ours() -> Callable[[], Awaitable[int]]:
        from runnables.providers.openai import ChatOpenAI

        model = ChatOpenAI(model="m", base_url=base)

        async def one() -> int:
            n = 0
            async for _ in model.astream("hi"):
                n += 1
            return n

        return one

    def raw() -> Callable[[], Awaitable[int]]:
        import httpx

        client = httpx.AsyncClient(trust_env=False, timeout=60)

        async def one() -> int:
            n = 0
            async with client.stream("POST", base + "/chat/completions", json=body) as resp:
                async for line in resp.aiter_lines():
                    if line.startswith("data: ") and line != "data: [DONE]":
                        json.loads(line[6:])
                        n += 1
            return n

        return one

    def sdk() -> Callable[[], Awaitable[int]]:
        import httpx
        import openai

        client = openai.AsyncOpenAI(
            base_url=base, api_key="x", http_client=httpx.AsyncClient(trust_env=False)
        )

        async def one() -> int:
            n = 0
            stream = await client.chat.completions.create(
                model="m",
                messages=[{"role": "user", "content": "hi"}],
                stream=True,
                stream_options={"include_usage": True},
            )
            async for _ in stream:
                n += 1
            return n

        return one

    def lc() -> Callable[[], Awaitable[int]]:
        import httpx
        from langchain_openai import ChatOpenAI as LcChatOpenAI

        model = LcChatOpenAI(
            model="m",
            base_url=base,
            api_key="x",  # type: ignore[arg-type]
            stream_usage=True,
            http_async_client=httpx.AsyncClient(trust_env=False),
        )

        async def one() -> int:
            n = 0
            async for _ in model.astream("hi"):
                n += 1
            return n

        return one

    out: dict[str, Any] = {"runnables": ours, "httpx+json": raw, "openai SDK": None}
    out["langchain-openai"] = None
    with contextlib.suppress(ImportError):
        import openai  # noqa: F401

        out["openai SDK"] = sdk
    with contextlib.suppress(ImportError):
        import langchain_openai  # noqa: F401

        out["langchain-openai"] = lc
    return out


def _measure(make: Callable[[], Callable[[], Awaitable[int]]], streams: int, conc: int) -> float:
    """CPU seconds for ``streams`` streams, ``conc`` at a time (after a warm-up)."""

    async def run() -> float:
        one = make()
        sem = asyncio.Semaphore(conc)

        async def limited() -> int:
            async with sem:
                return await one()

        await asyncio.gather(*(limited() for _ in range(min(conc, streams))))  # warm-up
        start = time.process_time()
        await asyncio.gather(*(limited() for _ in range(streams)))
        return time.process_time() - start

    return asyncio.run(run())


def _shape(name: str, tokens: int, delay: float, streams: int, conc: int, rounds: int) -> Result:
    proc, base = _start_server(tokens, delay)
    try:
        events = streams * (tokens + 2)  # content chunks + finish chunk + usage chunk
        figures: dict[str, float | None] = {}
        for client, make in _clients(base).items():
            if make is None:
                figures[client] = None
                continue
            best = min(_measure(make, streams, conc) for _ in range(rounds))
            figures[client] = best / events * 1e6
    finally:
        proc.terminate()
        proc.wait(5)
    rn = figures["runnables"]
    assert rn is not None
    ratios = {"rn/hand": rn / figures["httpx+json"]} if figures["httpx+json"] else {}
    if figures["openai SDK"]:
        ratios["sdk/rn"] = figures["openai SDK"] / rn
    if figures["langchain-openai"]:
        ratios["lc/rn"] = figures["langchain-openai"] / rn
    notes = [
        f"{name}: {streams} streams x {tokens} tokens, {conc} at a time, "
        f"chunk delay {delay * 1000:g} ms; best of {rounds}; CPU µs per chunk: "
        + ", ".join(
            f"{k} {v:.1f}" if v is not None else f"{k} not installed" for k, v in figures.items()
        )
    ]
    return Result(
        id="W15",
        title=f"OpenAI stream client CPU per chunk ({name})",
        unit="µs CPU/chunk",
        runnables=rn,
        hand=figures["httpx+json"],
        langchain=figures["langchain-openai"],
        target=f"rn ≤ {TARGET_US:g} µs",
        passed=rn <= TARGET_US,
        ratios=ratios,
        notes=notes,
    )


def run(quick: bool) -> list[Result]:
    """Measure W15 (``quick``: fewer, shorter streams, burst shape only)."""
    if quick:
        return [_shape("burst", 50, 0.0, 20, 10, 1)]
    return [
        _shape("burst", 200, 0.0, 200, 20, 3),
        _shape("paced", 100, 0.002, 100, 50, 2),
    ]


if __name__ == "__main__":
    main(run)
