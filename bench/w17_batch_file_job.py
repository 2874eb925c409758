"""W17: ``runnables batch`` over a file: 1,000,000 rows x 20 ms, max_concurrency 1024.

Each row's step awaits 20 ms, so the ideal wall time is rows x 20 ms / 1024 (19.5 s);
the job reads the JSONL input, runs the rows through ``abatch_stream``'s window and
writes one record a row as rows finish. It runs in a child process, so its peak RSS is
the job's own. Then the job is resumed after a crash: *resume start* is the time from starting
the resumed job to its first row running (fingerprinting the input, reading back a
million output keys, skipping the rows done). Two cases: a real crash (a job SIGKILLed
about 2% before its end; at full size its steps do not wait, to save 20 s), where
resume starts reading the input at the watermark of the job's last state write; and
the timed run's output cut by hand (the last 1,000 records gone, one torn), where the
watermark cannot be trusted and the input is read from the start. The target applies
to the real crash.

Hand-written: ``max_concurrency`` asyncio workers sharing the open input file, each
reading a line, parsing it, awaiting 20 ms and writing its JSON record (no resume, no
budget, no errors as records): what this machine does at best, to tell the job's own
cost from a busy machine's. Targets: wall <= 1.15x the ideal, peak RSS <= 100 MB,
resume start <= 3 s.
"""

from __future__ import annotations

import asyncio
import json
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from harness import Result, main


def peak_rss_mb() -> float:
    """This process's own peak RSS. Not ru_maxrss: Linux carries the parent's peak over
    to a child started with vfork+exec (as subprocess does), so after W16 had loaded a
    model the child reported the parent's 781 MB."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def new_loop_runner(loop: str) -> Any:
    """``asyncio.run`` on the loop ``run_batch_sync`` picks for ``loop`` (auto: uvloop's
    when installed), so the hand-written twin runs on the job's kind of loop."""
    from runnables.batch.job import run_on_new_loop

    return lambda main: run_on_new_loop(main, loop)


def child(input: str, output: str, delay: float, window: int, loop: str = "auto") -> None:
    """Run the job once (in this process) and print its figures as JSON."""
    from runnables import RunnableLambda
    from runnables.batch import run_batch_sync

    first: list[float] = []

    async def step(row: dict[str, Any]) -> int:
        if not first:
            first.append(time.perf_counter())
        await asyncio.sleep(delay)
        return int(row["n"]) * 2

    start = time.perf_counter()
    cpu = time.process_time()
    result = run_batch_sync(
        RunnableLambda(step),
        input,
        output,
        max_concurrency=window,
        loop=loop,  # type: ignore[arg-type]
    )
    wall = time.perf_counter() - start
    figures = {
        "wall": wall,
        "cpu_us_per_row": (time.process_time() - cpu) / max(1, result.new_rows) * 1e6,
        "first_row": (first[0] - start) if first else None,
        "peak_rss_mb": peak_rss_mb(),
        "rows": result.rows,
        "new_rows": result.new_rows,
    }
    print(json.dumps(figures))


async def hand(input: Path, output: Path, delay: float, window: int) -> float:
    """The same job written by hand with plain asyncio; returns its wall time."""
    start = time.perf_counter()
    with input.open("rb") as src, output.open("w") as out:

        async def worker() -> None:
            for line in src:
                row = json.loads(line)
                await asyncio.sleep(delay)
                out.write(json.dumps({"id": row["id"], "output": row["n"] * 2}) + "\n")

        await asyncio.gather(*(worker() for _ in range(window)))
    return time.perf_counter() - start


def child_command(
    input: Path, output: Path, delay: float, window: int, loop: str = "auto"
) -> list[str]:
    return [
        sys.executable,
        __file__,
        "--child",
        str(input),
        str(output),
        str(delay),
        str(window),
        loop,
    ]


def run_child(
    input: Path, output: Path, delay: float, window: int, loop: str = "auto"
) -> dict[str, Any]:
    cmd = child_command(input, output, delay, window, loop)
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def crash_and_resume(
    input: Path, output: Path, rows: int, window: int, delay: float, line_bytes: float, left: int
) -> dict[str, Any]:
    """A real crash: SIGKILL a job about ``left`` rows before its end, then resume it.

    The kill is timed by the output's size (``line_bytes`` a record, from the timed run):
    counting a million lines at each poll would be too slow to catch the job.
    """
    kill_at = (rows - left) * line_bytes
    proc = subprocess.Popen(child_command(input, output, delay, window), stdout=subprocess.DEVNULL)
    while proc.poll() is None:
        if output.exists() and output.stat().st_size >= kill_at:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.005)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the job ended before it could be killed"
    resumed = run_child(input, output, delay, window)
    assert resumed["rows"] == rows == _lines(output) and resumed["new_rows"] > 0, resumed
    return resumed


