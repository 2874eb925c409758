"""W18: ``run_batch(engine="ray")`` on a local Ray cluster of 2 CPUs, against the local run.

Three figures (issue #10 §3):

- rows/s of the same file job (each row's step awaits ``delay``) on the local engine and
  on Ray with two actors; the driver reads and writes as locally, the rows go to the
  actors in chunks;
- Ray's fixed start-up cost: ``ray.init`` of a local cluster, and a one-row job (its
  actors started and the chain shipped to them), each timed once;
- the cluster-wide rate: the job at ``rpm`` = 2,000 requests/s across both actors (each
  alone could go faster): rows/s (target >= 1,900) and the busiest 1 s window of step
  start times (target <= 2,040);
- W18c, the Ray Serve recipe (examples/ray_serve.py: runnables' ``add_routes`` app as a
  Ray Serve ingress) against the same app as ``runnables serve`` runs it, under W13's
  load generator (wrk, 50 connections); needs ``ray[serve]``; not in ``--quick``.

The *hand-written* column holds each figure's baseline: the local engine (W18), the
local engine under a local ``RateLimiter`` of the same rate (W18b), ``runnables serve``
(W18c).

Needs the ``ray`` extra. Not a ratio against langchain-core (it has no such job).
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from harness import Result, main


def write_rows(path: Path, rows: int) -> Path:
    with path.open("w") as f:
        for i in range(rows):
            f.write(f'{{"id":"r{i}","n":{i}}}\n')
    return path


def stamps_of(path: Path) -> list[float]:
    return [json.loads(line)["output"] for line in path.read_text().splitlines()]


def steady_rate(path: Path) -> float:
    """Rows a second between the first and the last row's finish (start-up apart)."""
    stamps = stamps_of(path)
    return (len(stamps) - 1) / (max(stamps) - min(stamps))


def worst_window(times: list[float], width: float = 1.0) -> int:
    times = sorted(times)
    start = worst = 0
    for end, t in enumerate(times):
        while times[start] <= t - width:
            start += 1
        worst = max(worst, end - start + 1)
    return worst


def measure(quick: bool) -> list[Result]:
    import ray

    from runnables import RunnableLambda
    from runnables.batch import run_batch

    rows, delay, window = (5_000, 0.005, 128) if quick else (60_000, 0.02, 256)
    rate, rate_rows = 2_000, (4_000 if quick else 20_000)

    async def step(row: dict[str, Any]) -> float:
        await asyncio.sleep(delay)
        return time.time()

    async def stamp(row: dict[str, Any]) -> float:
        return time.time()

    # The workers cannot import this file: its functions travel by value.
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    chain, stamped = RunnableLambda(step), RunnableLambda(stamp)
    with tempfile.TemporaryDirectory() as tmp:
        src = write_rows(Path(tmp) / "in.jsonl", rows)
        one = write_rows(Path(tmp) / "one.jsonl", 1)
        start = time.perf_counter()
        asyncio.run(run_batch(chain, src, Path(tmp) / "local.jsonl", max_concurrency=window))
        local_wall = time.perf_counter() - start
        local_steady = steady_rate(Path(tmp) / "local.jsonl")

        # The baseline for the budget: the local engine under a local limiter of the
        # same rate (what one machine does without a cluster).
        rate_src = write_rows(Path(tmp) / "rate.jsonl", rate_rows)
        local_rate_out = Path(tmp) / "rate-local.out"
        asyncio.run(
            run_batch(stamped, rate_src, local_rate_out, max_concurrency=256, rpm=rate * 60)
        )
        local_stamps = stamps_of(local_rate_out)

        start = time.perf_counter()
        ray.init(
            num_cpus=2,
            include_dashboard=False,
            log_to_driver=False,
            object_store_memory=100 * 2**20,
        )
        init_cost = time.perf_counter() - start
        try:
            start = time.perf_counter()
            asyncio.run(run_batch(chain, one, Path(tmp) / "one.out", engine="ray", actors=2))
            job_start_cost = time.perf_counter() - start

            start = time.perf_counter()
            asyncio.run(
                run_batch(
                    chain,
                    src,
                    Path(tmp) / "ray.jsonl",
                    max_concurrency=window,
                    engine="ray",
                    actors=2,
                )
            )
            ray_wall = time.perf_counter() - start
            ray_steady = steady_rate(Path(tmp) / "ray.jsonl")

            rate_out = Path(tmp) / "rate.out"
            start = time.perf_counter()
            asyncio.run(
                run_batch(
                    stamped,
                    rate_src,
                    rate_out,
                    max_concurrency=256,
                    rpm=rate * 60,
                    engine="ray",
                    actors=2,
                )
            )
            rate_wall = time.perf_counter() - start
            stamps = stamps_of(rate_out)
        finally:
            ray.shutdown()
    local_rps, ray_rps = rows / local_wall, rows / ray_wall
    # Steady rate: between the first and the last step (the job's own start-up apart).
    steady = (len(stamps) - 1) / (max(stamps) - min(stamps))
    worst = worst_window(stamps)
    local_steady_rate = (len(local_stamps) - 1) / (max(local_stamps) - min(local_stamps))
    ideal = window / delay
    return [
        Result(
            id="W18",
            title=(
                f"batch job on Ray (2 actors), local engine as hand, {rows:,} rows x "
                f"{delay * 1000:.0f} ms"
            ),
            unit="rows/s",
            runnables=ray_steady,
            hand=local_steady,
            langchain=None,
            ratios={"ray/local": ray_steady / local_steady, "ray/local job": ray_rps / local_rps},
            target="report",
            passed=None,
            notes=[
                f"steady rows/s (first to last row's finish): local {local_steady:,.0f}, "
                f"Ray {ray_steady:,.0f}; whole job: local {local_rps:,.0f} rows/s "
                f"({local_wall:.2f} s), Ray {ray_rps:,.0f} rows/s ({ray_wall:.2f} s, its "
                f"actors' start included); max_concurrency {window} (per actor on Ray); "
                f"one process's ideal {ideal:,.0f} rows/s",
                f"Ray fixed cost: ray.init of a local 2-CPU cluster {init_cost:.2f} s, "
                f"then a one-row job (actors started, chain shipped) {job_start_cost:.2f} s",
            ],
        ),
        Result(
            id="W18b",
            title=(
                f"Ray job under a ClusterBudget of {rate:,} requests/s, 2 actors; local "
                "RateLimiter as hand"
            ),
            unit="rows/s",
            runnables=steady,
            hand=local_steady_rate,
            langchain=None,
            ratios={"steady/budget": steady / rate, "worst window/budget": worst / rate},
            target=f"≥ {rate * 0.95:,.0f} rows/s, every 1 s window ≤ {rate * 1.02:,.0f}",
            passed=steady >= rate * 0.95 and worst <= rate * 1.02,
            notes=[
                f"{rate_rows:,} rows in {rate_wall:.2f} s all told; steady {steady:,.0f} "
                f"rows/s between the first and last step; busiest 1 s window {worst:,}; "
                f"the local engine under a RateLimiter of the same rate: "
                f"{local_steady_rate:,.0f} rows/s, busiest window "
                f"{worst_window(local_stamps):,}"
            ],
        ),
    ]


