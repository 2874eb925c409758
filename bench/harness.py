"""Timing helpers and the result record shared by every benchmark module.

Each workload module (``bench/wNN_*.py``) measures the same work three ways: on
runnables, written by hand with plain asyncio, and on langchain-core. It returns a list
of :class:`Result` from ``run(quick)``; ``bench/run.py`` collects them into one table.

Timings take the *best* of several rounds: the machine is shared, and the best round is
the one least disturbed by other processes. The median is kept beside it so a reader
can see how noisy a figure was.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Result",
    "Timing",
    "fmt_ratio",
    "fmt_value",
    "main",
    "print_table",
    "time_async_calls",
    "time_async_rounds",
    "time_sync_calls",
]


@dataclass
class Timing:
    """Seconds taken by each round of a measurement (per call, when timing calls)."""

    rounds: list[float]

    @property
    def best(self) -> float:
        return min(self.rounds)

    @property
    def median(self) -> float:
        return statistics.median(self.rounds)


@dataclass
class Result:
    """One workload's figures: the same work on runnables, by hand, and on langchain-core.

    ``runnables``, ``hand`` and ``langchain`` are in ``unit`` (``None`` when a side was not
    measured). ``ratios`` holds the ratios the target is judged on, by name
    (``"lc/rn"``: how many times faster runnables is than langchain-core). ``passed`` is
    ``None`` when the workload has no target (it only reports a figure).
    """

    id: str
    title: str
    unit: str
    runnables: float
    hand: float | None
    langchain: float | None
    target: str
    passed: bool | None
    ratios: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        if self.passed is None:
            return "report"
        return "pass" if self.passed else "FAIL"


def _settle() -> None:
    # Garbage left by the previous measurement must not be collected during this one.
    gc.collect()


async def time_async_rounds(
    one_round: Callable[[], Awaitable[Any]], rounds: int, warmup: int = 1
) -> Timing:
    """Time ``rounds`` runs of ``one_round()`` (seconds per round) after ``warmup`` runs."""
    for _ in range(warmup):
        await one_round()
    times = []
    for _ in range(rounds):
        _settle()
        start = time.perf_counter()
        await one_round()
        times.append(time.perf_counter() - start)
    return Timing(times)


async def time_async_calls(
    call: Callable[[], Awaitable[Any]], calls: int, rounds: int, warmup: int = 1
) -> Timing:
    """Seconds per call of ``await call()``, best and median over ``rounds`` rounds."""

    async def one_round() -> None:
        for _ in range(calls):
            await call()

    timing = await time_async_rounds(one_round, rounds, warmup)
    return Timing([t / calls for t in timing.rounds])


def time_sync_calls(call: Callable[[], Any], calls: int, rounds: int, warmup: int = 1) -> Timing:
    """Seconds per call of ``call()``, best and median over ``rounds`` rounds."""
    for _ in range(warmup):
        for _ in range(calls):
            call()
    times = []
    for _ in range(rounds):
        _settle()
        start = time.perf_counter()
        for _ in range(calls):
            call()
        times.append((time.perf_counter() - start) / calls)
    return Timing(times)


def fmt_value(value: float | None) -> str:
    """A figure with about three significant digits (``-`` when not measured)."""
    if value is None:
        return "-"
    if value == 0:
        return "0"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:#.3g}"


def fmt_ratio(value: float) -> str:
    """A ratio such as ``1,234x`` or ``1.07x``."""
    if value >= 100:
        return f"{value:,.0f}x"
    if value >= 10:
        return f"{value:.1f}x"
    return f"{value:.2f}x"


COLUMNS = ("workload", "unit", "runnables", "hand-written", "langchain-core", "ratios", "target")


def table_rows(results: Sequence[Result]) -> list[list[str]]:
    """The table's cells, one row per result (used for the terminal and for markdown)."""
    rows = []
    for r in results:
        ratios = ", ".join(f"{k} {fmt_ratio(v)}" for k, v in r.ratios.items()) or "-"
        rows.append(
            [
                f"{r.id} {r.title}",
                r.unit,
                fmt_value(r.runnables),
                fmt_value(r.hand),
                fmt_value(r.langchain),
                ratios,
                r.target,
                r.status,
            ]
        )
    return rows


def print_table(results: Sequence[Result], out: Any = None) -> None:
    """Print the results as an aligned text table, then every result's notes."""
    out = out or sys.stdout
    header = [*COLUMNS, "result"]
    rows = [header, *table_rows(results)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for n, row in enumerate(rows):
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip(), file=out)
        if n == 0:
            print("  ".join("-" * w for w in widths), file=out)
    notes = [(r.id, note) for r in results for note in r.notes]
    if notes:
        print(file=out)
        for rid, note in notes:
            print(f"{rid}: {note}", file=out)


def main(run: Callable[[bool], list[Result]]) -> None:
    """Command line for one workload module: ``python bench/wNN_x.py [--quick]``."""
    parser = argparse.ArgumentParser(description=(sys.modules["__main__"].__doc__ or "").strip())
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    args = parser.parse_args()
    print_table(run(args.quick))


def run_async(coro: Awaitable[Any]) -> Any:
    """Run a coroutine on a fresh default event loop (one per measured side)."""

    async def wrapper() -> Any:
        return await coro

    return asyncio.run(wrapper())
