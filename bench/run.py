"""Run every benchmark workload (``bench/w*.py``) and print one table.

    python bench/run.py            # the full suite (about two minutes)
    python bench/run.py --quick    # small sizes: checks that everything runs
    python bench/run.py --only W1,W7
    python bench/run.py --write    # also rewrite BENCHMARKS.md with the table

Each ``bench/wNN_*.py`` module exposes ``run(quick: bool) -> list[Result]``; modules
run in order of their file names, all in this one process.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import os
import platform
import subprocess
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
if str(BENCH) not in sys.path:  # so workload modules import `harness` however we are run
    sys.path.insert(0, str(BENCH))

from harness import COLUMNS, Result, print_table, table_rows  # noqa: E402

COMMAND = "python bench/run.py --write"
#: Text after this line in BENCHMARKS.md is written by hand and kept by ``--write``.
KEEP_MARKER = "<!-- Everything below this line is kept by `python bench/run.py --write`. -->"


def workload_modules(only: Sequence[str] = ()) -> list[ModuleType]:
    """The workload modules, in file-name order (``only``: ids such as ``W1`` or ``w01``)."""
    wanted = {_normal_id(w) for w in only}
    modules = []
    for path in sorted(BENCH.glob("w[0-9]*.py")):
        if wanted and _normal_id(path.stem.split("_")[0]) not in wanted:
            continue
        modules.append(importlib.import_module(path.stem))
    return modules


def _normal_id(text: str) -> str:
    return "W" + str(int(text.strip().lstrip("wW")))


def run_all(quick: bool, only: Sequence[str] = ()) -> tuple[list[Result], list[str]]:
    """Run the workloads; a workload that crashes is reported and the rest still run."""
    results: list[Result] = []
    failures: list[str] = []
    for module in workload_modules(only):
        start = time.perf_counter()
        try:
            results.extend(module.run(quick))
        except Exception:
            failures.append(module.__name__)
            traceback.print_exc()
        print(f"# {module.__name__}: {time.perf_counter() - start:.1f} s", flush=True)
    return results, failures


def machine() -> dict[str, str]:
    """What the figures were measured on."""
    import langchain_core

    import runnables

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        if dirty:
            commit += ", with uncommitted changes in src/"
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    return {
        "date": dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "cpu": f"{cpu}, {os.cpu_count()} cores",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "os": platform.platform(),
        "runnables": f"{runnables.__version__} (commit {commit})",
        "langchain-core": langchain_core.__version__,
    }


def markdown(results: Sequence[Result], info: dict[str, str], elapsed: float) -> str:
    """The generated part of BENCHMARKS.md."""
    header = [*COLUMNS, "result"]
    lines = [
        "# Benchmarks",
        "",
        "Each workload runs the same work on runnables, written by hand with plain asyncio,",
        "and on langchain-core, in one process. Times are the best of several rounds",
        "(the machine is shared; the notes give medians). Ratios: `lc/rn` (for times) and",
        "`rn/lc` (for rates) are how many times faster runnables is than langchain-core;",
        "`rn/hand` and `hand/rn` what runnables costs over hand-written asyncio;",
        "`rn/ideal` the time over the pure waiting time. Analysis is at the bottom.",
        "",
        "Reproduce with:",
        "",
        "```",
        COMMAND,
        "```",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in table_rows(results)]
    lines += ["", "Notes:", ""]
    lines += [f"- {r.id}: {note}" for r in results for note in r.notes]
    lines += ["", "Measured on:", ""]
    lines += [f"- {k}: {v}" for k, v in info.items()]
    lines += [f"- full run: {elapsed:.0f} s", ""]
    return "\n".join(lines)


def write_benchmarks(text: str, path: Path = ROOT / "BENCHMARKS.md") -> None:
    """Rewrite ``path`` with ``text``, keeping the hand-written part after the marker."""
    kept = ""
    if path.exists():
        old = path.read_text()
        if KEEP_MARKER in old:
            kept = old.split(KEEP_MARKER, 1)[1]
    path.write_text(text + "\n" + KEEP_MARKER + (kept or "\n"))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the runnables benchmark suite.")
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--write", action="store_true", help="rewrite BENCHMARKS.md")
    parser.add_argument("--only", default="", help="comma-separated workload ids, e.g. W1,W7")
    args = parser.parse_args(argv)
    if args.write and (args.quick or args.only):
        parser.error("--write records the full suite; run it without --quick and --only.")
    only = [w for w in args.only.split(",") if w.strip()]
    start = time.perf_counter()
    results, failures = run_all(args.quick, only)
    elapsed = time.perf_counter() - start
    print()
    print_table(results)
    print(f"\n{len(results)} results in {elapsed:.0f} s", end="")
    missed = [r.id for r in results if r.passed is False]
    print(f"; targets missed: {', '.join(missed)}" if missed else "; all targets met")
    if failures:
        print(f"workloads that crashed: {', '.join(failures)}", file=sys.stderr)
    if args.write:
        write_benchmarks(markdown(results, machine(), elapsed))
        print("wrote BENCHMARKS.md")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