def measure_serve(quick: bool) -> Result:
    """The Ray Serve recipe (examples/ray_serve.py) against the same ``add_routes`` app
    under uvicorn (W13's runnables side, as ``runnables serve`` runs it), same load."""
    import ray
    from ray import serve

    import w13_http_requests_per_second as w13
    from http_servers import free_port, uvicorn_server

    seconds = 2.0 if quick else 4.0
    with uvicorn_server(sys.executable, w13.__name__, "runnables_app") as server:
        w13.load(f"{server.url}/chain/invoke", 1, w13.CONNECTIONS)  # warm-up
        plain = w13.load(f"{server.url}/chain/invoke", seconds, w13.CONNECTIONS)
    examples = Path(__file__).resolve().parent.parent / "examples"
    sys.path.insert(0, str(examples))
    try:
        import ray_serve
    finally:
        sys.path.remove(str(examples))
    port = free_port()
    start = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        ray.cloudpickle.register_pickle_by_value(ray_serve)
        serve.start(http_options={"host": "127.0.0.1", "port": port})
        serve.run(ray_serve.deployment, route_prefix="/")
        up = time.perf_counter() - start
        url = f"http://127.0.0.1:{port}/chain/invoke"
        w13.load(url, 1, w13.CONNECTIONS)  # warm-up
        on_serve = w13.load(url, seconds, w13.CONNECTIONS)
    finally:
        serve.shutdown()
        ray.shutdown()
    return Result(
        id="W18c",
        title="the add_routes app on Ray Serve (1 replica); runnables serve as hand",
        unit="req/s",
        runnables=on_serve["rps"],
        hand=plain["rps"],
        langchain=None,
        ratios={"serve/ray-serve": plain["rps"] / on_serve["rps"]},
        target="report",
        passed=None,
        notes=[
            f"runnables serve (uvicorn, 1 worker) {plain['rps']:,.0f} req/s, p50 "
            f"{plain['p50']:.1f} ms, p99 {plain['p99']:.1f} ms; Ray Serve "
            f"{on_serve['rps']:,.0f} req/s, p50 {on_serve['p50']:.1f} ms, p99 "
            f"{on_serve['p99']:.1f} ms; {w13.CONNECTIONS} connections, {seconds:.0f} s",
            f"Ray Serve start-up (ray.init + serve.run of the recipe): {up:.1f} s",
        ],
    )


def run(quick: bool) -> list[Result]:
    results = measure(quick)
    if quick:  # Ray Serve takes ~30 s to start: the full run only
        return results
    try:
        results.append(measure_serve(quick))
    except ImportError as exc:  # ray[serve] is not part of the ray extra
        print(f"W18c skipped: {exc} (pip install 'ray[serve]')", file=sys.stderr)
    return results


if __name__ == "__main__":
    main(run)
