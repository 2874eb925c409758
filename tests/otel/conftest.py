from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk", reason="runnables.otel needs the 'otel' extra")

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from runnables import otel
from runnables.core.tracing import Run, Tracer


class Telemetry:
    """A tracer provider and meter provider that keep what they record."""

    def __init__(self, sampler: Any = None) -> None:
        self.exporter = InMemorySpanExporter()
        self.provider = TracerProvider(sampler=sampler) if sampler else TracerProvider()
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.reader = InMemoryMetricReader()
        self.meters = MeterProvider(metric_readers=[self.reader])

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def named(self, name: str) -> ReadableSpan:
        found = [s for s in self.spans() if s.name == name]
        assert len(found) == 1, [s.name for s in self.spans()]
        return found[0]

    def histogram(self, name: str) -> list[Any]:
        data = self.reader.get_metrics_data()
        points: list[Any] = []
        for rm in data.resource_metrics if data else ():
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    if metric.name == name:
                        points.extend(metric.data.data_points)
        return points


class RunRecorder(Tracer):
    """Records the run tree the engine reports: (run id, parent run id, name)."""

    def __init__(self) -> None:
        self.runs: list[Run] = []

    def on_start(self, run: Run) -> None:
        self.runs.append(run)

    def edges(self) -> set[tuple[str, str | None]]:
        return {(str(r.id), str(r.parent_run_id) if r.parent_run_id else None) for r in self.runs}


def span_edges(spans: list[ReadableSpan]) -> set[tuple[str, str | None]]:
    """(run id, parent's run id) of each span, by the span's parent link."""
    by_span = {s.context.span_id: s for s in spans}
    edges: set[tuple[str, str | None]] = set()
    for s in spans:
        attrs = s.attributes or {}
        parent = by_span.get(s.parent.span_id) if s.parent is not None else None
        parent_run = (parent.attributes or {}).get("runnables.run_id") if parent else None
        edges.add((str(attrs["runnables.run_id"]), None if parent_run is None else str(parent_run)))
    return edges


@pytest.fixture
def telemetry() -> Iterator[Telemetry]:
    """Every call traced into memory; uninstrumented afterwards."""
    t = Telemetry()
    otel.instrument(t.provider, False, meter_provider=t.meters)
    try:
        yield t
    finally:
        otel.uninstrument()
