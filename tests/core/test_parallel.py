"""RunnableParallel: branches run concurrently on one input; the output is a dict."""

from __future__ import annotations

import asyncio
import threading
import time
import warnings
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from runnables import (
    AddableDict,
    BlockingStepWarning,
    InvalidRunnableError,
    RunnableLambda,
    RunnableMap,
    RunnableParallel,
    RunnablePassthrough,
)


async def test_output_maps_each_key_to_its_branch_on_every_entry_point() -> None:
    par = RunnableParallel(upper=str.upper, n=len, same=RunnablePassthrough())
    want = {"upper": "AB", "n": 2, "same": "ab"}
    assert par.invoke("ab") == want
    assert await par.ainvoke("ab") == want
    assert await par.abatch(["ab"]) == [want]
    assert par.batch(["ab"]) == [want]
    assert list(par.invoke("ab")) == ["upper", "n", "same"]  # key order is kept
    merged: dict[str, Any] = {}
    async for chunk in par.astream("ab"):
        assert len(chunk) == 1
        merged.update(chunk)
    assert merged == want


def test_constructor_forms_and_nested_dicts() -> None:
    assert RunnableParallel({"a": len}).invoke("xy") == {"a": 2}
    assert RunnableParallel({"a": len}, b=str.upper).invoke("xy") == {"a": 2, "b": "XY"}
    assert RunnableMap is RunnableParallel
    nested = RunnableLambda(lambda x: x) | {"outer": {"inner": len}}
    assert nested.invoke("abc") == {"outer": {"inner": 3}}
    assert RunnableParallel(a=len).get_name() == "RunnableParallel<a>"


def test_bad_branches_are_rejected() -> None:
    with pytest.raises(InvalidRunnableError, match="at least one branch"):
        RunnableParallel()
    with pytest.raises(InvalidRunnableError, match="1"):
        RunnableParallel({1: len})  # type: ignore[dict-item]
    with pytest.raises(InvalidRunnableError, match="'oops'"):
        RunnableParallel(a="oops")


async def test_async_branches_run_concurrently() -> None:
    # Each branch waits for the others to have started: only concurrent branches finish.
    started: set[str] = set()
    everyone = asyncio.Event()

    def branch(name: str) -> RunnableLambda[Any, str]:
        async def run(x: Any) -> str:
            started.add(name)
            if len(started) == 3:
                everyone.set()
            await everyone.wait()
            return name

        return RunnableLambda(run)

    par = RunnableParallel(a=branch("a"), b=branch("b"), c=branch("c"))
    assert await asyncio.wait_for(par.ainvoke(None), 10) == {"a": "a", "b": "b", "c": "c"}


async def test_mixed_sync_and_async_branches() -> None:
    async def slow_len(x: str) -> int:
        await asyncio.sleep(0)
        return len(x)

    par = RunnableParallel(n=slow_len, up=str.upper, gen=RunnableLambda(_letters))
    assert await par.ainvoke("ab") == {"n": 2, "up": "AB", "gen": "ab"}
    assert await asyncio.to_thread(par.invoke, "ab") == {"n": 2, "up": "AB", "gen": "ab"}


async def _letters(x: str) -> AsyncIterator[str]:
    for c in x:
        yield c


async def test_streaming_chunks_add_up_per_key() -> None:
    par = RunnableParallel(gen=RunnableLambda(_letters), n=len)
    chunks = [c async for c in par.astream("abc")]
    assert [c["gen"] for c in chunks if "gen" in c] == ["a", "b", "c"]
    assert [c["n"] for c in chunks if "n" in c] == [3]


def _accumulate(chunks: Any) -> Any:
    # The langchain pattern for rebuilding a streamed output.
    final = None
    for chunk in chunks:
        final = chunk if final is None else final + chunk
    return final


def _sync_letters(text: str) -> Iterator[str]:
    yield from text


GENERATORS = pytest.mark.parametrize(
    "gen", [_letters, _sync_letters], ids=["async_gen", "sync_gen"]
)
EXPECTED = {"gen": "abc", "n": 3, "d": {"text": "abc"}}


def _three_branches(gen: Any) -> RunnableParallel:
    return RunnableParallel(gen=RunnableLambda(gen), n=len, d=lambda s: {"text": s})


@GENERATORS
def test_stream_chunks_add_up_to_the_invoke_output(gen: Any) -> None:
    chunks = list(_three_branches(gen).stream("abc"))
    assert _accumulate(chunks) == EXPECTED == _three_branches(gen).invoke("abc")
    assert all(isinstance(c, AddableDict) for c in chunks) and len(chunks) == 5


@GENERATORS
async def test_astream_chunks_add_up_to_the_ainvoke_output(gen: Any) -> None:
    chunks = [c async for c in _three_branches(gen).astream("abc")]
    assert _accumulate(chunks) == EXPECTED == await _three_branches(gen).ainvoke("abc")
    assert all(isinstance(c, AddableDict) for c in chunks) and len(chunks) == 5


def test_stream_chunks_add_up_like_langchain() -> None:
    from langchain_core.runnables import RunnableLambda as LcLambda
    from langchain_core.runnables import RunnableParallel as LcParallel

    lc = LcParallel(gen=LcLambda(_sync_letters), n=LcLambda(len))
    ours = RunnableParallel(gen=RunnableLambda(_sync_letters), n=len)
    assert _accumulate(ours.stream("abc")) == _accumulate(lc.stream("abc"))


