"""Runs as OpenTelemetry spans: :class:`OpenTelemetryTracer`, ``instrument``/``uninstrument``.

The tracer is an engine :class:`~runnables.core.tracing.Tracer`: it sees each run start
and end, in run order, and opens and ends one span per run, parented by the run tree
(never by whatever span happens to be current, which is what goes wrong under async).
It gives each run a :class:`~runnables.core.tracing.Scope` holding the span's context;
the engine attaches it while the step's own code runs and detaches it in the same frame,
so spans opened inside a step nest under it and no detach ever happens in another
context.

When a call is instrumented globally, the root decides sampling before any run record
exists: a call the sampler drops runs on the plain path, with no tracer at all.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any
from uuid import UUID

from opentelemetry import context as otel_context
from opentelemetry import metrics as otel_metrics
from opentelemetry import trace
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode

from runnables.core.config import ROOT_HOOK
from runnables.core.tracing import Run, Scope, Tracer
from runnables.errors import ConfigError

__all__ = ["OpenTelemetryTracer", "instrument", "is_instrumented", "uninstrument"]

_SCOPE_NAME = "runnables"
#: Longest recorded content value (captured content only), in characters.
_MAX_CONTENT = 16_384
_TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304)
_DURATION_BUCKETS = (
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
)  # fmt: skip
_ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool"}


class _SpanScope(Scope):
    """A span's context, made current while its step's code runs."""

    __slots__ = ("ctx",)

    def __init__(self, ctx: otel_context.Context) -> None:
        self.ctx = ctx

    def attach(self) -> Any:
        return otel_context.attach(self.ctx)

    def detach(self, token: Any) -> None:
        otel_context.detach(token)


class _PresetIds(IdGenerator):
    """The provider's id generator, except that a root call whose sampling was decided
    up front gets the trace id the decision was made for (so a ratio sampler decides
    the same again when the span is made)."""

    def __init__(self, inner: IdGenerator) -> None:
        self.inner = inner
        self.next = threading.local()

    def generate_span_id(self) -> int:
        return self.inner.generate_span_id()

    def generate_trace_id(self) -> int:
        preset: int | None = getattr(self.next, "trace_id", None)
        if preset is None:
            return self.inner.generate_trace_id()
        self.next.trace_id = None
        return preset


class _Settings:
    """What every tracer of one instrumentation shares: the OpenTelemetry tracer, the
    histograms, whether to capture content, and the sampler for root decisions."""

    def __init__(
        self, tracer_provider: Any, meter_provider: Any, capture_content: bool | None
    ) -> None:
        if capture_content is None:
            from runnables.otel.env import capture_content_from_env

            capture_content = capture_content_from_env()
        elif not isinstance(capture_content, bool):
            raise ConfigError(
                f"capture_content must be True, False or None (read the environment), got "
                f"{capture_content!r}."
            )
        _check_provider("tracer_provider", tracer_provider, "get_tracer", "TracerProvider")
        _check_provider("meter_provider", meter_provider, "get_meter", "MeterProvider")
        provider = tracer_provider if tracer_provider is not None else trace.get_tracer_provider()
        tracer: Any = provider.get_tracer(_SCOPE_NAME)
        self.tracer = tracer
        self.capture_content = capture_content
        # The SDK's tracer samples with its provider's sampler and ids; an API-only or
        # proxy provider has none, and then every root call is traced (its spans are
        # whatever that provider makes of them).
        self.sampler: Any = getattr(self.tracer, "sampler", None)
        self.ids: _PresetIds | None = None
        inner_ids = getattr(self.tracer, "id_generator", None)
        if isinstance(inner_ids, _PresetIds):  # the provider caches its tracers
            self.ids = inner_ids
        elif self.sampler is not None and isinstance(inner_ids, IdGenerator):
            self.ids = _PresetIds(inner_ids)
            tracer.id_generator = self.ids
        else:
            self.sampler = None
        self.decide = _fast_decision(self.sampler)
        meters = meter_provider if meter_provider is not None else otel_metrics.get_meter_provider()
        meter = meters.get_meter(_SCOPE_NAME)
        self.token_usage = meter.create_histogram(
            "gen_ai.client.token.usage",
            unit="{token}",
            description="Number of input and output tokens used.",
            explicit_bucket_boundaries_advisory=list(_TOKEN_BUCKETS),
        )
        self.duration = meter.create_histogram(
            "gen_ai.client.operation.duration",
            unit="s",
            description="GenAI operation duration.",
            explicit_bucket_boundaries_advisory=list(_DURATION_BUCKETS),
        )

    def root_tracers(self) -> tuple[Tracer, ...]:
        """The tracers of a new root call: one of its own, or none if sampled out."""
        sampler = self.sampler
        if sampler is None:
            return (OpenTelemetryTracer._for_call(self, None),)
        ids = self.ids
        assert ids is not None
        trace_id = ids.inner.generate_trace_id()
        decide = self.decide
        if decide is not None:
            if not decide(trace_id):
                return ()
        else:
            result = sampler.should_sample(otel_context.get_current(), trace_id, _SCOPE_NAME)
            if not result.decision.is_recording():
                return ()
        return (OpenTelemetryTracer._for_call(self, trace_id),)

    def row_tracers(self, row: RowRoot) -> tuple[Tracer, ...]:
        """The tracers of one batch row's call: a trace of its own (decided as a root,
        whatever span is current), whose root span carries ``row``'s link and
        attributes; none if sampled out."""
        sampler = self.sampler
        if sampler is None:
            tracer = OpenTelemetryTracer._for_call(self, None)
        else:
            ids = self.ids
            assert ids is not None
            trace_id = ids.inner.generate_trace_id()
            result = sampler.should_sample(row.parent, trace_id, _SCOPE_NAME, links=row.links)
            if not result.decision.is_recording():
                return ()
            tracer = OpenTelemetryTracer._for_call(self, trace_id)
        tracer._row = row
        return (tracer,)


class RowRoot:
    """How a batch row's root span starts: in a new trace (``parent`` is an empty
    context, not the current one), linked to the job span, with the row's attributes."""

    __slots__ = ("attributes", "links", "parent")

    def __init__(self, links: list[Link], attributes: dict[str, Any]) -> None:
        self.parent = otel_context.Context()
        self.links = links
        self.attributes = attributes


