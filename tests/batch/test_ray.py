"""Acceptance: batch jobs on a local Ray cluster of 2 CPUs, and the ClusterBudget.

One cluster for the module (ray.init takes seconds), shut down at the end. Sizes are
small for CI; bench/w18_ray_batch.py measures throughput and start-up cost.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ray = pytest.importorskip("ray")

from runnables import RunnableLambda  # noqa: E402
from runnables.batch import ClusterBudget, run_batch  # noqa: E402
from runnables.batch.cluster import ClusterRateLimiter  # noqa: E402
from runnables.errors import ConfigError  # noqa: E402
from runnables.models.ratelimit import Reservation  # noqa: E402
from runnables.testing.openai_server import (  # noqa: E402
    Complete,
    FakeOpenAIServer,
    RecordedRequest,
    Reply,
)

from .jsonl_files import records, write_rows  # noqa: E402

pytestmark = pytest.mark.timeout(300)

# The workers cannot import this test module: its functions travel with the chains.
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])


@pytest.fixture(scope="module", autouse=True)
def cluster() -> Iterator[str]:
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        object_store_memory=100 * 2**20,
    )
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


async def square_or_fail(row: dict[str, Any]) -> dict[str, Any]:
    await asyncio.sleep(0.002)
    if row["n"] % 100 == 7:
        raise ValueError(f"row {row['n']} failed")
    return {"square": row["n"] ** 2}


async def test_ray_engine_writes_the_same_records_as_the_local_run(tmp_path: Path) -> None:
    src = write_rows(tmp_path / "in.jsonl", 1500)
    chain = RunnableLambda(square_or_fail)
    local = await run_batch(chain, src, tmp_path / "local.jsonl", max_concurrency=32)
    on_ray = await run_batch(
        chain, src, tmp_path / "ray.jsonl", max_concurrency=32, engine="ray", actors=2
    )
    assert (on_ray.status, on_ray.rows, on_ray.errors) == (local.status, 1500, 15)
    assert on_ray.exit_code == local.exit_code == 3
    assert records(tmp_path / "ray.jsonl") == records(tmp_path / "local.jsonl")
    error = records(tmp_path / "ray.jsonl")["r7"]["error"]
    assert error == {"type": "ValueError", "message": "row 7 failed", "attempts": 1}


async def test_ray_engine_resumes_a_job_and_keeps_order_input(tmp_path: Path) -> None:
    src = write_rows(tmp_path / "in.jsonl", 400)
    out = tmp_path / "out.jsonl"
    chain = RunnableLambda(square_or_fail)
    await run_batch(chain, src, tmp_path / "ref.jsonl", order="input")
    # A first run that stops early: keep its first 150 records, as a crash would.
    await run_batch(chain, src, out, order="input", engine="ray", actors=2)
    lines = out.read_bytes().splitlines(keepends=True)
    out.write_bytes(b"".join(lines[:150]) + lines[150][:7])  # and a torn last line
    again = await run_batch(chain, src, out, order="input", engine="ray", actors=2)
    assert again.new_rows == 250 and again.rows == 400
    assert out.read_text() == (tmp_path / "ref.jsonl").read_text()


async def collector_state(row: dict[str, Any]) -> list[Any]:
    import gc

    return [gc.get_freeze_count() > 0, gc.get_threshold()[0]]


async def test_the_actors_collector_never_stalls_on_start_up_objects(tmp_path: Path) -> None:
    # A full collection of a worker's start-up objects took ~90 ms: a worker under a
    # ClusterBudget lost its request times for that long. The actors freeze them.
    src = write_rows(tmp_path / "in.jsonl", 4)
    out = tmp_path / "out.jsonl"
    await run_batch(RunnableLambda(collector_state), src, out, engine="ray", actors=1)
    assert {json.dumps(r["output"]) for r in records(out).values()} == {"[true, 50000]"}


def test_engine_options_need_the_ray_engine(tmp_path: Path) -> None:
    src = write_rows(tmp_path / "in.jsonl", 3)
    with pytest.raises(ConfigError, match="options of the Ray engine"):
        asyncio.run(run_batch(RunnableLambda(square_or_fail), src, tmp_path / "o.jsonl", actors=2))


def test_cluster_budget_needs_a_limit() -> None:
    with pytest.raises(ConfigError, match="needs max_concurrency"):
        ClusterBudget()
    with pytest.raises(ConfigError, match="lease_size"):
        ClusterBudget(max_concurrency=4, lease_size=0)


async def test_a_budget_of_256_holds_two_workers_that_could_each_run_512(tmp_path: Path) -> None:
    from runnables.providers.openai import ChatOpenAI

    src = write_rows(tmp_path / "in.jsonl", 1500)
    budget = ClusterBudget(max_concurrency=256, lease_size=32)

    def reply(request: RecordedRequest) -> Reply:
        # The first 256 requests are held 3 s, the rest 0.3 s: time for the workers to
        # fill every slot the budget allows even on a loaded machine (in 0.3 s they sent
        # only ~164 under load), so the peak is the budget's, not the machine's speed.
        return Complete("ok", headers_delay=3.0 if len(server.chat_requests) <= 256 else 0.3)

    async with FakeOpenAIServer(reply) as server:
        model = ChatOpenAI(
            model="m", base_url=server.base_url, api_key="k", max_retries=0, max_concurrency=512
        )
        chain = RunnableLambda[dict[str, Any], str](lambda row: f"row {row['n']}") | model
        result = await run_batch(
            chain,
            src,
            tmp_path / "out.jsonl",
            max_concurrency=512,
            engine="ray",
            actors=2,
            budget=budget,
        )
        failed = [r for r in records(tmp_path / "out.jsonl").values() if "error" in r]
        assert result.exit_code == 0 and result.rows == 1500, failed
        assert len(server.chat_requests) == 1500
        # The bound held, and it was the bound that held them (not something lower).
        assert 256 // 2 < server.max_in_flight <= 256
    stats = budget.stats()
    assert stats["peak_leased"] <= 256
    assert stats["leased"] == 0  # every slot came back when the job ended
    assert stats["calls"] < 1500 // 4  # leases, not a call a request
    budget.kill()


async def stamp(row: dict[str, Any]) -> float:
    return time.time()


async def test_a_2000_per_second_budget_holds_every_one_second_window_across_workers(
    tmp_path: Path,
) -> None:
    rows = 4000
    src = write_rows(tmp_path / "in.jsonl", rows)
    out = tmp_path / "out.jsonl"
    result = await run_batch(
        RunnableLambda(stamp),
        src,
        out,
        max_concurrency=256,
        rpm=2000 * 60,
        engine="ray",
        actors=2,
    )
    assert result.exit_code == 0
    # A row's time is taken in the loop turn in which the job's limiter let it go (the
    # step runs at once: nothing awaits between), so it is the budget's grant, not a
    # time that bunches under load.
    times = sorted(r["output"] for r in records(out).values())
    assert len(times) == rows
    # Each worker alone could go at 2,000/s: two with local limiters would reach ~4,000.
    start = 0
    worst = 0
    for end, t in enumerate(times):
        while times[start] <= t - 1.0:
            start += 1
        worst = max(worst, end - start + 1)
    assert worst <= 2040


def all_workers_in(marks: Path, workers: int) -> RunnableLambda[Any, Any]:
    """A step that holds each row until ``workers`` worker processes have rows here: a
    barrier across Ray's workers, so they compete for a budget from the start. (Under
    load one actor can start seconds after the other; alone, it could not tell a
    shared budget from a budget of its own.)"""
    through = [False]  # this worker's copy: once all are in, rows pass at once

    async def wait_for_the_others(row: Any) -> Any:
        if not through[0]:
            marks.mkdir(exist_ok=True)
            (marks / str(os.getpid())).touch()
            give_up = time.monotonic() + 120
            while not through[0] and len(list(marks.iterdir())) < workers:
                assert time.monotonic() < give_up, f"only {list(marks.iterdir())} started"
                await asyncio.sleep(0.01)
            through[0] = True
        return row

    return RunnableLambda(wait_for_the_others)


class GrantLog(ClusterRateLimiter):
    """A budget's rate limiter that writes down, in the worker, when it let each request go."""

    def __init__(self, budget: ClusterBudget, log: Path) -> None:
        super().__init__(budget)
        self.log = log

    def __reduce__(self) -> tuple[Any, ...]:
        return (GrantLog, (self.budget, self.log))

    async def aacquire(self, tokens: int = 0) -> Reservation:
        reservation = await super().aacquire(tokens)
        # The same loop turn as the budget's check that the request's time has come:
        # nothing awaits between. (Its arrival at the server is later, and requests
        # bunch on the way there when the machine is loaded.)
        granted = time.time()
        with self.log.open("a") as f:  # a short append: whole lines from both workers
            f.write(f"{granted!r}\n")
        return reservation


