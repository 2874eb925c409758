"""Setting up export from the standard environment variables (``runnables serve --otel``).

The SDK reads ``OTEL_SERVICE_NAME`` (the resource), ``OTEL_TRACES_SAMPLER`` and
``OTEL_TRACES_SAMPLER_ARG`` (the sampler) and ``OTEL_EXPORTER_OTLP_ENDPOINT`` (the
OTLP/HTTP exporters) itself; this module puts them together. Spans are exported in
batches from the SDK's background thread, so ending a span only appends it to a queue
and export never blocks the event loop. :class:`CountingSpanProcessor` counts the spans
that are dropped (queue full, or export failed) and logs them.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from typing import Any, NamedTuple

from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SpanExporter,
    SpanExportResult,
)

from runnables.errors import ConfigError

__all__ = [
    "CountingSpanProcessor",
    "Providers",
    "capture_content_from_env",
    "instrument_app",
    "instrument_from_env",
]

logger = logging.getLogger("runnables.otel")

CAPTURE_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"


def capture_content_from_env() -> bool:
    """Whether ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` asks for content."""
    value = os.environ.get(CAPTURE_ENV, "").strip().lower()
    if value in ("", "false", "0", "no", "no_content"):
        return False
    if value in ("true", "1", "yes", "span_only", "span_and_event", "event_only"):
        return True
    raise ConfigError(
        f"{CAPTURE_ENV}={os.environ[CAPTURE_ENV]!r} is not understood; set it to 'true' to "
        "record message content or 'false' (the default) to leave it out."
    )


class _CountingExporter(SpanExporter):
    def __init__(self, inner: SpanExporter, owner: CountingSpanProcessor) -> None:
        self.inner = inner
        self.owner = owner

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            result = self.inner.export(spans)
        except Exception:
            self.owner._dropped_spans(len(spans), "the export raised")
            raise
        if result is not SpanExportResult.SUCCESS:
            self.owner._dropped_spans(len(spans), "the exporter reported a failure")
        return result

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)


class CountingSpanProcessor(SpanProcessor):
    """A batch span processor that counts and logs the spans it drops.

    Ending a span appends it to a bounded queue (never waits); a background thread
    exports full batches. A span is dropped when the queue is full or its batch fails
    to export; ``dropped`` counts them and a warning is logged the first time and then
    every ``log_every`` drops.
    """

    def __init__(
        self, exporter: SpanExporter, *, max_queue_size: int = 2048, log_every: int = 1000
    ) -> None:
        self.max_queue_size = max_queue_size
        self.log_every = log_every
        self.dropped = 0
        self._lock = threading.Lock()
        self._batch = BatchSpanProcessor(
            _CountingExporter(exporter, self),
            max_queue_size=max_queue_size,
            max_export_batch_size=min(512, max_queue_size),
        )
        inner = getattr(self._batch, "_batch_processor", None)
        # The SDK's queue, to see it full before a span is added (it drops silently).
        self._queue: Any = getattr(inner, "_queue", None)

    def _dropped_spans(self, n: int, why: str) -> None:
        with self._lock:
            before = self.dropped
            self.dropped += n
            total = self.dropped
        if before == 0 or before // self.log_every != total // self.log_every:
            logger.warning(
                "OpenTelemetry: dropped %d span(s) because %s (%d dropped so far). Raise "
                "max_queue_size or check that the collector at OTEL_EXPORTER_OTLP_ENDPOINT "
                "is reachable.",
                n,
                why,
                total,
            )

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        self._batch.on_start(span, parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        queue = self._queue
        if queue is not None and len(queue) >= self.max_queue_size:
            self._dropped_spans(1, "the export queue was full")
        self._batch.on_end(span)

    def shutdown(self) -> None:
        self._batch.shutdown()  # type: ignore[no-untyped-call]

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._batch.force_flush(timeout_millis)


class Providers(NamedTuple):
    """The providers :func:`instrument_from_env` made (flush or shut them down to export)."""

    tracer_provider: Any
    meter_provider: Any


def instrument_from_env(*, set_global: bool = True) -> Providers:
    """Export traces and metrics over OTLP/HTTP as the environment says, and instrument.

    Builds an SDK tracer provider (service name from ``OTEL_SERVICE_NAME``, sampler from
    ``OTEL_TRACES_SAMPLER``/``_ARG``) exporting to ``OTEL_EXPORTER_OTLP_ENDPOINT``
    (default ``http://localhost:4318``) through a :class:`CountingSpanProcessor`, and a
    meter provider exporting there too (unless ``OTEL_METRICS_EXPORTER=none``); makes
    them the global providers (so FastAPI's and httpx's instrumentations use them) unless
    ``set_global=False``; then calls
    :func:`runnables.otel.instrument` with content capture from
    ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``. Returns both providers
    (``force_flush()``/``shutdown()`` them to export what is queued; they also do at exit).
    """
    from opentelemetry import metrics, trace
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider

    from runnables.otel.tracer import instrument

    capture = capture_content_from_env()
    resource = Resource.create()
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(CountingSpanProcessor(OTLPSpanExporter()))
    # OTEL_METRICS_EXPORTER=none: a backend that takes traces only (Phoenix, Jaeger).
    readers = (
        []
        if os.environ.get("OTEL_METRICS_EXPORTER", "").strip().lower() == "none"
        else [PeriodicExportingMetricReader(OTLPMetricExporter())]
    )
    meter_provider = MeterProvider(resource=resource, metric_readers=readers)
    if set_global:
        trace.set_tracer_provider(tracer_provider)
        metrics.set_meter_provider(meter_provider)
    instrument(tracer_provider, capture, meter_provider=meter_provider)
    return Providers(tracer_provider, meter_provider)


def instrument_app(app: Any, tracer_provider: Any = None, meter_provider: Any = None) -> Any:
    """``app`` (any ASGI app) with a SERVER span around each request, so a call that a
    request makes nests under it (``runnables serve --otel``)."""
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

    return OpenTelemetryMiddleware(
        app, tracer_provider=tracer_provider, meter_provider=meter_provider
    )