def _fast_decision(sampler: Any) -> Callable[[int], bool] | None:
    """For the SDK's standard samplers, their decision for a root call without building a
    sampling result (a sampled-out call should cost next to nothing); ``None`` for any
    other sampler, which is then asked through ``should_sample``."""
    from opentelemetry.sdk.trace.sampling import (
        ALWAYS_OFF,
        ALWAYS_ON,
        ParentBased,
        TraceIdRatioBased,
    )

    if sampler is ALWAYS_OFF:
        return lambda trace_id: False
    if sampler is ALWAYS_ON:
        return lambda trace_id: True
    if type(sampler) is TraceIdRatioBased:
        bound, limit = sampler.bound, TraceIdRatioBased.TRACE_ID_LIMIT
        return lambda trace_id: trace_id & limit < bound
    if type(sampler) is not ParentBased:
        return None
    delegates = vars(sampler)
    defaults = {
        "_remote_parent_sampled": ALWAYS_ON,
        "_remote_parent_not_sampled": ALWAYS_OFF,
        "_local_parent_sampled": ALWAYS_ON,
        "_local_parent_not_sampled": ALWAYS_OFF,
    }
    if any(delegates.get(key) is not value for key, value in defaults.items()):
        return None
    root = _fast_decision(delegates.get("_root"))
    if root is None:
        return None
    get_current_span = trace.get_current_span

    def parent_based(trace_id: int) -> bool:
        parent = get_current_span().get_span_context()
        if parent.is_valid:
            return bool(parent.trace_flags.sampled)
        return root(trace_id)

    return parent_based


def _check_provider(arg: str, value: Any, method: str, kind: str) -> None:
    if value is not None and not callable(getattr(value, method, None)):
        raise ConfigError(
            f"{arg} must be an OpenTelemetry {kind} (with a {method}() method) or None for "
            f"the global one, got {value!r} (a {type(value).__name__})."
        )