async def test_model_rate_limiter_from_a_budget_holds_across_workers(tmp_path: Path) -> None:
    from runnables.providers.openai import ChatOpenAI

    # 50 a second: a rate each worker can exceed on a loaded machine, so a budget of
    # its own (two local limiters: ~100 a second) shows; 2,000 a second is the next test.
    src = write_rows(tmp_path / "in.jsonl", 300)
    budget = ClusterBudget(requests_per_second=50)
    grants = tmp_path / "grants.txt"
    async with FakeOpenAIServer(default=Complete("ok")) as server:
        model = ChatOpenAI(
            model="m", base_url=server.base_url, api_key="k", rate_limiter=GrantLog(budget, grants)
        )
        chain = (
            all_workers_in(tmp_path / "workers", 2)
            | RunnableLambda[dict[str, Any], str](lambda row: f"row {row['n']}")
            | model
        )
        result = await run_batch(
            chain, src, tmp_path / "out.jsonl", max_concurrency=64, engine="ray", actors=2
        )
        assert result.exit_code == 0
        assert len(server.chat_requests) == 300
    granted = sorted(float(line) for line in grants.read_text().splitlines())
    assert len(granted) == 300  # every request went through the budget
    start = worst = 0
    for end, t in enumerate(granted):
        while granted[start] <= t - 1.0:
            start += 1
        worst = max(worst, end - start + 1)
    # The schedule's 50 a second, one more at the window's edge, the times granted
    # within the grace (20 ms: one interval) after their turn, and a few stamps a
    # worker took late when it was descheduled between the grant and the stamp.
    assert worst <= 50 * 1.02 + 1 + 3
    budget.kill()


