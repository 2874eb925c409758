"""Batch jobs: one job span, and one trace per row linked to it (in memory and over OTLP)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.trace import StatusCode

from runnables import RunnableLambda, otel
from runnables.batch import run_batch

from .conftest import Telemetry
from .test_export import Receiver

ROW_KEY = "runnables.batch.row_key"


@pytest.fixture
def otlp() -> Iterator[Receiver]:
    """test_export's OTLP/HTTP receiver on loopback, started and stopped around a test."""
    r = Receiver()
    r.thread.start()
    try:
        yield r
    finally:
        r.server.shutdown()
        r.server.server_close()
        r.thread.join()


def write_rows(path: Path, n: int) -> Path:
    path.write_text("".join(json.dumps({"id": f"r{i}", "n": i}) + "\n" for i in range(n)))
    return path


def check(row: dict[str, Any]) -> dict[str, Any]:
    if row["n"] in (4, 13):
        raise ValueError(f"row {row['n']} is bad")
    return row


chain = RunnableLambda(check, name="check") | RunnableLambda(lambda r: r["n"] * 2, name="double")


def row_roots(spans: list[ReadableSpan]) -> list[ReadableSpan]:
    return [s for s in spans if s.attributes and ROW_KEY in s.attributes]


async def test_a_job_is_one_span_and_each_row_a_trace_of_its_own_linked_to_it(
    telemetry: Telemetry, tmp_path: Path
) -> None:
    src, out = write_rows(tmp_path / "in.jsonl", 20), tmp_path / "out.jsonl"
    ambient = telemetry.provider.get_tracer("test").start_span("caller")
    with trace.use_span(ambient, end_on_exit=True):
        result = await run_batch(chain, src, out, max_concurrency=4)
    assert (result.rows, result.errors) == (20, 2)

    spans = telemetry.spans()
    jobs = [s for s in spans if s.name.startswith("batch ")]
    assert len(jobs) == 1
    job = jobs[0]
    assert job.name == "batch RunnableSequence"
    # The job nests under the caller's span; the rows do not nest under the job.
    assert job.parent is not None and job.parent.span_id == ambient.get_span_context().span_id
    assert dict(job.attributes or {}) == {
        "runnables.batch.input": str(src),
        "runnables.batch.output": str(out),
        "runnables.batch.resumed": False,
        "runnables.batch.rows_before": 0,
        "runnables.batch.status": "done",
        "runnables.batch.rows_done": 20,
        "runnables.batch.rows_failed": 2,
        "runnables.batch.new_rows": 20,
        "runnables.batch.new_rows_failed": 2,
    }
    assert job.status.status_code is StatusCode.UNSET

    roots = row_roots(spans)
    assert sorted(str(r.attributes[ROW_KEY]) for r in roots if r.attributes) == sorted(
        f"r{i}" for i in range(20)
    )
    trace_ids = {r.context.trace_id for r in roots}
    assert len(trace_ids) == 20 and job.context.trace_id not in trace_ids
    for root in roots:
        assert root.parent is None, "a row's root must start its own trace"
        assert root.name == "RunnableSequence"
        assert [link.context for link in root.links] == [job.context]
        failing = (root.attributes or {})[ROW_KEY] in ("r4", "r13")
        expected = StatusCode.ERROR if failing else StatusCode.UNSET
        assert root.status.status_code is expected
    # Each row's steps are in its row's trace, under its root.
    by_trace = {r.context.trace_id: r for r in roots}
    steps = [s for s in spans if s.name in ("check", "double")]
    assert len(steps) == 20 + 18
    for step in steps:
        assert step.parent is not None
        assert step.parent.span_id == by_trace[step.context.trace_id].context.span_id
    # Every span but the caller's is the job's or in a row's trace: 1 + 20 + 38.
    assert len(spans) == 1 + 1 + 20 + 38


async def test_an_aborted_job_is_an_error_and_its_resume_says_it_resumed(
    telemetry: Telemetry, tmp_path: Path
) -> None:
    src, out = write_rows(tmp_path / "in.jsonl", 20), tmp_path / "out.jsonl"
    first = await run_batch(chain, src, out, max_concurrency=1, max_errors=0)
    assert first.status == "aborted"
    (aborted,) = [s for s in telemetry.spans() if s.name.startswith("batch ")]
    assert aborted.status.status_code is StatusCode.ERROR
    assert (aborted.attributes or {})["runnables.batch.status"] == "aborted"
    assert (aborted.attributes or {})["runnables.batch.resumed"] is False
    telemetry.exporter.clear()

    second = await run_batch(chain, src, out, max_concurrency=2)
    assert second.status == "done"
    (resumed,) = [s for s in telemetry.spans() if s.name.startswith("batch ")]
    attrs = dict(resumed.attributes or {})
    assert attrs["runnables.batch.resumed"] is True
    assert attrs["runnables.batch.rows_before"] == first.rows
    assert attrs["runnables.batch.rows_done"] == 20
    assert attrs["runnables.batch.new_rows"] == 20 - first.rows
    assert attrs["runnables.batch.rows_failed"] == 2
    # Only the rows run this time have traces, all linked to this run's job span.
    roots = row_roots(telemetry.spans())
    assert len(roots) == 20 - first.rows
    assert all([link.context for link in r.links] == [resumed.context] for r in roots)


