"""The benchmark suite runs end to end at small sizes (no timing is asserted)."""

from __future__ import annotations

import importlib
import math
import sys
from pathlib import Path

import pytest

from runnables import set_offload_policy

BENCH = Path(__file__).resolve().parents[2] / "bench"
pytest.importorskip("langchain_core", reason="the benchmarks compare with langchain-core")

if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))
# bench/ is a folder of scripts, not a package: load its runner by file name.
bench_run = importlib.import_module("run")


def test_every_workload_runs_quickly_and_reports_its_comparisons(offload_policy: None) -> None:
    # Under load a trivial sync step can be descheduled past the 20 ms offload
    # threshold, and the BlockingStepWarning that follows is an error under pytest, so a
    # workload "crashed" for the machine's load. Nothing here is timed, nor judged by
    # time: only a step that holds the loop for a whole second still counts as blocking.
    set_offload_policy(threshold=1.0)
    results, crashed = bench_run.run_all(quick=True)

    assert crashed == []
    ids = [r.id for r in results]
    assert ids[:9] == [f"W{i}" for i in range(1, 10)]
    for r in results:
        assert r.runnables is not None and math.isfinite(r.runnables) and r.runnables > 0, r
        # Every workload compares with something; not all have a hand-written twin
        # (W12's is a single json.loads) or a langchain-core run (too slow at full size).
        compared = [v for v in (r.hand, r.langchain) if v is not None]
        assert compared and all(math.isfinite(v) and v > 0 for v in compared), r
        if r.id in {f"W{i}" for i in range(1, 10)}:
            assert r.hand is not None and r.langchain is not None, r
        assert r.ratios and all(math.isfinite(v) and v > 0 for v in r.ratios.values()), r
        assert r.status in {"pass", "FAIL", "report"}


def test_only_selects_workloads_by_id() -> None:
    modules = bench_run.workload_modules(["W2", "w09"])

    assert [m.__name__ for m in modules] == ["w02_invoke_sync_chain", "w09_memory_in_flight"]


def test_write_keeps_the_hand_written_analysis_below_the_marker(tmp_path: Path) -> None:
    target = tmp_path / "BENCHMARKS.md"
    target.write_text(f"old table\n{bench_run.KEEP_MARKER}\n## Analysis\nkept text\n")
    result = bench_run.Result(
        id="W1",
        title="t",
        unit="µs/call",
        runnables=1.0,
        hand=0.5,
        langchain=1000.0,
        target="lc/rn ≥ 100x",
        passed=True,
        ratios={"lc/rn": 1000.0},
    )

    bench_run.write_benchmarks(bench_run.markdown([result], {"python": "3.11"}, 1.0), target)

    text = target.read_text()
    assert "old table" not in text
    assert "| W1 t | µs/call | 1.00 | 0.500 | 1,000 | lc/rn 1,000x | lc/rn ≥ 100x | pass |" in text
    assert bench_run.COMMAND in text
    assert text.endswith("## Analysis\nkept text\n")
