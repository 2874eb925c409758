"""RunnableLambda, RunnableGenerator and @chain: the steps made from user functions."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from runnables import (
    AddableDict,
    InvalidRunnableError,
    Runnable,
    RunnableGenerator,
    RunnableLambda,
    RunnableParallel,
    RunnableSequence,
    chain,
)


def test_names_come_from_the_function() -> None:
    def shout(x: str) -> str:
        return x.upper()

    assert RunnableLambda(shout).get_name() == "shout"
    assert RunnableLambda(lambda x: x).get_name() == "RunnableLambda"
    assert RunnableLambda(shout, name="loud").get_name() == "loud"


async def test_sync_async_and_both() -> None:
    def f(x: int) -> str:
        return "sync"

    async def af(x: int) -> str:
        return "async"

    both = RunnableLambda(f, afunc=af)
    assert both.invoke(1) == "sync"
    assert await both.ainvoke(1) == "async"
    # Inside containers too (they call cheap functions directly).
    assert await (both | (lambda x: x)).ainvoke(1) == "async"
    assert await RunnableParallel(k=both).ainvoke(1) == {"k": "async"}
    assert (both | (lambda x: x)).invoke(1) == "sync"
    assert await RunnableLambda(af).ainvoke(1) == "async"
    assert await RunnableLambda(f).ainvoke(1) == "sync"


def _recording_pair(calls: list[str]) -> tuple[Any, Any]:
    def f(x: int) -> int:
        calls.append("func")
        return x

    async def af(x: int) -> int:
        calls.append("afunc")
        return x

    return f, af


async def _echo(x: int) -> int:
    await asyncio.sleep(0)
    return x


def _echo_sync(x: int) -> int:
    return x


# Each case runs a lambda with both functions through a sync entry point that goes to the
# bridge loop. ``lam`` is runnables' or langchain-core's RunnableLambda, ``par`` the
# matching RunnableParallel; ``other`` is an async step for runnables and a sync one for
# langchain-core, which cannot run an async-only step from a sync call.
SYNC_ENTRY_POINTS: dict[str, Any] = {
    "batch with max_concurrency": lambda both, other, par: both.batch(
        [1, 2], {"max_concurrency": 1}
    ),
    "batch with a config per input": lambda both, other, par: both.batch([1, 2], [{}, {}]),
    "batch_as_completed": lambda both, other, par: sorted(both.batch_as_completed([1, 2])),
    "invoke of a sequence with an async step": lambda both, other, par: (both | other).invoke(1),
    "invoke of a parallel with an async branch": lambda both, other, par: par(
        a=both, b=other
    ).invoke(1),
    "stream of a sequence with an async step": lambda both, other, par: list(
        (both | other).stream(1)
    ),
}


@pytest.mark.parametrize("case", list(SYNC_ENTRY_POINTS))
def test_sync_entry_points_use_func_of_a_lambda_with_both_like_langchain(case: str) -> None:
    from langchain_core.runnables import RunnableLambda as LcLambda
    from langchain_core.runnables import RunnableParallel as LcParallel

    run = SYNC_ENTRY_POINTS[case]
    calls: list[str] = []
    result = run(RunnableLambda(*_recording_pair(calls)), RunnableLambda(_echo), RunnableParallel)
    lc_calls: list[str] = []
    lc_result = run(LcLambda(*_recording_pair(lc_calls)), LcLambda(_echo_sync), LcParallel)
    assert (result, calls) == (lc_result, lc_calls)
    assert set(calls) == {"func"}


async def test_async_entry_points_still_use_afunc_of_a_lambda_with_both() -> None:
    calls: list[str] = []
    both = RunnableLambda(*_recording_pair(calls))
    await both.abatch([1, 2], {"max_concurrency": 1})
    await (both | RunnableLambda(_echo)).ainvoke(1)
    await RunnableParallel(a=both, b=_echo).ainvoke(1)
    assert calls == ["afunc"] * 4


def test_func_chosen_on_the_bridge_follows_the_offload_policy() -> None:
    threads: list[str] = []

    def f(x: int) -> int:
        threads.append(threading.current_thread().name)
        return x

    async def af(x: int) -> int:
        raise AssertionError("a sync call must not use afunc")

    cheap = RunnableLambda(f, af)
    marked = RunnableLambda(f, af, offload="always")
    assert (cheap | RunnableLambda(_echo)).invoke(1) == 1
    assert marked.invoke(1) == 1
    cheap_thread, marked_thread = threads
    assert cheap_thread == "runnables-bridge"  # cheap: inline on the loop
    assert marked_thread not in ("runnables-bridge", threading.current_thread().name)


def test_generator_and_passthrough_with_both_use_the_sync_one_from_sync_calls() -> None:
    calls: list[str] = []

    def gen(chunks: Iterator[int]) -> Iterator[int]:
        calls.append("transform")
        yield from chunks

    async def agen(chunks: AsyncIterator[int]) -> AsyncIterator[int]:
        calls.append("atransform")
        async for c in chunks:
            yield c

    def seen(x: int) -> None:
        calls.append("func")

    async def aseen(x: int) -> None:
        calls.append("afunc")

    from runnables import RunnablePassthrough

    step = RunnableGenerator(gen, agen) | RunnablePassthrough(seen, aseen) | _echo
    assert step.invoke(1) == 1
    assert list(step.stream(1)) == [1]
    assert calls == ["transform", "func"] * 2


def test_sync_invoke_of_an_async_function_works() -> None:
    async def af(x: int) -> int:
        await asyncio.sleep(0)
        return x + 1

    assert RunnableLambda(af).invoke(1) == 2
    assert RunnableLambda(af).batch([1, 2]) == [2, 3]


def test_bad_functions_are_rejected_with_a_message() -> None:
    with pytest.raises(InvalidRunnableError, match="pass func or afunc"):
        RunnableLambda()  # type: ignore[call-overload]  # no function, on purpose
    with pytest.raises(InvalidRunnableError, match="42"):
        RunnableLambda(42)  # type: ignore[call-overload]  # not a function, on purpose
    with pytest.raises(InvalidRunnableError, match="async def"):
        RunnableLambda(lambda x: x, afunc=lambda x: x)
    with pytest.raises(InvalidRunnableError, match="generator function"):
        RunnableGenerator(lambda x: x)


async def test_bind_passes_keyword_arguments_to_the_function() -> None:
    def greet(name: str, greeting: str = "hello") -> str:
        return f"{greeting} {name}"

    async def agreet(name: str, greeting: str = "hello") -> str:
        return f"{greeting} {name}"

    assert RunnableLambda(greet).bind(greeting="hi").invoke("bo") == "hi bo"
    assert await RunnableLambda(agreet).bind(greeting="hey").ainvoke("bo") == "hey bo"
    assert await RunnableLambda(agreet).ainvoke("bo", greeting="yo") == "yo bo"


def test_chain_decorator_makes_a_runnable() -> None:
    @chain
    def shout(x: str) -> str:
        return x.upper()

    assert isinstance(shout, Runnable)
    assert (shout | (lambda s: s + "!")).invoke("a") == "A!"


async def test_generator_function_invoke_adds_up_chunks_and_stream_yields_them() -> None:
    def gen(x: str) -> Iterator[str]:
        yield from x

    async def agen(x: str) -> AsyncIterator[str]:
        for c in x:
            yield c

    for step in (RunnableLambda(gen), RunnableLambda(agen)):
        assert await step.ainvoke("abc") == "abc"
        assert [c async for c in step.astream("abc")] == ["a", "b", "c"]
    assert RunnableLambda(gen).invoke("ab") == "ab"
    assert list(RunnableLambda(gen).stream("ab")) == ["a", "b"]


async def test_generator_of_plain_dicts_gives_the_last_one_and_of_addable_dicts_the_sum() -> None:
    # langchain-core's rule: a plain dict replaces the previous chunk (it has no `+`).
    def gen(x: Any) -> Iterator[dict[str, str]]:
        yield {"a": "x"}
        yield {"a": "y", "b": "z"}

    def addable(x: Any) -> Iterator[dict[str, str]]:
        yield AddableDict(a="x")
        yield AddableDict(a="y", b="z")

    assert await RunnableLambda(gen).ainvoke(None) == {"a": "y", "b": "z"}
    assert await RunnableLambda(addable).ainvoke(None) == {"a": "xy", "b": "z"}


async def test_runnable_generator_transforms_a_stream() -> None:
    async def upper(chunks: AsyncIterator[str]) -> AsyncIterator[str]:
        async for c in chunks:
            yield c.upper()

    def lower(chunks: Iterator[str]) -> Iterator[str]:
        for c in chunks:
            yield c.lower()

    assert await RunnableGenerator(upper).ainvoke("ab") == "AB"
    assert RunnableGenerator(lower).invoke("AB") == "ab"
    assert await RunnableGenerator(lower).ainvoke("AB") == "ab"
    both = RunnableGenerator(lower, atransform=upper)
    assert both.invoke("Ab") == "ab"
    assert await both.ainvoke("Ab") == "AB"


async def test_function_returning_a_runnable_runs_it_and_streams_it() -> None:
    def letters(x: str) -> Iterator[str]:
        yield from x

    def route(x: str) -> Runnable[str, Any]:
        return RunnableLambda(letters)

    assert await RunnableLambda(route).ainvoke("ab") == "ab"
    assert [c async for c in RunnableLambda(route).astream("ab")] == ["a", "b"]
    assert RunnableLambda(route).invoke("ab") == "ab"


async def test_piping_functions_and_generators_coerces_them() -> None:
    def gen(chunks: Iterator[int]) -> Iterator[int]:
        for c in chunks:
            yield c + 1

    seq = RunnableLambda(lambda x: x) | gen | (lambda x: x * 10)
    assert isinstance(seq, RunnableSequence)
    assert isinstance(seq.steps[1], RunnableGenerator)
    assert await seq.ainvoke(1) == 20
    assert seq.invoke(1) == 20


async def test_concurrent_calls_of_one_lambda_do_not_share_state() -> None:
    started = 0
    both = asyncio.Event()

    async def step(x: int) -> int:
        nonlocal started
        started += 1
        if started == 2:
            both.set()
        await asyncio.wait_for(both.wait(), 10)
        return x

    r = RunnableLambda(step)
    assert list(await asyncio.gather(r.ainvoke(1), r.ainvoke(2))) == [1, 2]


def test_sync_function_used_from_many_threads() -> None:
    step = RunnableLambda[int, int](lambda x: x * 2) | (lambda x: x + 1)
    out: list[int] = []
    lock = threading.Lock()

    def work(i: int) -> None:
        r = step.invoke(i)
        with lock:
            out.append(r)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(out) == sorted(i * 2 + 1 for i in range(8))


# ---------------------------------------------------------------------- langchain-core's shapes


def test_repr_shows_the_lambdas_source_as_langchain_core_does() -> None:
    from operator import itemgetter

    double = RunnableLambda[int, int](lambda x: x * 2)
    assert repr(double) == "RunnableLambda(lambda x: x * 2)"

    def named(x: int) -> int:
        return x

    async def anamed(x: int) -> int:
        return x

    assert repr(RunnableLambda(named)) == "RunnableLambda(named)"
    assert repr(RunnableLambda(anamed)) == "RunnableLambda(afunc=anamed)"
    assert repr(RunnableLambda(itemgetter("a"))) == "RunnableLambda(itemgetter('a'))"


def test_input_schema_lists_the_dict_keys_an_unannotated_function_reads() -> None:
    def get_value(value):  # type: ignore[no-untyped-def]
        return (value["name"], value.get("other"))

    assert RunnableLambda(get_value).get_input_jsonschema() == {
        "title": "get_value_input",
        "type": "object",
        "properties": {"name": {"title": "Name"}, "other": {"title": "Other"}},
        "required": ["name", "other"],
    }

    def annotated(value: int) -> int:  # an annotation wins over the keys read
        return value

    assert RunnableLambda(annotated).get_input_jsonschema() == {
        "title": "annotated_input",
        "type": "integer",
    }


def test_itemgetter_takes_a_dict_with_its_keys_and_is_named_like_a_lambda() -> None:
    from operator import itemgetter

    step = RunnableLambda(itemgetter("hello", "bye"))
    assert step.get_name() == "RunnableLambda"
    assert step.get_input_jsonschema() == {
        "title": "RunnableLambdaInput",
        "type": "object",
        "properties": {"hello": {"title": "Hello"}, "bye": {"title": "Bye"}},
        "required": ["hello", "bye"],
    }
    assert RunnableLambda(itemgetter(0)).get_input_jsonschema()["type"] == "array"
