"""W13: requests per second and latency of a trivial chain over HTTP (``POST /invoke``).

The same one-step chain (``RunnableLambda(lambda s: s.upper())``) is served three ways,
each by its own uvicorn process with the same settings (``--loop uvloop --http
httptools``, 1 worker, no access log), and loaded by the same generator:

- **runnables**: ``runnables.serve.add_routes(app, chain, path="/chain")``;
- **hand-written**: a bare FastAPI endpoint doing the same work with no framework
  (read the JSON body, call the function, answer ``{"output": ..., "metadata":
  {"run_id": ...}}``): the floor for this server stack;
- **LangServe**: ``langserve.add_routes`` on langchain-core's ``RunnableLambda``.

LangServe 0.3 runs from its own virtual environment, ``bench/.venvs/langserve``
(gitignored), so its dependencies never touch this project's: the full run creates it
on first use (``python -m venv`` then ``pip install 'langserve[server]==0.3.*'
'uvicorn[standard]'``, about a minute) and reuses it afterwards. pip resolves the
langchain-core that LangServe accepts; the version used is printed in the notes.

Load: ``wrk`` (``/usr/bin/wrk``, one thread, 50 connections, a Lua script for the POST
body) after a warm-up; requests/s and the p50/p99 latency it reports. Without wrk, a
small asyncio + httpx load generator in a separate process takes its place (the notes
say which ran). The servers and the load generator share the machine's cores, as
they would on one host.

Target: runnables serves at least 5x LangServe's requests per second.

``--quick`` measures one second per side and skips LangServe unless its environment
already exists (creating it takes a minute), comparing with the hand-written floor.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from harness import Result, main
from http_servers import ensure_langserve_venv, langserve_versions, uvicorn_server

TARGET = 5.0
CONNECTIONS = 50
BODY = {"input": "hello", "config": {}, "kwargs": {}}
EXPECTED = "HELLO"

LUA = """
wrk.method = "POST"
wrk.body = '%s'
wrk.headers["Content-Type"] = "application/json"
"""


# ---------------------------------------------------------------------- the three apps
# uvicorn imports these factories from this file (``--app-dir bench --factory``); each
# imports only its own side, so the LangServe one runs in LangServe's environment.


def _upper(s: str) -> str:
    return s.upper()


def runnables_app() -> Any:
    from fastapi import FastAPI

    from runnables import RunnableLambda
    from runnables.serve import add_routes

    app = FastAPI()
    add_routes(app, RunnableLambda(_upper), path="/chain")
    return app


def hand_app() -> Any:
    import uuid

    from fastapi import FastAPI, Request
    from starlette.responses import Response

    app = FastAPI()

    async def invoke(request: Request) -> Response:
        body = json.loads(await request.body())
        out = {"output": _upper(body["input"]), "metadata": {"run_id": str(uuid.uuid4())}}
        return Response(json.dumps(out), media_type="application/json")

    # FastAPI reads the annotation to inject the request; with postponed annotations it
    # would look "Request" up in this module's globals, where it is not imported.
    invoke.__annotations__["request"] = Request
    app.post("/chain/invoke")(invoke)
    return app


def langserve_app() -> Any:
    from fastapi import FastAPI
    from langchain_core.runnables import RunnableLambda
    from langserve import add_routes

    app = FastAPI()
    add_routes(app, RunnableLambda(_upper), path="/chain")
    return app


# ---------------------------------------------------------------------- checks


def check_output(url: str) -> None:
    import httpx

    answer = httpx.post(f"{url}/chain/invoke", json=BODY, timeout=30).json()
    if answer.get("output") != EXPECTED:
        raise RuntimeError(f"{url} answered {answer!r}, expected output {EXPECTED!r}.")


# ---------------------------------------------------------------------- load generators


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk_load(url: str, seconds: float, connections: int) -> dict[str, float]:
    """Requests/s, p50 and p99 (ms) from ``wrk`` POSTing ``BODY`` to ``url``."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(LUA % json.dumps(BODY))
        script = f.name
    try:
        out = subprocess.run(
            [
                "wrk",
                "-t1",
                f"-c{connections}",
                f"-d{max(1, round(seconds))}s",
                "--latency",
                "-s",
                script,
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(script)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    lat = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+(?:us|ms|s))$", out, re.M))
    p50 = re.match(r"([\d.]+)(us|ms|s)", lat["50"])
    p99 = re.match(r"([\d.]+)(us|ms|s)", lat["99"])
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"wrk got {errors.group(1)} error responses from {url}:\n{out}")
    return {
        "rps": rps,
        "p50": _ms(*p50.groups()),  # type: ignore[union-attr]
        "p99": _ms(*p99.groups()),  # type: ignore[union-attr]
    }