async def test_a_sampled_out_job_records_nothing_and_still_runs(tmp_path: Path) -> None:
    telemetry = Telemetry(sampler=ALWAYS_OFF)
    otel.instrument(telemetry.provider, False, meter_provider=telemetry.meters)
    try:
        src, out = write_rows(tmp_path / "in.jsonl", 5), tmp_path / "out.jsonl"
        result = await run_batch(chain, src, out)
    finally:
        otel.uninstrument()
    assert (result.rows, result.errors) == (5, 1)
    assert telemetry.spans() == []


def test_an_uninstrumented_job_imports_no_opentelemetry(tmp_path: Path) -> None:
    src, out = write_rows(tmp_path / "in.jsonl", 3), tmp_path / "out.jsonl"
    script = (
        "import sys\n"
        "from runnables import RunnableLambda\n"
        "from runnables.batch import run_batch_sync\n"
        f"r = run_batch_sync(RunnableLambda(lambda row: row['n']), {str(src)!r}, {str(out)!r})\n"
        "assert r.rows == 3, r\n"
        "names = ('opentelemetry', 'runnables.otel')\n"
        "print(sorted(m for m in sys.modules if m.startswith(names)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "[]"


def test_batch_otel_exports_the_job_and_linked_row_traces_over_otlp(
    otlp: Receiver, tmp_path: Path
) -> None:
    receiver = otlp
    (tmp_path / "chains.py").write_text(
        "from runnables import RunnableLambda\n"
        "def check(row):\n"
        "    if row['n'] == 2:\n"
        "        raise ValueError('bad row')\n"
        "    return row['n']\n"
        "chain = RunnableLambda(check, name='check') | RunnableLambda(lambda n: n + 1)\n"
    )
    src, out = write_rows(tmp_path / "in.jsonl", 6), tmp_path / "out.jsonl"
    env = {
        **os.environ,
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
        "OTEL_SERVICE_NAME": "batch-job",
        "OTEL_METRICS_EXPORTER": "none",
    }
    done = subprocess.run(
        [sys.executable, "-m", "runnables.cli", "batch", "chains:chain", str(src)]
        + ["-o", str(out), "--otel", "--no-progress"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 3, done.stderr  # 3: some rows failed
    # The command shuts its providers down before it exits: everything has arrived.
    assert {service for service, _ in receiver.spans} == {"batch-job"}
    (job,) = [s for s in receiver.raw if s.name == "batch RunnableSequence"]

    def attrs(span: Any) -> dict[str, Any]:
        return {a.key: a.value for a in span.attributes}

    assert attrs(job)["runnables.batch.rows_done"].int_value == 6
    assert attrs(job)["runnables.batch.rows_failed"].int_value == 1
    roots = [s for s in receiver.raw if ROW_KEY in attrs(s)]
    assert sorted(attrs(r)[ROW_KEY].string_value for r in roots) == [f"r{i}" for i in range(6)]
    for root in roots:
        assert root.parent_span_id == b"" and root.trace_id != job.trace_id
        assert [(link.trace_id, link.span_id) for link in root.links] == [
            (job.trace_id, job.span_id)
        ]
        failed = attrs(root)[ROW_KEY].string_value == "r2"
        assert root.status.code == (2 if failed else 0)  # 2: STATUS_CODE_ERROR


def test_batch_takes_the_otel_flag() -> None:
    from runnables.cli.main import make_parser

    parser = make_parser()
    assert parser.parse_args(["batch", "m:c", "in.jsonl", "-o", "o.jsonl", "--otel"]).otel
    assert not parser.parse_args(["batch", "m:c", "in.jsonl", "-o", "o.jsonl"]).otel


async def test_an_interrupted_job_ends_its_span_marked_cancelled(
    telemetry: Telemetry, tmp_path: Path
) -> None:
    src, out = write_rows(tmp_path / "in.jsonl", 10), tmp_path / "out.jsonl"
    started, never = asyncio.Event(), asyncio.Event()

    async def hang(row: dict[str, Any]) -> int:
        if row["n"] == 3:
            started.set()
            await never.wait()
        return int(row["n"])

    job = asyncio.create_task(run_batch(RunnableLambda(hang), src, out, max_concurrency=1))
    await started.wait()
    job.cancel()
    with pytest.raises(asyncio.CancelledError):
        await job
    (span,) = [s for s in telemetry.spans() if s.name.startswith("batch ")]
    attrs = dict(span.attributes or {})
    assert attrs["runnables.batch.status"] == "interrupted"
    assert attrs["runnables.cancelled"] is True
    assert attrs["runnables.batch.rows_done"] == 3
    assert span.status.status_code is StatusCode.ERROR
    (hung,) = [r for r in row_roots(telemetry.spans()) if (r.attributes or {})[ROW_KEY] == "r3"]
    assert (hung.attributes or {})["runnables.cancelled"] is True