class OpenTelemetryTracer(Tracer):
    """Records the runs of calls as OpenTelemetry spans (and chat metrics).

    Pass one in ``callbacks`` to trace one call (``instrument()`` traces every call)::

        tracer = OpenTelemetryTracer(tracer_provider=provider)
        await chain.ainvoke(x, {"callbacks": [tracer]})

    ``tracer_provider``/``meter_provider`` default to the global ones. Message content
    (chat messages, inputs and outputs) is recorded only with ``capture_content=True``;
    ``None`` reads ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``.
    """

    def __init__(
        self,
        tracer_provider: Any = None,
        meter_provider: Any = None,
        *,
        capture_content: bool | None = None,
    ) -> None:
        self._settings = _Settings(tracer_provider, meter_provider, capture_content)
        self._spans: dict[UUID, tuple[Span, otel_context.Context, float]] = {}
        self._trace_id: int | None = None
        self._row: RowRoot | None = None

    @classmethod
    def _for_call(cls, settings: _Settings, trace_id: int | None) -> OpenTelemetryTracer:
        self = cls.__new__(cls)
        self._settings = settings
        self._spans = {}
        self._trace_id = trace_id
        self._row = None
        return self

    # ------------------------------------------------------------------ runs

    def on_start(self, run: Run) -> None:
        settings = self._settings
        parent = self._spans.get(run.parent_run_id) if run.parent_run_id is not None else None
        # A root (or a run whose parent this tracer did not see) nests under the span
        # current at its start: the caller's, or the enclosing step's in a nested call.
        parent_ctx = parent[1] if parent is not None else None
        run_type = run.run_type
        if run_type == "chat_model":
            name, kind, attributes = _chat_start(run, settings.capture_content)
        elif run_type == "tool":
            name = f"execute_tool {run.name}"
            kind = SpanKind.INTERNAL
            attributes = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": run.name}
            if settings.capture_content:
                attributes["gen_ai.tool.call.arguments"] = _text(run.inputs.get("input"))
        else:
            name = run.name
            kind = SpanKind.INTERNAL
            attributes = {"runnables.run_type": run_type}
            if settings.capture_content and run.inputs.get("input", "") != "":
                attributes["input.value"] = _text(run.input)
        attributes["runnables.run_id"] = str(run.id)
        links = None
        if parent is None and self._row is not None:
            # A batch row: its own trace, linked to the job span (not its child).
            row, self._row = self._row, None
            parent_ctx, links = row.parent, row.links
            attributes.update(row.attributes)
        if parent is None and self._trace_id is not None and settings.ids is not None:
            settings.ids.next.trace_id = self._trace_id
            self._trace_id = None
            try:
                span = settings.tracer.start_span(name, parent_ctx, kind, attributes, links)
            finally:
                # Under a current span the SDK takes its trace id and leaves the preset:
                # it must not reach the next root span this thread makes.
                settings.ids.next.trace_id = None
        else:
            span = settings.tracer.start_span(name, parent_ctx, kind, attributes, links)
        ctx = trace.set_span_in_context(span, parent_ctx)
        self._spans[run.id] = (span, ctx, time.monotonic())
        run.scope = _SpanScope(ctx)

    def on_end(self, run: Run) -> None:
        entry = self._spans.pop(run.id, None)
        if entry is None:
            return
        span, _, started = entry
        settings = self._settings
        if run.run_type == "chat_model":
            _chat_end(settings, span, run, started, None)
        elif settings.capture_content and span.is_recording():
            key = "gen_ai.tool.call.result" if run.run_type == "tool" else "output.value"
            span.set_attribute(key, _text(run.output if run.outputs else None))
        span.end()

    def on_error(self, run: Run) -> None:
        entry = self._spans.pop(run.id, None)
        if entry is None:
            return
        span, _, started = entry
        exc = run.exception
        error_type = _error_type(exc)
        if isinstance(exc, GeneratorExit):
            # The consumer closed the stream before its end: the run stopped early, which
            # is not a failure of the step.
            span.set_attribute("runnables.cancelled", True)
            span.add_event("stream closed before its end")
        elif isinstance(exc, asyncio.CancelledError):
            span.set_attribute("runnables.cancelled", True)
            span.set_attribute("error.type", error_type)
            span.set_status(Status(StatusCode.ERROR, "The run was cancelled."))
        else:
            span.set_attribute("error.type", error_type)
            if exc is not None:
                span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
        if run.run_type == "chat_model":
            _chat_end(self._settings, span, run, started, error_type)
        span.end()


# ---------------------------------------------------------------------- GenAI conventions


