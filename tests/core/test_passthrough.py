"""RunnablePassthrough, RunnableAssign (``.assign``) and RunnablePick (``.pick``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from runnables import (
    InvalidRunnableError,
    RunnableAssign,
    RunnableGenerator,
    RunnableLambda,
    RunnableParallel,
    RunnablePassthrough,
    RunnablePick,
)


async def test_passthrough_returns_its_input() -> None:
    p = RunnablePassthrough()
    assert p.invoke({"a": 1}) == {"a": 1}
    assert await p.ainvoke(3) == 3
    assert [c async for c in p.astream("x")] == ["x"]
    assert RunnableParallel(orig=p, n=len).invoke("abc") == {"orig": "abc", "n": 3}


async def test_passthrough_calls_its_function_for_a_side_effect() -> None:
    seen: list[Any] = []

    async def arecord(x: Any) -> None:
        seen.append(("async", x))

    assert RunnablePassthrough(seen.append).invoke(1) == 1
    assert await RunnablePassthrough(arecord).ainvoke(2) == 2
    assert await RunnablePassthrough(seen.append, afunc=arecord).ainvoke(3) == 3
    assert seen == [1, ("async", 2), ("async", 3)]


async def test_passthrough_side_effect_on_a_stream_gets_the_whole_input() -> None:
    seen: list[Any] = []

    async def words(chunks: AsyncIterator[Any]) -> AsyncIterator[str]:
        async for _ in chunks:
            pass
        for w in ("a", "b"):
            yield w

    chain = RunnableGenerator(words) | RunnablePassthrough(seen.append)
    assert [c async for c in chain.astream(None)] == ["a", "b"]
    assert seen == ["ab"]


async def test_assign_adds_keys_computed_from_the_input() -> None:
    assign = RunnablePassthrough.assign(n=lambda d: len(d["text"]), up=lambda d: d["text"].upper())
    want = {"text": "ab", "n": 2, "up": "AB"}
    assert isinstance(assign, RunnableAssign)
    assert assign.invoke({"text": "ab"}) == want
    assert await assign.ainvoke({"text": "ab"}) == want
    merged: dict[str, Any] = {}
    async for chunk in assign.astream({"text": "ab"}):
        merged.update(chunk)
    assert merged == want
    merged = {}
    for chunk in assign.stream({"text": "ab"}):
        merged.update(chunk)
    assert merged == want
    assert assign.get_name() == "RunnableAssign<n,up>"


async def test_assign_overrides_an_existing_key() -> None:
    assign = RunnablePassthrough.assign(text=lambda d: d["text"] * 2)
    assert await assign.ainvoke({"text": "a", "k": 1}) == {"text": "aa", "k": 1}
    merged: dict[str, Any] = {}
    async for chunk in assign.astream({"text": "a", "k": 1}):
        merged.update(chunk)
    assert merged == {"text": "aa", "k": 1}


async def test_runnable_assign_method_on_any_step() -> None:
    chain = RunnableLambda(lambda x: {"x": x}).assign(y=lambda d: d["x"] + 1)
    assert await chain.ainvoke(1) == {"x": 1, "y": 2}


async def test_assign_needs_a_dict_input() -> None:
    with pytest.raises(InvalidRunnableError, match=r"needs a dict input.*'abc'"):
        await RunnablePassthrough.assign(n=len).ainvoke("abc")  # type: ignore[arg-type]


async def test_assign_branches_run_concurrently() -> None:
    both = asyncio.Event()
    started: set[str] = set()

    def branch(name: str) -> Any:
        async def run(d: dict[str, Any]) -> str:
            started.add(name)
            if len(started) == 2:
                both.set()
            await both.wait()
            return name

        return run

    assign = RunnablePassthrough.assign(a=branch("a"), b=branch("b"))
    assert await asyncio.wait_for(assign.ainvoke({}), 10) == {"a": "a", "b": "b"}


async def test_pick_one_key_or_several() -> None:
    data = {"a": 1, "b": 2, "c": 3}
    assert RunnablePick("a").invoke(data) == 1
    assert await RunnablePick(["a", "c"]).ainvoke(data) == {"a": 1, "c": 3}
    assert RunnablePick("z").invoke(data) is None
    assert RunnablePick(["z"]).invoke(data) is None
    chain = RunnableLambda(lambda x: {"a": x, "b": -x}).pick(["b"])
    assert await chain.ainvoke(2) == {"b": -2}
    assert RunnablePick(["a", "b"]).get_name() == "RunnablePick<a,b>"


def test_pick_rejects_bad_keys_and_inputs() -> None:
    with pytest.raises(InvalidRunnableError, match="1"):
        RunnablePick(1)  # type: ignore[arg-type]
    with pytest.raises(InvalidRunnableError, match="needs a dict input"):
        RunnablePick("a").invoke("not a dict")  # type: ignore[arg-type]


async def test_pick_streams_only_chunks_that_have_the_key() -> None:
    async def chunks(_: AsyncIterator[Any]) -> AsyncIterator[dict[str, str]]:
        for c in ({"a": "1"}, {"b": "x"}, {"a": "2"}):
            yield c

    chain = RunnableGenerator(chunks) | RunnablePick("a")
    assert [c async for c in chain.astream(None)] == ["1", "2"]
