"""The response caches: what a caller does with a response never reaches the cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from runnables.messages import AIMessage, tool_call
from runnables.models import BaseCache, FakeMessagesListChatModel, InMemoryCache, SQLiteCache


def _answer() -> AIMessage:
    return AIMessage(
        "calling",
        tool_calls=[tool_call(name="lookup", args={"q": "x"}, id="c1")],
        response_metadata={"model_name": "m", "extra": {"k": [1]}},
        usage_metadata={"input_tokens": 1, "output_tokens": 2, "total_tokens": 3},
    )


@pytest.fixture(params=["memory", "sqlite"])
def cache(request: pytest.FixtureRequest, tmp_path: Path) -> BaseCache:
    if request.param == "memory":
        return InMemoryCache()
    return SQLiteCache(tmp_path / "cache.db")


def test_changing_a_stored_response_does_not_change_the_cache(cache: BaseCache) -> None:
    original = _answer()
    cache.update("p", "llm", original)
    original.tool_calls.append(tool_call(name="other", args={}, id="c2"))
    original.tool_calls[0]["args"]["q"] = "changed"
    original.response_metadata["extra"]["k"].append(2)
    hit = cache.lookup("p", "llm")
    assert hit == _answer()


def test_changing_a_hit_does_not_change_later_hits(cache: BaseCache) -> None:
    cache.update("p", "llm", _answer())
    first = cache.lookup("p", "llm")
    assert first is not None
    first.tool_calls.append(tool_call(name="other", args={}, id="c2"))
    first.tool_calls[0]["args"]["q"] = "changed"
    first.content = "changed"
    assert cache.lookup("p", "llm") == _answer()


async def test_a_caller_changing_a_cached_model_response_does_not_change_later_hits() -> None:
    model = FakeMessagesListChatModel(responses=[_answer()], cache=InMemoryCache())
    r1 = await model.ainvoke("q")
    r1.tool_calls.append(tool_call(name="injected", args={}, id="c9"))
    r1.tool_calls[0]["args"]["q"] = "changed"
    r2 = await model.ainvoke("q")
    assert [c["name"] for c in r2.tool_calls] == ["lookup"]
    assert r2.tool_calls[0]["args"] == {"q": "x"}
    r2.usage_metadata = None
    chunks = [c async for c in model.astream("q")]
    assert [c["name"] for c in chunks[0].tool_calls] == ["lookup"]
    assert chunks[0].usage_metadata is not None
    assert model.i == 0  # one real call; the rest came from the cache


async def test_changing_streamed_chunks_does_not_change_the_cached_response() -> None:
    model = FakeMessagesListChatModel(responses=[_answer()], cache=InMemoryCache())
    chunks = [c async for c in model.astream("q")]
    chunks[0].response_metadata["extra"]["k"].append(2)
    chunks[0].tool_calls[0]["args"]["q"] = "changed"
    hit = await model.ainvoke("q")
    assert hit.response_metadata["extra"] == {"k": [1]}
    assert hit.tool_calls[0]["args"] == {"q": "x"}