def _lines(path: Path) -> int:
    count = 0
    with path.open("rb") as f:
        while block := f.read(1 << 22):
            count += block.count(b"\n")
    return count


def measure(quick: bool) -> Result:
    rows, delay, window = (20_000, 0.005, 256) if quick else (1_000_000, 0.02, 1024)
    ideal = rows * delay / window
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "in.jsonl", Path(tmp) / "out.jsonl"
        with src.open("w") as f:
            for i in range(rows):
                f.write(f'{{"id":"r{i}","n":{i}}}\n')
        # The job and its hand-written twin on the loop runnables batch uses (uvloop's
        # when installed), then both on asyncio's, alternating.
        hand_wall = new_loop_runner("auto")(hand(src, Path(tmp) / "hand.jsonl", delay, window))
        run = run_child(src, out, delay, window)
        assert run["rows"] == rows == out.read_bytes().count(b"\n")
        hand_asyncio = new_loop_runner("asyncio")(
            hand(src, Path(tmp) / "hand.jsonl", delay, window)
        )
        run_asyncio = run_child(src, Path(tmp) / "asyncio.jsonl", delay, window, "asyncio")
        # A crash: the last 1,000 records lost, the first of them left torn.
        cut = 1_000
        data = out.read_bytes()
        keep = len(data)
        for _ in range(cut + 1):
            keep = data.rindex(b"\n", 0, keep)
        torn = data[keep + 1 : data.index(b"\n", keep + 1)]
        out.write_bytes(data[: keep + 1] + torn[: len(torn) // 2])
        resumed = run_child(src, out, delay, window)
        assert resumed["rows"] == rows and resumed["new_rows"] == cut, resumed
        # At full size the crashed job's steps do not wait (it would take another 20 s).
        crash_delay = delay if quick else 0.0
        line_bytes = out.stat().st_size / rows
        crashed = crash_and_resume(
            src,
            Path(tmp) / "crash.jsonl",
            rows,
            window,
            crash_delay,
            line_bytes,
            left=rows // 2 if quick else rows // 50,  # a quick job ends too soon to aim
        )
    over_ideal = run["wall"] / ideal
    passed = over_ideal <= 1.15 and run["peak_rss_mb"] <= 100 and crashed["first_row"] <= 3
    return Result(
        id="W17",
        title=f"batch file job {rows:,} rows x {delay * 1000:.0f} ms, max_concurrency {window}",
        unit="s",
        runnables=run["wall"],
        hand=hand_wall,
        langchain=None,
        ratios={
            "rn/ideal": over_ideal,
            "rn/hand": run["wall"] / hand_wall,
            "hand/ideal": hand_wall / ideal,
        },
        target="rn/ideal ≤ 1.15x, peak RSS ≤ 100 MB, resume start ≤ 3 s",
        passed=passed,
        notes=[
            f"peak RSS {run['peak_rss_mb']:.0f} MB; ideal {ideal:.2f} s; one run in a child; "
            f"{'uvloop' if uvloop_installed() else 'asyncio'} loop (runnables batch's "
            f"default), {run['cpu_us_per_row']:.1f} µs CPU a row",
            f"on asyncio's loop: job {run_asyncio['wall']:.2f} s "
            f"({run_asyncio['wall'] / ideal:.2f}x ideal, {run_asyncio['cpu_us_per_row']:.1f} "
            f"µs CPU a row), hand-written {hand_asyncio:.2f} s ({hand_asyncio / ideal:.2f}x); "
            f"rn/hand {run_asyncio['wall'] / hand_asyncio:.2f}x",
            f"resume start after a SIGKILL near the end: {crashed['first_row']:.2f} s "
            f"({crashed['new_rows']:,} rows redone, {crashed['wall']:.2f} s in all, peak RSS "
            f"{crashed['peak_rss_mb']:.0f} MB)",
            f"resume start of an output cut by hand (no watermark: input read from the "
            f"start): {resumed['first_row']:.2f} s ({resumed['wall']:.2f} s in all, peak RSS "
            f"{resumed['peak_rss_mb']:.0f} MB)",
        ],
    )


def uvloop_installed() -> bool:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True


def run(quick: bool) -> list[Result]:
    return [measure(quick)]


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], float(sys.argv[4]), int(sys.argv[5]), *sys.argv[6:7])
    else:
        main(run)
