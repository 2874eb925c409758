"""Export: OTLP/HTTP to a receiver on loopback, request spans when served, dropped spans."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind

from runnables import RunnableLambda, RunnableParallel, otel
from runnables.cli.main import make_parser

from .conftest import Telemetry


class Receiver:
    """A minimal OTLP/HTTP trace receiver on 127.0.0.1 (protobuf bodies)."""

    def __init__(self) -> None:
        self.spans: list[tuple[str, str]] = []  # (service.name, span name)
        self.paths: list[str] = []
        #: (span name, kind, trace id, span id, parent span id) of each span received
        self.records: list[tuple[str, int, bytes, bytes, bytes]] = []
        #: every span received, as its protobuf message (links, attributes, status)
        self.raw: list[Any] = []
        received = self.spans
        paths = self.paths
        records = self.records
        raw = self.raw

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                paths.append(self.path)
                if self.path == "/v1/traces":
                    request = ExportTraceServiceRequest()
                    request.ParseFromString(body)
                    for rs in request.resource_spans:
                        service = next(
                            a.value.string_value
                            for a in rs.resource.attributes
                            if a.key == "service.name"
                        )
                        for ss in rs.scope_spans:
                            received.extend((service, s.name) for s in ss.spans)
                            records.extend(
                                (s.name, s.kind, s.trace_id, s.span_id, s.parent_span_id)
                                for s in ss.spans
                            )
                            raw.extend(ss.spans)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.thread.start()
    try:
        yield r
    finally:
        r.server.shutdown()
        r.server.server_close()
        r.thread.join()


async def test_every_span_reaches_an_otlp_receiver_after_force_flush(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)
    monkeypatch.setenv("OTEL_SERVICE_NAME", "otel-test-service")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "parentbased_always_on")
    providers = otel.instrument_from_env(set_global=False)
    try:
        chain = RunnableLambda[int, int](lambda x: x + 1, name="one") | RunnableParallel(
            a=RunnableLambda(lambda x: x, name="two"), b=RunnableLambda(lambda x: x, name="three")
        )
        for i in range(20):
            await chain.ainvoke(i)
        assert providers.tracer_provider.force_flush(10_000)
    finally:
        otel.uninstrument()
        providers.tracer_provider.shutdown()
        providers.meter_provider.shutdown()
    assert len(receiver.spans) == 20 * 5
    assert {service for service, _ in receiver.spans} == {"otel-test-service"}
    assert {name for _, name in receiver.spans} == {
        "RunnableSequence",
        "one",
        "RunnableParallel<a,b>",
        "two",
        "three",
    }


@pytest.mark.parametrize(
    ("sampler", "arg", "expected"),
    [("always_off", None, 0), ("traceidratio", "0", 0), ("traceidratio", "1", 10)],
)
async def test_the_sampler_comes_from_the_environment(
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
    sampler: str,
    arg: str | None,
    expected: int,
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", "none")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", sampler)
    if arg is not None:
        monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", arg)
    providers = otel.instrument_from_env(set_global=False)
    try:
        chain = RunnableLambda[int, int](lambda x: x + 1, name="one")
        for i in range(10):
            await chain.ainvoke(i)
        assert providers.tracer_provider.force_flush(10_000)
    finally:
        otel.uninstrument()
        providers.tracer_provider.shutdown()
        providers.meter_provider.shutdown()
    assert len(receiver.spans) == expected


@pytest.mark.parametrize("metrics", ["otlp", "none"])
async def test_chat_metrics_go_to_the_receiver_unless_the_exporter_is_none(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch, metrics: str
) -> None:
    from runnables.models.fake import FakeListChatModel

    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", metrics)
    providers = otel.instrument_from_env(set_global=False)
    try:
        await FakeListChatModel(responses=["hi"]).ainvoke("hello")
        assert providers.tracer_provider.force_flush(10_000)
        assert providers.meter_provider.force_flush(10_000)
    finally:
        otel.uninstrument()
        providers.tracer_provider.shutdown()
        providers.meter_provider.shutdown()
    assert ("/v1/metrics" in receiver.paths) is (metrics == "otlp")
    assert "/v1/traces" in receiver.paths


async def test_the_root_nests_under_the_served_request_span(telemetry: Telemetry) -> None:
    pytest.importorskip("fastapi")
    import httpx
    from fastapi import FastAPI

    from runnables.serve import add_routes

    app = FastAPI()
    add_routes(app, RunnableLambda(lambda x: x * 2, name="double"), path="/double")
    wrapped = otel.instrument_app(app, telemetry.provider, telemetry.meters)
    transport = httpx.ASGITransport(app=wrapped)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.post("/double/invoke", json={"input": 21})
    assert response.json()["output"] == 42
    double = telemetry.named("/double")  # add_routes names the root run after its path
    request = next(s for s in telemetry.spans() if s.kind is SpanKind.SERVER)
    assert double.context.trace_id == request.context.trace_id
    # The run's span is the request span's descendant (the route may add its own steps).
    by_id = {s.context.span_id: s for s in telemetry.spans()}
    parent = double
    while parent.parent is not None and parent.parent.span_id in by_id:
        parent = by_id[parent.parent.span_id]
    assert parent is request


def test_serve_takes_the_otel_flag() -> None:
    args = make_parser().parse_args(["serve", "mod:chain", "--otel"])
    assert args.otel is True
    assert make_parser().parse_args(["serve", "mod:chain"]).otel is False


class _Failing(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.FAILURE


class _Blocked(SpanExporter):
    def __init__(self) -> None:
        self.release = threading.Event()
        self.entered = threading.Event()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.entered.set()
        self.release.wait(30)
        return SpanExportResult.SUCCESS


def test_spans_dropped_by_a_failing_export_are_counted_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    processor = otel.CountingSpanProcessor(_Failing())
    provider = TracerProvider()
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("t")
    with caplog.at_level(logging.WARNING, logger="runnables.otel"):
        for _ in range(3):
            tracer.start_span("x").end()
        provider.force_flush()
    provider.shutdown()
    assert processor.dropped == 3
    assert "dropped" in caplog.text and "exporter reported a failure" in caplog.text


def test_spans_dropped_by_a_full_queue_are_counted_and_never_wait() -> None:
    exporter = _Blocked()
    processor = otel.CountingSpanProcessor(exporter, max_queue_size=4)
    provider = TracerProvider()
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("t")
    try:
        for _ in range(4):
            tracer.start_span("x").end()
        # A full batch wakes the export thread, which then blocks in export.
        assert exporter.entered.wait(30)
        for _ in range(10):
            tracer.start_span("y").end()  # returns at once though the exporter is stuck
        assert processor.dropped >= 6
    finally:
        exporter.release.set()
        provider.shutdown()


def test_the_readme_example_exports_its_trace(receiver: Receiver) -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "examples" / "otel_phoenix.py"
    env = {
        **os.environ,
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
        "OTEL_SERVICE_NAME": "otel-demo",
        "OTEL_METRICS_EXPORTER": "none",
    }
    out = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert "Paris is the capital of France." in out.stdout
    names = [name for service, name in receiver.spans if service == "otel-demo"]
    assert names.count("chat") == 2 and names.count("clean") == 2
    assert "/v1/metrics" not in receiver.paths


def test_serve_otel_exports_each_request_with_the_chain_under_its_span(
    receiver: Receiver, tmp_path: Any
) -> None:
    import os
    import socket
    import subprocess
    import sys
    import time

    import httpx

    pytest.importorskip("uvicorn")
    (tmp_path / "chains.py").write_text(
        "from runnables import RunnableLambda\n"
        "chain = RunnableLambda[int, int](lambda x: x + 1, name='inc') | "
        "RunnableLambda(lambda x: x * 2, name='double')\n"
    )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **os.environ,
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
        "OTEL_SERVICE_NAME": "served",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_BSP_SCHEDULE_DELAY": "100",  # export each batch within 0.1 s
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "runnables.cli", "serve", "chains:chain", "--otel"]
        + ["--port", str(port), "--log-level", "warning"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            try:
                response = httpx.post(
                    f"http://127.0.0.1:{port}/invoke", json={"input": 20}, timeout=5
                )
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "serve --otel did not start"
                time.sleep(0.2)
        assert response.json()["output"] == 42
        while not any(r[0] == "double" for r in receiver.records):
            assert time.monotonic() < deadline, receiver.records
            time.sleep(0.1)
    finally:
        proc.terminate()
        proc.wait(15)
    spans = {r[3]: r for r in receiver.records}
    double = next(r for r in receiver.records if r[0] == "double")
    server = [r for r in receiver.records if r[1] == 2 and r[2] == double[2]]  # 2: SERVER
    assert len(server) == 1
    chain_root = next(r for r in receiver.records if r[0] == "RunnableSequence")
    assert chain_root[2] == double[2] and spans[double[4]] == chain_root
    # The chain's root run nests under the request's server span (maybe via the route's).
    parent = chain_root
    while parent[4] in spans:
        parent = spans[parent[4]]
    assert parent == server[0]