HTTPX_LOAD = r"""
import asyncio, json, sys, time
import httpx

async def main(url, seconds, connections, body):
    lat = []
    async with httpx.AsyncClient(
        limits=httpx.Limits(max_connections=connections), trust_env=False
    ) as client:
        end = time.perf_counter() + seconds
        async def worker():
            while time.perf_counter() < end:
                t = time.perf_counter()
                r = await client.post(url, content=body,
                                      headers={"Content-Type": "application/json"})
                r.raise_for_status()
                lat.append(time.perf_counter() - t)
        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        took = time.perf_counter() - start
    lat.sort()
    print(json.dumps({"rps": len(lat) / took, "p50": lat[len(lat) // 2] * 1000,
                      "p99": lat[int(len(lat) * 0.99)] * 1000}))

asyncio.run(main(sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4].encode()))
"""


def httpx_load(url: str, seconds: float, connections: int) -> dict[str, float]:
    """The fallback load generator: asyncio + httpx in a separate process."""
    out = subprocess.run(
        [sys.executable, "-c", HTTPX_LOAD, url, str(seconds), str(connections), json.dumps(BODY)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return dict(json.loads(out))


def load(url: str, seconds: float, connections: int) -> dict[str, float]:
    if shutil.which("wrk"):
        return wrk_load(url, seconds, connections)
    return httpx_load(url, seconds, connections)


def measure(python: str | Path, factory: str, seconds: float, rounds: int) -> dict[str, float]:
    """The best round's figures for one side (after a warm-up of about a second)."""
    with uvicorn_server(python, Path(__file__).stem, factory) as server:
        url = server.url
        check_output(url)
        load(f"{url}/chain/invoke", 1, CONNECTIONS)  # warm-up
        best: dict[str, float] | None = None
        for _ in range(rounds):
            got = load(f"{url}/chain/invoke", seconds, CONNECTIONS)
            if best is None or got["rps"] > best["rps"]:
                best = got
        assert best is not None
        return best


# ---------------------------------------------------------------------- the workload


def run(quick: bool) -> list[Result]:
    seconds, rounds = (1.0, 1) if quick else (4.0, 2)
    generator = (
        f"wrk -t1 -c{CONNECTIONS}"
        if shutil.which("wrk")
        else f"asyncio+httpx, {CONNECTIONS} connections"
    )
    rn = measure(sys.executable, "runnables_app", seconds, rounds)
    hand = measure(sys.executable, "hand_app", seconds, rounds)
    notes = [
        f"POST /chain/invoke of a one-step chain; uvicorn --loop uvloop --http httptools, "
        f"1 worker, no access log; load: {generator}, {seconds:g} s per round, best of "
        f"{rounds} after a 1 s warm-up.",
        f"latency p50/p99: runnables {rn['p50']:.2f}/{rn['p99']:.2f} ms, hand-written "
        f"(bare FastAPI) {hand['p50']:.2f}/{hand['p99']:.2f} ms",
    ]
    python = ensure_langserve_venv(create=not quick)
    ls: dict[str, float] | None = None
    if python is None:
        notes.append(
            "LangServe not measured in --quick: its environment (bench/.venvs/langserve) "
            "does not exist yet; the full run creates it."
        )
    else:
        ls = measure(python, "langserve_app", seconds, rounds)
        notes.append(
            f"LangServe ({langserve_versions(python)}, from bench/.venvs/langserve): "
            f"p50/p99 {ls['p50']:.2f}/{ls['p99']:.2f} ms"
        )
    ratios = {"rn/hand": rn["rps"] / hand["rps"]}
    if ls is not None:
        ratios = {"rn/langserve": rn["rps"] / ls["rps"], **ratios}
    return [
        Result(
            id="W13",
            title="HTTP invoke, requests/s",
            unit="req/s",
            runnables=rn["rps"],
            hand=hand["rps"],
            langchain=ls["rps"] if ls is not None else None,
            target=f"rn/langserve ≥ {TARGET:g}x",
            passed=(rn["rps"] / ls["rps"] >= TARGET) if ls is not None else None,
            ratios=ratios,
            notes=notes,
        )
    ]


if __name__ == "__main__":
    main(run)
