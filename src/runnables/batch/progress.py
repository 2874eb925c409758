"""Progress of a batch job: a bar on a terminal, figures for the state file, a summary."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, TextIO

__all__ = ["Progress"]

#: Seconds between redraws of the bar and between rewrites of the state file.
DRAW_EVERY = 0.2
STATE_EVERY = 1.0


class Progress:
    """Counts rows, errors and tokens; draws a bar on ``stream`` when asked and a TTY."""

    def __init__(
        self,
        *,
        total: int | None,
        rows_before: int,
        errors_before: int,
        tokens_before: int,
        draw: bool,
        stream: TextIO | None = None,
    ) -> None:
        self.total = total
        self.rows_before = rows_before
        self.new_rows = 0
        self.errors = errors_before
        self.tokens = tokens_before
        self.stream = stream if stream is not None else sys.stderr
        self.draw = draw and self.stream.isatty()
        self.summary = draw
        self.started = time.monotonic()
        self._drawn = 0.0
        self._saved = self.started

    @property
    def rows(self) -> int:
        """Rows with a record in the output, this run and earlier ones."""
        return self.rows_before + self.new_rows

    def add(self, rows: int, errors: int, tokens: int) -> None:
        """Count rows just written; redraw the bar if it is time."""
        self.new_rows += rows
        self.errors += errors
        self.tokens += tokens
        if self.draw:
            now = time.monotonic()
            if now - self._drawn >= DRAW_EVERY:
                self._drawn = now
                self.stream.write("\r" + self.line(now) + "\x1b[K")
                self.stream.flush()

    def due(self) -> bool:
        """Whether the state file should be rewritten now (about once a second)."""
        now = time.monotonic()
        if now - self._saved >= STATE_EVERY:
            self._saved = now
            return True
        return False

    def rate(self, now: float | None = None) -> float:
        """Rows per second in this run."""
        spent = (now if now is not None else time.monotonic()) - self.started
        return self.new_rows / spent if spent > 0 else 0.0

    def line(self, now: float) -> str:
        """The bar: rows done of total, rows/s, errors, tokens, time left."""
        rate = self.rate(now)
        if self.total:
            share = min(1.0, self.rows / self.total)
            filled = int(share * 24)
            bar = f"[{'#' * filled}{'.' * (24 - filled)}] {self.rows:,}/{self.total:,}"
            left = (self.total - self.rows) / rate if rate > 0 else None
            eta = f" ETA {_clock(left)}" if left is not None else ""
        else:
            bar, eta = f"{self.rows:,} rows", ""
        return f"{bar} {rate:,.0f} rows/s, {self.errors:,} errors, {self.tokens:,} tokens{eta}"

    def snapshot(self) -> dict[str, Any]:
        """The figures the state file carries for other processes."""
        now = time.monotonic()
        return {
            "rows_done": self.rows,
            "rows_total": self.total,
            "errors": self.errors,
            "tokens": self.tokens,
            "rows_per_second": round(self.rate(now), 1),
            "updated_at": time.time(),
        }

    def finish(self, status: str, output: Path) -> None:
        """End the bar and print the summary."""
        if self.draw:
            self.stream.write("\r\x1b[K")
        if self.summary:
            spent = time.monotonic() - self.started
            self.stream.write(
                f"batch {status}: {self.rows:,} rows in {output} ({self.new_rows:,} this run "
                f"in {spent:.1f} s, {self.rate():,.0f} rows/s), {self.errors:,} errors, "
                f"{self.tokens:,} tokens\n"
            )
            self.stream.flush()


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"
