"""Spans per run: the span tree is the run tree, spans opened in steps nest under them."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.trace import SpanKind, StatusCode

from runnables import (
    Runnable,
    RunnableBranch,
    RunnableGenerator,
    RunnableLambda,
    RunnableParallel,
    otel,
)
from runnables.models.fake import FakeListChatModel, FakeTimedChatModel

from .conftest import RunRecorder, Telemetry, span_edges


def _chain() -> Runnable[Any, Any]:
    attempts = {"n": 0}

    def flaky(x: int) -> int:
        attempts["n"] += 1
        if attempts["n"] % 2 == 1:
            raise ValueError("first attempt fails")
        return x + 1

    def broken(x: int) -> int:
        raise RuntimeError("primary is down")

    async def words(chunks: AsyncIterator[Any]) -> AsyncIterator[str]:
        async for value in chunks:
            for key in sorted(value):
                yield f"{key}={value[key]} "

    branch: RunnableBranch[int, int] = RunnableBranch(
        (lambda x: x > 100, RunnableLambda[int, int](lambda x: -x, name="big")),
        RunnableLambda(lambda x: x * 10, name="small"),
    )
    return (
        RunnableLambda[int, int](lambda x: x + 1, name="inc")
        | RunnableParallel(
            retried=RunnableLambda(flaky).with_retry(
                stop_after_attempt=2, wait_exponential_jitter=False
            ),
            fell_back=RunnableLambda(broken).with_fallbacks(
                [RunnableLambda(lambda x: x * 2, name="backup")]
            ),
            branched=branch,
        )
        | RunnableGenerator(words)
    )


@pytest.mark.parametrize("how", ["ainvoke", "astream", "astream_events", "abatch", "invoke"])
async def test_span_parent_edges_equal_the_run_tree_in_one_trace(
    telemetry: Telemetry, how: str
) -> None:
    chain = _chain()
    recorder = RunRecorder()
    config: Any = {"callbacks": [recorder]}
    if how == "ainvoke":
        out = await chain.ainvoke(1, config)
    elif how == "astream":
        out = "".join([c async for c in chain.astream(1, config)])
    elif how == "astream_events":
        events = [e async for e in chain.astream_events(1, config, version="v2")]
        out = events[-1]["data"]["output"]
    elif how == "abatch":
        out = (await chain.abatch([1], config))[0]
    else:
        out = await asyncio.to_thread(chain.invoke, 1, config)
    # Streamed, the parallel step's keys arrive in any order.
    assert sorted(out.split()) == ["branched=20", "fell_back=4", "retried=3"]
    spans = telemetry.spans()
    assert len(spans) == len(recorder.runs) >= 10
    assert span_edges(spans) == recorder.edges()
    assert len({s.context.trace_id for s in spans}) == 1
    names = {s.name for s in spans}
    assert {"inc", "flaky", "broken", "backup", "small", "words"} <= names
    failed = [s for s in spans if s.status.status_code is StatusCode.ERROR]
    assert sorted(s.name for s in failed) == ["broken", "flaky"]


async def test_each_root_call_is_its_own_trace(telemetry: Telemetry) -> None:
    chain = RunnableLambda[int, int](lambda x: x + 1) | RunnableLambda(lambda x: x * 2)
    await chain.ainvoke(1)
    await chain.abatch([1, 2, 3])
    roots = [s for s in telemetry.spans() if s.parent is None]
    assert len(roots) == 4
    assert len({s.context.trace_id for s in telemetry.spans()}) == 4


@pytest.mark.parametrize("how", ["ainvoke", "astream", "invoke"])
async def test_a_span_opened_in_a_lambda_nests_under_that_step(
    telemetry: Telemetry, how: str
) -> None:
    user = telemetry.provider.get_tracer("user")

    def work(x: int) -> int:
        with user.start_as_current_span("user work"):
            return x + 1

    async def awork(x: int) -> int:
        await asyncio.sleep(0)
        with user.start_as_current_span("user async work"):
            return x * 2

    def on_thread(x: int) -> int:
        with user.start_as_current_span("user thread work"):
            return x

    def sync_gen(chunks: Iterator[int]) -> Iterator[int]:
        for x in chunks:
            with user.start_as_current_span("user generator work"):
                yield x

    chain = RunnableLambda(lambda x: x, name="first") | RunnableParallel(
        s=RunnableLambda(work, name="sync step"),
        a=RunnableLambda(awork, name="async step"),
        t=RunnableLambda(on_thread, name="thread step", offload="always"),
        # Fed by an async step, a sync generator runs on a thread of its own.
        g=RunnableLambda(awork) | RunnableGenerator(sync_gen, name="generator step"),
    )
    if how == "ainvoke":
        await chain.ainvoke(1)
    elif how == "astream":
        [c async for c in chain.astream(1)]
    else:
        await asyncio.to_thread(chain.invoke, 1)
    for inner, step in (
        ("user work", "sync step"),
        ("user thread work", "thread step"),
        ("user generator work", "generator step"),
    ):
        span = telemetry.named(inner)
        assert span.parent is not None
        assert span.parent.span_id == telemetry.named(step).context.span_id
    async_steps = {
        s.context.span_id for s in telemetry.spans() if s.name in ("async step", "awork")
    }
    async_work = [s for s in telemetry.spans() if s.name == "user async work"]
    assert len(async_work) == 2
    assert all(s.parent is not None and s.parent.span_id in async_steps for s in async_work)


async def test_the_root_nests_under_the_ambient_span(telemetry: Telemetry) -> None:
    user = telemetry.provider.get_tracer("user")
    chain = RunnableLambda[int, int](lambda x: x + 1, name="a") | RunnableLambda(
        lambda x: x, name="b"
    )
    with user.start_as_current_span("request") as request:
        await chain.ainvoke(1)
        await asyncio.to_thread(chain.invoke, 1)
    roots = [s for s in telemetry.spans() if s.name == "RunnableSequence"]
    assert len(roots) == 2
    for root in roots:
        assert root.parent is not None
        assert root.parent.span_id == request.get_span_context().span_id


async def test_astream_of_parallel_generators_never_fails_to_detach(
    telemetry: Telemetry, caplog: pytest.LogCaptureFixture
) -> None:
    user = telemetry.provider.get_tracer("user")

    def make(tag: str) -> RunnableGenerator[Any, Any]:
        async def gen(chunks: AsyncIterator[Any]) -> AsyncIterator[str]:
            async for x in chunks:
                for i in range(3):
                    with user.start_as_current_span(f"{tag} chunk"):
                        await asyncio.sleep(0)
                    yield f"{tag}{x}{i}"

        return RunnableGenerator(gen, name=tag)

    chain = RunnableLambda(lambda x: x, name="src") | RunnableParallel(
        a=make("a"), b=make("b"), c=make("c")
    )
    with caplog.at_level(logging.ERROR, logger="opentelemetry.context"):
        got = [c async for c in chain.astream(1)]
        # Leaving a stream early closes the generators mid-way.
        stream = chain.astream(2)
        await stream.__anext__()
        await stream.aclose()  # type: ignore[attr-defined]
    assert len(got) == 9
    assert "Failed to detach context" not in caplog.text
    assert trace.get_current_span() is trace.INVALID_SPAN
    for tag in "abc":
        chunk_spans = [s for s in telemetry.spans() if s.name == f"{tag} chunk"]
        step = [s for s in telemetry.spans() if s.name == tag]
        assert len(step) == 2
        step_ids = {s.context.span_id for s in step}
        assert chunk_spans and all(s.parent and s.parent.span_id in step_ids for s in chunk_spans)
    closed = [s for s in telemetry.spans() if (s.attributes or {}).get("runnables.cancelled")]
    assert closed


async def test_an_error_sets_status_error_type_and_an_exception_event(
    telemetry: Telemetry,
) -> None:
    def boom(x: int) -> int:
        raise KeyError("missing")

    with pytest.raises(KeyError):
        await (RunnableLambda(lambda x: x, name="ok") | RunnableLambda(boom)).ainvoke(1)
    span = telemetry.named("boom")
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes is not None and span.attributes["error.type"] == "KeyError"
    assert [e.name for e in span.events] == ["exception"]
    assert telemetry.named("ok").status.status_code is StatusCode.UNSET


async def test_a_cancelled_run_says_so(telemetry: Telemetry) -> None:
    started = asyncio.Event()

    async def wait(x: int) -> int:
        started.set()
        await asyncio.Event().wait()
        return x

    task = asyncio.create_task(RunnableLambda(wait).ainvoke(1, {"tags": ["t"]}))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    span = telemetry.named("wait")
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "The run was cancelled."
    assert span.attributes is not None and span.attributes["runnables.cancelled"] is True
    assert span.attributes["error.type"] == "asyncio.exceptions.CancelledError"


async def test_a_chat_model_span_follows_the_genai_conventions(telemetry: Telemetry) -> None:
    # A model that reports usage (as a provider does); the list fakes report none.
    model = FakeTimedChatModel(["hello there"])
    recorder = RunRecorder()
    await model.ainvoke("hi", {"callbacks": [recorder]})
    [span] = telemetry.spans()
    assert span.kind is SpanKind.CLIENT
    attrs = dict(span.attributes or {})
    assert attrs["gen_ai.operation.name"] == "chat"
    input_tokens = attrs["gen_ai.usage.input_tokens"]
    assert isinstance(input_tokens, int) and input_tokens > 0
    assert "gen_ai.input.messages" not in attrs  # content is off by default
    [duration] = telemetry.histogram("gen_ai.client.operation.duration")
    assert duration.count == 1


async def test_content_is_captured_only_when_asked(telemetry: Telemetry) -> None:
    otel.uninstrument()
    otel.instrument(telemetry.provider, True, meter_provider=telemetry.meters)
    model = FakeListChatModel(responses=["hello there"])
    await (RunnableLambda(lambda x: x, name="pass") | model).ainvoke("hi")
    chat = next(s for s in telemetry.spans() if s.kind is SpanKind.CLIENT)
    attrs = dict(chat.attributes or {})
    sent, received = attrs["gen_ai.input.messages"], attrs["gen_ai.output.messages"]
    assert isinstance(sent, str) and isinstance(received, str)
    assert '"content": "hi"' in sent
    assert '"content": "hello there"' in received
    assert dict(telemetry.named("pass").attributes or {})["input.value"] == "hi"


async def test_a_tool_run_is_an_execute_tool_span(telemetry: Telemetry) -> None:
    class Weather(Runnable[str, str]):
        name = "weather"
        _run_type = "tool"

        async def _ainvoke(self, input: str, ctx: Any) -> str:
            return f"sunny in {input}"

    await Weather().ainvoke("Paris")
    [span] = telemetry.spans()
    assert span.name == "execute_tool weather"
    attrs = dict(span.attributes or {})
    assert attrs["gen_ai.operation.name"] == "execute_tool"
    assert attrs["gen_ai.tool.name"] == "weather"


async def test_a_sampled_out_call_records_nothing_and_runs_untraced() -> None:
    provider = TracerProvider(sampler=ALWAYS_OFF)
    otel.instrument(provider)
    try:
        from runnables.core.config import CURRENT, ROOT_HOOK

        assert ROOT_HOOK[0]() == ()
        seen: list[Any] = []

        def look(x: int) -> int:
            seen.append(CURRENT.get())
            return x

        assert await (RunnableLambda(look) | RunnableLambda(look)).ainvoke(1) == 1
        assert seen == [None, None]  # the plain path: no context, no tracer
    finally:
        otel.uninstrument()


async def test_a_ratio_sampler_decides_once_per_root_call() -> None:
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    t = Telemetry(ParentBased(TraceIdRatioBased(0.5)))
    otel.instrument(t.provider)
    try:
        chain = RunnableLambda[int, int](lambda x: x + 1) | RunnableLambda(lambda x: x * 2)
        for i in range(400):
            await chain.ainvoke(i)
    finally:
        otel.uninstrument()
    traces: dict[int, int] = {}
    for span in t.spans():
        traces[span.context.trace_id] = traces.get(span.context.trace_id, 0) + 1
    assert set(traces.values()) == {3}  # every recorded call is whole
    # The root's decision is the one made up front (sampling twice would keep ~1/4).
    assert 140 <= len(traces) <= 260


async def test_the_per_call_form_traces_only_that_call() -> None:
    t = Telemetry()
    tracer = otel.OpenTelemetryTracer(t.provider, t.meters)
    chain = RunnableLambda[int, int](lambda x: x + 1, name="one") | RunnableLambda(
        lambda x: x, name="two"
    )
    await chain.ainvoke(1)
    assert t.spans() == []
    await chain.ainvoke(1, {"callbacks": [tracer]})
    assert sorted(s.name for s in t.spans()) == ["RunnableSequence", "one", "two"]
    assert not otel.is_instrumented()


def test_importing_runnables_imports_no_opentelemetry() -> None:
    code = (
        "import sys, runnables\n"
        "from runnables import RunnableLambda\n"
        "RunnableLambda(lambda x: x).invoke(1)\n"
        "print(sorted(m for m in sys.modules if m.startswith('opentelemetry')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_bad_arguments_name_the_value_and_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    from runnables.errors import ConfigError

    with pytest.raises(ConfigError, match=r"tracer_provider must be an OpenTelemetry .*'nope'"):
        otel.instrument("nope")
    with pytest.raises(ConfigError, match=r"capture_content must be .* got 'yes'"):
        otel.instrument(None, "yes")  # type: ignore[arg-type]
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "maybe")
    with pytest.raises(ConfigError, match=r"'maybe' is not understood; set it to 'true'"):
        otel.instrument()
    assert not otel.is_instrumented()


@pytest.mark.parametrize("ambient", [None, True, False])
def test_the_fast_root_decision_agrees_with_the_sdk_sampler(ambient: bool | None) -> None:
    import random

    from opentelemetry import context as otel_context
    from opentelemetry.sdk.trace.sampling import (
        ALWAYS_ON,
        ParentBased,
        TraceIdRatioBased,
    )
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

    from runnables.otel.tracer import _fast_decision

    token = None
    if ambient is not None:
        parent = SpanContext(1, 2, False, TraceFlags(TraceFlags.SAMPLED if ambient else 0))
        token = otel_context.attach(trace.set_span_in_context(NonRecordingSpan(parent)))
    try:
        for sampler in (
            ALWAYS_OFF,
            ALWAYS_ON,
            TraceIdRatioBased(0.3),
            ParentBased(TraceIdRatioBased(0.3)),
            ParentBased(ALWAYS_OFF),
        ):
            decide = _fast_decision(sampler)
            assert decide is not None
            for _ in range(200):
                trace_id = random.getrandbits(128)
                sdk = sampler.should_sample(otel_context.get_current(), trace_id, "x")
                # opentelemetry-sdk leaves Decision.is_recording unannotated.
                recording = sdk.decision.is_recording()  # type: ignore[no-untyped-call]
                assert decide(trace_id) is recording, sampler
    finally:
        if token is not None:
            otel_context.detach(token)
