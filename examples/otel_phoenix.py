"""Send a chain's traces to a local OpenTelemetry backend (Arize Phoenix, Jaeger, ...).

    OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:6006 OTEL_SERVICE_NAME=otel-demo \\
        OTEL_METRICS_EXPORTER=none python examples/otel_phoenix.py

Needs the otel extra (pip install 'runnables[otel]'). The chat model here is a fake one,
so no API key or model is needed; put ChatOpenAI or ChatLocal in its place for real answers.
"""

from __future__ import annotations

import asyncio

from runnables import ChatPromptTemplate, RunnableLambda, RunnableParallel, otel
from runnables.models.fake import FakeListChatModel
from runnables.output_parsers import StrOutputParser


async def main() -> None:
    providers = otel.instrument_from_env()
    model = FakeListChatModel(responses=["Paris is the capital of France."])
    prompt = ChatPromptTemplate.from_messages(
        [("system", "Answer in one sentence."), ("human", "{question}")]
    )
    chain = RunnableParallel(
        question=RunnableLambda(str.strip, name="clean"),
        words=RunnableLambda(lambda q: len(q.split()), name="count_words"),
    ) | RunnableParallel(
        answer=RunnableLambda(lambda d: {"question": d["question"]}, name="pick")
        | prompt
        | model
        | StrOutputParser(),
        words=lambda d: d["words"],
    )
    print(await chain.ainvoke("  What is the capital of France? "))
    chunks = [chunk async for chunk in chain.astream("  And of Italy? ")]
    print(f"{len(chunks)} chunks streamed")
    providers.tracer_provider.force_flush()
    providers.tracer_provider.shutdown()
    providers.meter_provider.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
