"""OpenTelemetry traces and metrics for runnables calls (the ``otel`` extra).

One span per run: the span tree is the run tree, one trace per root call. The root span
nests under whatever span is current when the call starts (a FastAPI request span when
served), and each step's own code runs with its span current, so spans that user code
or an instrumented library (httpx) opens inside a step nest under that step, for
``ainvoke``, ``astream``, ``astream_events``, ``abatch`` and sync calls alike. Chat
models get spans by the OpenTelemetry GenAI semantic conventions (``chat {model}``,
kind CLIENT, ``gen_ai.*`` attributes, token usage also when streamed) and the
``gen_ai.client.token.usage`` / ``gen_ai.client.operation.duration`` histograms.

Everywhere, at once::

    from runnables import otel

    otel.instrument()  # the global tracer provider; or instrument(tracer_provider=...)
    ...
    otel.uninstrument()

For one call only, pass a tracer in ``callbacks``::

    chain.invoke(x, {"callbacks": [otel.OpenTelemetryTracer(tracer_provider=provider)]})

From the environment (what ``runnables serve --otel`` does): :func:`instrument_from_env`
reads ``OTEL_EXPORTER_OTLP_ENDPOINT``, ``OTEL_SERVICE_NAME``, ``OTEL_TRACES_SAMPLER``
(and ``_ARG``) and ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``, and exports
over OTLP/HTTP from a background thread, so export never blocks the event loop.

Message content is not recorded unless ``capture_content=True`` (or the environment
variable is ``true``). When not instrumented this module is never imported and a call
pays one truth test.
"""

from __future__ import annotations

try:
    import opentelemetry.sdk.trace
    import opentelemetry.trace  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised without the extra
    from runnables.errors import MissingExtraError

    raise MissingExtraError("runnables.otel", "otel", exc.name or "opentelemetry-sdk") from None

from runnables.otel.env import (
    CountingSpanProcessor,
    Providers,
    instrument_app,
    instrument_from_env,
)
from runnables.otel.tracer import (
    OpenTelemetryTracer,
    instrument,
    is_instrumented,
    uninstrument,
)

__all__ = [
    "CountingSpanProcessor",
    "OpenTelemetryTracer",
    "Providers",
    "instrument",
    "instrument_app",
    "instrument_from_env",
    "is_instrumented",
    "uninstrument",
]
