"""Acceptance: ``runnables batch`` in a subprocess, SIGKILLed at random moments, resumed.

Sizes are scaled down for CI (bench/w17_batch_file_job.py runs the full sizes).
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runnables.batch import read_state, run_batch
from runnables.testing.openai_server import Complete, FakeOpenAIServer

from .jsonl_files import record_lines as records

CHAIN = """
import asyncio, os
from runnables import RunnableLambda

# With JOB_GATE set, rows from JOB_GATE_AT on wait until that file exists: a test that
# stops the job before then knows the job cannot end first, however loaded the machine.
GATE = os.environ.get("JOB_GATE")

async def through_the_gate(row):
    if GATE and row["n"] >= int(os.environ["JOB_GATE_AT"]):
        while not os.path.exists(GATE):
            await asyncio.sleep(0.01)

async def work(row):
    await asyncio.sleep(0.004)
    await through_the_gate(row)
    if row["n"] % 200 == 7:  # 0.5% of rows fail
        raise ValueError(f"row {row['n']} failed")
    return {"square": row["n"] ** 2, "text": row["text"][::-1]}

chain = RunnableLambda(work)

def model_chain():
    from runnables.providers.openai import ChatOpenAI
    model = ChatOpenAI(
        model="m", base_url=os.environ["FAKE_OPENAI_URL"], api_key="k", max_retries=0
    )
    return RunnableLambda(prepare) | model

async def prepare(row):
    await asyncio.sleep(0.004)
    await through_the_gate(row)
    if row["n"] % 200 == 7:
        raise ValueError(f"row {row['n']} failed")
    return row["text"]

