"""RunnablePassthrough, RunnableAssign (``.assign``) and RunnablePick (``.pick``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from runnables import (
    AddableDict,
    InvalidRunnableError,
    RunnableAssign,
    RunnableGenerator,
    RunnableLambda,
    RunnableParallel,
    RunnablePassthrough,
    RunnablePick,
)


async def test_passthrough_returns_its_input() -> None:
    p = RunnablePassthrough[Any]()
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
    chain = RunnableLambda[int, dict[str, int]](lambda x: {"x": x}).assign(y=lambda d: d["x"] + 1)
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
    chain = RunnableLambda[int, dict[str, int]](lambda x: {"a": x, "b": -x}).pick(["b"])
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


def _accumulate(chunks: Any) -> Any:
    # The langchain pattern for rebuilding a streamed output.
    final = None
    for chunk in chunks:
        final = chunk if final is None else final + chunk
    return final


async def _words(d: dict[str, Any]) -> AsyncIterator[str]:
    for word in d["text"].split():
        yield word + " "


def _assign_chain() -> Any:
    return RunnableLambda(lambda x: {"text": x, "n": 1}).assign(
        words=RunnableLambda(_words), shout=lambda d: d["text"].upper()
    )


ASSIGNED = {"text": "a b", "n": 1, "words": "a b ", "shout": "A B"}


def test_assign_stream_chunks_add_up_to_the_invoke_output() -> None:
    chain = _assign_chain()
    assert chain.invoke("a b") == ASSIGNED
    assert _accumulate(chain.stream("a b")) == ASSIGNED
    assert all(isinstance(c, AddableDict) for c in chain.stream("a b"))


async def test_assign_astream_chunks_add_up_to_the_ainvoke_output() -> None:
    chain = _assign_chain()
    assert await chain.ainvoke("a b") == ASSIGNED
    chunks = [c async for c in chain.astream("a b")]
    assert _accumulate(chunks) == ASSIGNED
    assert all(isinstance(c, AddableDict) for c in chunks)


def test_sync_assign_stream_chunks_add_up_like_langchain() -> None:
    from langchain_core.runnables import RunnableLambda as LcLambda
    from langchain_core.runnables import RunnablePassthrough as LcPassthrough

    def words(d: dict[str, Any]) -> Iterator[str]:
        for word in d["text"].split():
            yield word + " "

    lc = LcLambda[str, dict[str, str]](lambda x: {"text": x}) | LcPassthrough.assign(
        w=LcLambda(words)
    )
    ours = RunnableLambda[str, dict[str, str]](lambda x: {"text": x}) | RunnablePassthrough.assign(
        w=RunnableLambda(words)
    )
    assert _accumulate(ours.stream("a b")) == _accumulate(lc.stream("a b"))


async def test_pick_of_several_keys_streams_addable_dicts() -> None:
    par = RunnableParallel(a=RunnableLambda(_words), b=lambda d: 1, c=lambda d: 2)
    chain = par | RunnablePick(["a", "b"])
    assert _accumulate([c async for c in chain.astream({"text": "x y"})]) == {"a": "x y ", "b": 1}
    assert isinstance(RunnablePick(["a"]).invoke({"a": 1}), AddableDict)


# ---------------------------------------------------------------------- langchain-core's shapes


def test_tap_receives_call_arguments_and_the_config_it_asks_for() -> None:
    seen: list[Any] = []

    def tap(x: Any, config: Any, **kwargs: Any) -> None:
        seen.append((x, config["metadata"], kwargs))

    assert RunnablePassthrough(tap).invoke(1, {"metadata": {"k": "v"}}, flag=True) == 1
    assert seen == [(1, {"k": "v"}, {"flag": True})]


def test_call_arguments_without_a_tap_are_ignored() -> None:
    assert RunnablePassthrough[int]().invoke(1, flag=True) == 1


async def test_async_tap_receives_call_arguments() -> None:
    seen: list[Any] = []

    async def tap(x: Any, **kwargs: Any) -> None:
        seen.append((x, kwargs))

    assert await RunnablePassthrough(tap).ainvoke(1, flag=True) == 1
    assert seen == [(1, {"flag": True})]
