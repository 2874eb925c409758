"""The seed guide's LLM examples, unchanged, with a test model in place of ChatOpenAI."""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest

from runnables.models import FakeListChatModel


def ChatOpenAI() -> FakeListChatModel:  # noqa: N802 - stands in for the guide's class
    return FakeListChatModel(
        responses=["Async execution lets tasks wait without blocking each other."]
    )


llm = ChatOpenAI()


async def test_ainvoke_example(capsys: pytest.CaptureFixture[str]) -> None:
    async def run() -> None:
        response = await llm.ainvoke("Explain async execution briefly")
        print(response.content)

    await run()
    assert "Async execution" in capsys.readouterr().out


async def test_abatch_example(capsys: pytest.CaptureFixture[str]) -> None:
    llm = FakeListChatModel(responses=["RAG is...", "Agents are...", "Memory is..."])

    async def run() -> None:
        results = await llm.abatch(["Explain RAG", "Explain agents", "Explain memory"])
        for r in results:
            print(r.content)

    await run()
    assert capsys.readouterr().out.splitlines() == ["RAG is...", "Agents are...", "Memory is..."]


async def test_astream_example(capsys: pytest.CaptureFixture[str]) -> None:
    async def run() -> None:
        async for chunk in llm.astream("Explain async streaming"):
            print(chunk.content, end="")

    await run()
    assert capsys.readouterr().out == "Async execution lets tasks wait without blocking each other."


async def chat(q: str) -> dict[str, Any]:
    response = await llm.ainvoke(q)
    return {"answer": response.content}


async def test_fastapi_chat_handler_called_directly() -> None:
    assert await chat("hi") == {
        "answer": "Async execution lets tasks wait without blocking each other."
    }


@pytest.mark.skipif(
    importlib.util.find_spec("fastapi") is None or importlib.util.find_spec("httpx") is None,
    reason="FastAPI is the 'serve' extra",
)
def test_fastapi_chat_endpoint() -> None:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    app = FastAPI()

    @app.get("/chat")
    async def chat(q: str) -> dict[str, Any]:
        response = await llm.ainvoke(q)
        return {"answer": response.content}

    res = TestClient(app).get("/chat", params={"q": "hi"})
    assert res.json() == {"answer": "Async execution lets tasks wait without blocking each other."}