async def test_a_token_budget_holds_across_workers(tmp_path: Path) -> None:
    # 2,000 tokens/s with a burst of 1,000; 100 rows of 100 tokens: at least 4.5 s in
    # all. Two workers each limiting alone would take half that.
    budget = ClusterBudget(tokens_per_minute=2000 * 60, max_token_bucket=1000)
    limiter = budget.rate_limiter()

    async def spend(row: dict[str, Any]) -> float:
        reservation = await limiter.aacquire(100)
        limiter.correct(reservation, 100)
        # When the budget let these tokens be spent, not when this worker woke up to
        # spend them: a worker descheduled past that time wakes late, its sleepers
        # together, and the budget's bound is on what it lets go.
        return reservation.ready_tokens

    src = write_rows(tmp_path / "in.jsonl", 100)
    result = await run_batch(
        all_workers_in(tmp_path / "workers", 2) | RunnableLambda(spend),
        src,
        tmp_path / "out.jsonl",
        max_concurrency=50,
        engine="ray",
        actors=2,
    )
    assert result.exit_code == 0
    times = sorted(r["output"] for r in records(tmp_path / "out.jsonl").values())
    assert times[-1] - times[0] >= (100 * 100 - 1000) / 2000 * 0.9
    start = worst = 0
    for end, t in enumerate(times):
        while times[start] <= t - 1.0:
            start += 1
        worst = max(worst, end - start + 1)
    # A second's tokens, the burst, and a block of 0.1 s leased by each worker.
    assert worst * 100 <= 2000 + 1000 + 2 * 200
    budget.kill()