def _chat_start(run: Run, capture: bool) -> tuple[str, SpanKind, dict[str, Any]]:
    meta = run.metadata
    model = meta.get("ls_model_name")
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": meta.get("ls_provider") or "unknown",
    }
    if model:
        attributes["gen_ai.request.model"] = model
    for key, attr in (
        ("ls_temperature", "gen_ai.request.temperature"),
        ("ls_max_tokens", "gen_ai.request.max_tokens"),
    ):
        value = meta.get(key)
        if value is not None:
            attributes[attr] = value
    stop = meta.get("ls_stop")
    if stop:
        attributes["gen_ai.request.stop_sequences"] = list(stop)
    if capture:
        messages = run.inputs.get("messages")
        if isinstance(messages, list) and messages and isinstance(messages[0], list):
            attributes["gen_ai.input.messages"] = _messages_json(messages[0])
    return (f"chat {model}" if model else "chat"), SpanKind.CLIENT, attributes


def _chat_end(
    settings: _Settings, span: Span, run: Run, started: float, error_type: str | None
) -> None:
    message = run.output if run.outputs else None
    attrs: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": run.metadata.get("ls_provider") or "unknown",
    }
    model = run.metadata.get("ls_model_name")
    if model:
        attrs["gen_ai.request.model"] = model
    usage = getattr(message, "usage_metadata", None)
    if message is not None:
        meta = getattr(message, "response_metadata", None) or {}
        response_model = meta.get("model_name") or meta.get("model")
        if response_model:
            attrs["gen_ai.response.model"] = response_model
            span.set_attribute("gen_ai.response.model", response_model)
        message_id = getattr(message, "id", None)
        if message_id:
            span.set_attribute("gen_ai.response.id", message_id)
        finish = meta.get("finish_reason")
        if finish:
            span.set_attribute("gen_ai.response.finish_reasons", [str(finish)])
        if usage:
            span.set_attribute("gen_ai.usage.input_tokens", int(usage.get("input_tokens", 0)))
            span.set_attribute("gen_ai.usage.output_tokens", int(usage.get("output_tokens", 0)))
        if settings.capture_content:
            span.set_attribute("gen_ai.output.messages", _messages_json([message], finish))
    settings.duration.record(
        time.monotonic() - started,
        {**attrs, "error.type": error_type} if error_type else attrs,
    )
    if usage:
        settings.token_usage.record(
            int(usage.get("input_tokens", 0)), {**attrs, "gen_ai.token.type": "input"}
        )
        settings.token_usage.record(
            int(usage.get("output_tokens", 0)), {**attrs, "gen_ai.token.type": "output"}
        )


def _messages_json(messages: list[Any], finish: Any = None) -> str:
    out = []
    for message in messages:
        parts: list[dict[str, Any]] = []
        text = getattr(message, "text", None)
        if text:
            parts.append({"type": "text", "content": text})
        for call in getattr(message, "tool_calls", None) or ():
            parts.append(
                {
                    "type": "tool_call",
                    "id": call.get("id"),
                    "name": call.get("name"),
                    "arguments": call.get("args"),
                }
            )
        entry: dict[str, Any] = {
            "role": _ROLES.get(getattr(message, "type", ""), getattr(message, "type", "")),
            "parts": parts,
        }
        if finish is not None:
            entry["finish_reason"] = str(finish)
        out.append(entry)
    return _clip(json.dumps(out, default=str))


def _text(value: Any) -> str:
    if isinstance(value, str):
        return _clip(value)
    if isinstance(value, Mapping | list | tuple | int | float | bool) or value is None:
        try:
            return _clip(json.dumps(value, default=str))
        except (TypeError, ValueError):
            pass
    return _clip(repr(value))


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_CONTENT else text[:_MAX_CONTENT] + "..."


def _error_type(exc: BaseException | None) -> str:
    if exc is None:
        return "_OTHER"
    cls = type(exc)
    module = cls.__module__
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


# ---------------------------------------------------------------------- global


def instrument(
    tracer_provider: Any = None,
    capture_content: bool | None = None,
    *,
    meter_provider: Any = None,
) -> None:
    """Trace every call from now on (replacing an earlier ``instrument``).

    ``tracer_provider``/``meter_provider`` default to the global ones;
    ``capture_content`` (default: ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``,
    off unless ``true``) records message content, inputs and outputs. Each root call
    asks the provider's sampler first; a call sampled out runs untraced.
    """
    settings = _Settings(tracer_provider, meter_provider, capture_content)
    ROOT_HOOK[:] = [settings.root_tracers]


def uninstrument() -> None:
    """Stop tracing calls (calls already running finish their spans)."""
    ROOT_HOOK.clear()


def is_instrumented() -> bool:
    """Whether ``instrument`` is in effect."""
    return bool(ROOT_HOOK)
