"""Batch jobs as traces: one job span, and one trace per row linked to it.

A job of a million rows must not become one trace of a million spans (no backend shows
that, and its root would stay open for hours), so the job gets a span of its own
(``batch {chain}``: input and output paths, whether it resumed, rows done and failed
when it ends) and each row's chain call is a trace of its own, sampled on its own,
whose root span carries a *link* to the job span and the row's key
(``runnables.batch.row_key``). :func:`~runnables.batch.run_batch` uses this only when
:func:`~runnables.otel.instrument` is in effect; otherwise this module is never
imported.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.trace import Link, Span, Status, StatusCode

from runnables.core.base import Runnable, call
from runnables.core.config import ROOT_HOOK, Context
from runnables.otel.tracer import RowRoot, _Settings

if TYPE_CHECKING:
    from runnables.batch.formats import Row

__all__ = ["JobTrace", "start_job"]

#: The row's key on its root span (text: JSON keys may be numbers).
ROW_KEY = "runnables.batch.row_key"


class JobTrace:
    """The job span of one ``run_batch``, and the step that runs each row in its trace."""

    def __init__(self, settings: _Settings, span: Span) -> None:
        self.settings = settings
        self.span = span
        self.links = [Link(span.get_span_context())]

    def row_step(self, step: Runnable[Any, Any]) -> Runnable[Any, Any]:
        """``step`` taking a :class:`~runnables.batch.formats.Row`, each call a trace of
        its own linked to the job span."""
        return _RowTraced(step, self)

    def finish(
        self,
        status: str,
        *,
        rows: int,
        new_rows: int,
        errors: int,
        new_errors: int,
        exc: BaseException | None = None,
    ) -> None:
        """End the job span with how the job ended."""
        span = self.span
        span.set_attributes(
            {
                "runnables.batch.status": status,
                "runnables.batch.rows_done": rows,
                "runnables.batch.rows_failed": errors,
                "runnables.batch.new_rows": new_rows,
                "runnables.batch.new_rows_failed": new_errors,
            }
        )
        if exc is not None and not isinstance(exc, asyncio.CancelledError | KeyboardInterrupt):
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
        elif status == "aborted":
            span.set_status(
                Status(StatusCode.ERROR, f"Aborted: {errors} rows failed, past max_errors.")
            )
        elif status == "interrupted":
            span.set_attribute("runnables.cancelled", True)
            span.set_status(Status(StatusCode.ERROR, "The job was interrupted."))
        span.end()


class _RowTraced(Runnable[Any, Any]):
    """Run a row through ``inner`` as a new root call with the row's own tracers."""

    def __init__(self, inner: Runnable[Any, Any], job: JobTrace) -> None:
        self.inner = inner
        self.job = job

    def _children(self) -> list[Runnable[Any, Any]]:
        return [self.inner]

    async def _ainvoke(self, input: Row, ctx: Context) -> Any:
        key = input.key
        row = RowRoot(self.job.links, {ROW_KEY: key if isinstance(key, str) else str(key)})
        tracers = self.job.settings.row_tracers(row)
        return await call(self.inner, input.input, ctx.replace(tracers=tracers))


def start_job(name: str, attributes: dict[str, Any]) -> JobTrace | None:
    """Open the job span if ``instrument()`` is in effect (``None`` otherwise).

    The span starts under whatever span is current but is not made current: the rows
    are traces of their own, linked to it.
    """
    hook = ROOT_HOOK[0] if ROOT_HOOK else None
    settings = getattr(hook, "__self__", None)
    if not isinstance(settings, _Settings):
        return None
    span = settings.tracer.start_span(name, None, trace.SpanKind.INTERNAL, attributes)
    return JobTrace(settings, span)