model = model_chain() if "FAKE_OPENAI_URL" in os.environ else None
"""


def make_job(tmp_path: Path, rows: int) -> Path:
    (tmp_path / "jobchain.py").write_text(CHAIN)
    src = tmp_path / "in.jsonl"
    with src.open("w") as f:
        for i in range(rows):
            f.write(json.dumps({"id": f"r{i}", "n": i, "text": f"row number {i}"}) + "\n")
    return src


def command(target: str, out: str, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "runnables.cli",
        "batch",
        target,
        "in.jsonl",
        "-o",
        out,
        "--no-progress",
        *extra,
    ]


def lines_in(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def gated(tmp_path: Path, at_row: int) -> dict[str, str]:
    """The environment of a job whose rows from ``at_row`` on wait for :func:`open_gate`."""
    return {**os.environ, "JOB_GATE": str(tmp_path / "gate"), "JOB_GATE_AT": str(at_row)}


def open_gate(tmp_path: Path) -> None:
    (tmp_path / "gate").touch()


def kill_when(proc: subprocess.Popen[bytes], out: Path, at_lines: int, sig: int) -> bool:
    """Send ``sig`` once ``out`` has ``at_lines`` lines; False if the job ended first."""
    deadline = time.monotonic() + 120
    while lines_in(out) < at_lines:
        if proc.poll() is not None:
            return False
        assert time.monotonic() < deadline, "the batch job made no progress"
        time.sleep(0.005)
    proc.send_signal(sig)
    proc.wait(timeout=60)
    return True


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sigkill_and_resume_give_every_key_once_with_an_uninterrupted_runs_records(
    tmp_path: Path, seed: int
) -> None:
    rows = 2000
    src = make_job(tmp_path, rows)
    spec = importlib.util.spec_from_file_location("jobchain_ref", tmp_path / "jobchain.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    ref = tmp_path / "ref.jsonl"
    asyncio.run(run_batch(module.chain, src, ref, max_concurrency=16))

    rng = random.Random(seed)
    out = tmp_path / "out.jsonl"
    cmd = command("jobchain:chain", "out.jsonl", "--max-concurrency", "16")
    env = gated(tmp_path, int(rows * 0.7))  # the kills come before: the job cannot end first
    for at in sorted(rng.sample(range(1, int(rows * 0.7)), 2)):
        proc = subprocess.Popen(cmd, cwd=tmp_path, env=env)
        killed = kill_when(proc, out, at, signal.SIGKILL)
        assert killed and proc.returncode == -signal.SIGKILL
    open_gate(tmp_path)
    done = subprocess.run(cmd, cwd=tmp_path, env=env, timeout=300)
    assert done.returncode == 3  # ten rows (0.5%) fail
    assert records(out) == records(ref)
    assert lines_in(out) == rows


def test_ctrl_c_stops_cleanly_and_the_job_resumes(tmp_path: Path) -> None:
    rows = 1500
    make_job(tmp_path, rows)
    out = tmp_path / "out.jsonl"
    cmd = command("jobchain:chain", "out.jsonl", "--max-concurrency", "8")
    env = gated(tmp_path, 400)  # stopped at 200 lines: the job cannot end first
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env)
    assert kill_when(proc, out, 200, signal.SIGINT)
    assert proc.returncode == 130
    state = read_state(out)
    assert state is not None and state["status"] == "interrupted"
    assert state["rows_done"] == lines_in(out)
    open_gate(tmp_path)
    assert subprocess.run(cmd, cwd=tmp_path, env=env, timeout=300).returncode == 3
    assert len(records(out)) == rows


def test_sigterm_stops_as_cleanly_as_ctrl_c_and_the_job_resumes(tmp_path: Path) -> None:
    rows = 1500
    make_job(tmp_path, rows)
    out = tmp_path / "out.jsonl"
    cmd = command("jobchain:chain", "out.jsonl", "--max-concurrency", "8")
    env = gated(tmp_path, 400)  # stopped at 200 lines: the job cannot end first
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env)
    assert kill_when(proc, out, 200, signal.SIGTERM)
    assert proc.returncode == 128 + signal.SIGTERM
    state = read_state(out)
    assert state is not None and state["status"] == "interrupted"
    assert state["rows_done"] == lines_in(out) < rows
    open_gate(tmp_path)
    assert subprocess.run(cmd, cwd=tmp_path, env=env, timeout=300).returncode == 3
    assert len(records(out)) == rows


def test_resume_refuses_an_edited_input_file(tmp_path: Path) -> None:
    src = make_job(tmp_path, 50)
    cmd = command("jobchain:chain", "out.jsonl")
    assert subprocess.run(cmd, cwd=tmp_path, timeout=120).returncode == 3  # row 7 fails
    src.write_text(src.read_text().replace("row number 3", "row number three"))
    refused = subprocess.run(cmd, cwd=tmp_path, timeout=120, capture_output=True, text=True)
    assert refused.returncode == 2
    assert "the input file 'in.jsonl' changed" in refused.stderr
    status = subprocess.run(
        [sys.executable, "-m", "runnables.cli", "batch", "status", "out.jsonl"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert status.returncode == 0 and status.stdout.startswith("done: 50/50 rows")


async def wait_lines(proc: asyncio.subprocess.Process, out: Path, at: int) -> bool:
    deadline = time.monotonic() + 120
    while lines_in(out) < at:
        if proc.returncode is not None:
            return False
        assert time.monotonic() < deadline, "the batch job made no progress"
        await asyncio.sleep(0.005)
    return True


async def test_against_the_fake_openai_server_requests_stay_within_rows_plus_kills_times_window(
    tmp_path: Path,
) -> None:
    rows, window, seed = 1200, 16, 7
    make_job(tmp_path, rows)
    out = tmp_path / "out.jsonl"
    async with FakeOpenAIServer(default=Complete("an answer")) as server:
        # The kills come before row 70%: the job cannot end first.
        env = {**gated(tmp_path, int(rows * 0.7)), "FAKE_OPENAI_URL": server.base_url}
        cmd = command("jobchain:model", "out.jsonl", "--max-concurrency", str(window))
        rng = random.Random(seed)
        kills = 0
        for at in sorted(rng.sample(range(1, int(rows * 0.7)), 2)):
            proc = await asyncio.create_subprocess_exec(*cmd, cwd=tmp_path, env=env)
            if await wait_lines(proc, out, at):
                proc.kill()
                kills += 1
            await proc.wait()
        assert kills == 2
        open_gate(tmp_path)
        proc = await asyncio.create_subprocess_exec(*cmd, cwd=tmp_path, env=env)
        assert await proc.wait() == 3
        assert len(server.chat_requests) <= rows + kills * window
        assert server.max_in_flight <= window
    recs = [json.loads(line) for line in out.read_text().splitlines()]
    assert len({r["id"] for r in recs}) == rows == len(recs)
    errors = [r for r in recs if "error" in r]
    assert len(errors) == rows // 200
    assert errors[0]["error"]["type"] == "ValueError" and errors[0]["error"]["attempts"] == 1
    ok = next(r for r in recs if "output" in r)
    assert ok["output"]["data"]["content"] == "an answer"  # messages_from_dict reads it


async def test_max_errors_aborts_with_exit_status_one(tmp_path: Path) -> None:
    make_job(tmp_path, 4000)  # 20 failing rows
    async with FakeOpenAIServer(default=Complete("an answer")) as server:
        env = {**os.environ, "FAKE_OPENAI_URL": server.base_url}
        cmd = command("jobchain:model", "out.jsonl", "--max-concurrency", "32")
        proc = await asyncio.create_subprocess_exec(
            *cmd, "--max-errors", "10", cwd=tmp_path, env=env
        )
        assert await proc.wait() == 1
    state = read_state(tmp_path / "out.jsonl")
    assert state is not None and state["status"] == "aborted" and state["errors"] == 11