async def test_sync_branch_raising_closes_the_pending_async_branches() -> None:
    started: list[str] = []

    async def later(x: Any) -> Any:
        started.append("later")
        return x

    def fail(x: Any) -> Any:
        raise ValueError("bad branch")

    par = RunnableParallel(a=later, b=fail)
    with pytest.raises(ValueError, match="bad branch"):
        await par.ainvoke(1)
    assert started == []  # the coroutine was closed without running (no "never awaited")


def _sleeper(seconds: float, name: str) -> RunnableLambda[Any, str]:
    def run(x: Any) -> str:
        time.sleep(seconds)
        return name

    return RunnableLambda(run, name=name)


def _meeting_branches(barrier: threading.Barrier) -> RunnableParallel:
    """A branch found blocking (it sleeps past the threshold), then two that can only
    finish if they run at the same time (each waits at the barrier for the other)."""

    def meet(name: str) -> RunnableLambda[Any, str]:
        def run(x: Any) -> str:
            barrier.wait(timeout=10)
            return name

        return RunnableLambda(run, name=name)

    return RunnableParallel(slow=_sleeper(0.05, "slow"), b=meet("b"), c=meet("c"))


async def test_first_ainvoke_runs_branches_after_a_blocking_one_at_once_on_threads() -> None:
    par = _meeting_branches(threading.Barrier(2))
    with pytest.warns(BlockingStepWarning, match="'slow'"):
        out = await asyncio.wait_for(par.ainvoke(None), 20)
    assert out == {"slow": "slow", "b": "b", "c": "c"}


def test_first_invoke_moves_branches_after_a_blocking_one_to_the_bridge_at_once() -> None:
    par = _meeting_branches(threading.Barrier(2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # found slow in a sync drive: marked, no warning
        assert par.invoke(None) == {"slow": "slow", "b": "b", "c": "c"}


def _three_slow_branches() -> RunnableParallel:
    return RunnableParallel(a=_sleeper(0.3, "a"), b=_sleeper(0.3, "b"), c=_sleeper(0.3, "c"))


def test_first_invoke_of_slow_sync_branches_takes_about_two_branches_time() -> None:
    par = _three_slow_branches()
    start = time.perf_counter()
    assert par.invoke(None) == {"a": "a", "b": "b", "c": "c"}
    assert time.perf_counter() - start < 0.8  # in turn: 0.9 s; the first, then the rest: 0.6


async def test_first_ainvoke_of_slow_sync_branches_takes_about_two_branches_time() -> None:
    par = _three_slow_branches()
    start = time.perf_counter()
    with pytest.warns(BlockingStepWarning):
        assert await par.ainvoke(None) == {"a": "a", "b": "b", "c": "c"}
    assert time.perf_counter() - start < 0.8
    start = time.perf_counter()  # all three are marked now: they start on threads
    assert await par.ainvoke(None) == {"a": "a", "b": "b", "c": "c"}
    assert time.perf_counter() - start < 0.75  # in turn: 0.9 s; together: 0.3 s


async def test_a_failing_branch_on_a_thread_raises_after_the_started_ones_finish() -> None:
    late_started = threading.Event()
    finished: list[str] = []

    def boom(x: Any) -> str:
        late_started.wait(timeout=10)
        raise ValueError(f"bad input {x!r}")

    def late(x: Any) -> str:
        late_started.set()
        time.sleep(0.1)
        finished.append("late")
        return "late"

    par = RunnableParallel(slow=_sleeper(0.05, "slow"), boom=boom, late=late)
    with pytest.warns(BlockingStepWarning), pytest.raises(ValueError, match="bad input 1") as err:
        await par.ainvoke(1)
    assert "(raised in runnables step 'boom')" in err.value.__notes__
    assert finished == ["late"]  # a started thread cannot be stopped: it was waited for


# ---------------------------------------------------------------------- langchain-core's shapes


def test_input_schema_merges_the_fields_of_branches_that_take_objects() -> None:
    from operator import itemgetter

    from runnables.prompts import ChatPromptTemplate

    city = ChatPromptTemplate.from_template("what is the city {person} is from?")
    parallel = RunnableParallel({"city": city, "language": itemgetter("language")})
    assert parallel.get_input_jsonschema() == {
        "title": "RunnableParallel<city,language>Input",
        "type": "object",
        "properties": {
            "person": {"title": "Person", "type": "string"},
            "language": {"title": "Language"},
        },
        "required": ["person", "language"],
    }


def test_a_branch_that_takes_anything_keeps_the_input_open() -> None:
    from runnables import RunnablePassthrough

    parallel = RunnableParallel(a=RunnablePassthrough(), b=lambda d: d["x"])
    assert "root" not in parallel.get_input_jsonschema().get("properties", {})


def test_repr_is_the_dict_it_was_written_as() -> None:
    parallel = RunnableParallel(a=RunnableLambda(lambda x: x), b=RunnableLambda(lambda x: x))
    assert repr(parallel) == "{\n  a: RunnableLambda(...),\n  b: RunnableLambda(...)\n}"


class _Opaque:
    """A class pydantic has no JSON schema for."""


class _OpaqueInput(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)
    thing: _Opaque


def _uses_opaque(x: _OpaqueInput) -> int:
    return 1


def test_input_schema_of_a_branch_without_a_json_schema_does_not_raise() -> None:
    from operator import itemgetter

    parallel = RunnableParallel(a=_uses_opaque, b=itemgetter("x"))
    # _OpaqueInput has no JSON schema, so nothing is merged: the first typed branch's.
    assert parallel.get_input_schema() is _OpaqueInput