CRASHING = """
import asyncio, os
from pathlib import Path
from runnables import RunnableLambda

MARK = Path(os.environ["CRASH_MARK"])

async def work(row):
    await asyncio.sleep(0.005)
    if row["n"] == 300 and not MARK.exists():
        MARK.write_text("crashed")
        os._exit(1)  # the worker process dies mid-run, holding leased slots
    return {"square": row["n"] ** 2}

chain = RunnableLambda(work)
"""


async def test_an_actor_killed_mid_run_the_job_completes_and_its_slots_return(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "crashing.py").write_text(CRASHING)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("CRASH_MARK", str(tmp_path / "mark"))
    import crashing  # type: ignore[import-not-found]
    from ray import cloudpickle

    cloudpickle.register_pickle_by_value(crashing)  # type: ignore[no-untyped-call]  # ray vendors it untyped
    src = write_rows(tmp_path / "in.jsonl", 1000)
    budget = ClusterBudget(max_concurrency=64, lease_size=16, lease_ttl=2.0)
    result = await run_batch(
        crashing.chain,
        src,
        tmp_path / "ray.jsonl",
        max_concurrency=64,
        engine="ray",
        actors=2,
        budget=budget,
    )
    assert (tmp_path / "mark").exists()  # a worker did die
    assert result.exit_code == 0 and result.rows == 1000
    await run_batch(crashing.chain, src, tmp_path / "local.jsonl")
    assert records(tmp_path / "ray.jsonl") == records(tmp_path / "local.jsonl")
    deadline = time.monotonic() + 60
    while (stats := budget.stats())["leased"] and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    assert stats["leased"] == 0 and stats["free"] == 64
    assert stats["expired"] >= 1  # the dead worker's slots came back by their TTL
    budget.kill()
    cloudpickle.unregister_pickle_by_value(crashing)  # type: ignore[no-untyped-call]


def lines_in(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def test_sigkill_of_the_driver_and_resume_on_ray_give_every_key_once(
    tmp_path: Path, cluster: str
) -> None:
    rows = 3000
    (tmp_path / "jobchain.py").write_text(
        "import asyncio\nfrom runnables import RunnableLambda\n\n"
        "async def work(row):\n    await asyncio.sleep(0.01)\n"
        "    return {'square': row['n'] ** 2}\n\nchain = RunnableLambda(work)\n"
    )
    write_rows(tmp_path / "in.jsonl", rows)
    cmd = [
        sys.executable,
        "-m",
        "runnables.cli",
        "batch",
        "jobchain:chain",
        "in.jsonl",
        "-o",
        "out.jsonl",
        "--no-progress",
        "--max-concurrency",
        "32",
        "--ray",
        "--address",
        cluster,
        "--actors",
        "2",
    ]
    out = tmp_path / "out.jsonl"
    proc = subprocess.Popen(cmd, cwd=tmp_path)
    deadline = time.monotonic() + 180
    while lines_in(out) < 800:
        assert proc.poll() is None, "the job ended before it could be killed"
        assert time.monotonic() < deadline, "the batch job made no progress"
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    assert lines_in(out) < rows
    done = subprocess.run(cmd, cwd=tmp_path, timeout=240)
    assert done.returncode == 0
    got = records(out)  # asserts each key once
    assert len(got) == rows
    assert all(got[f"r{i}"]["output"] == {"square": i * i} for i in range(rows))
