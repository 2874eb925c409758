"""RunnableSequence: steps in order, built with ``|``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from runnables import (
    InvalidRunnableError,
    RunnableLambda,
    RunnableParallel,
    RunnablePassthrough,
    RunnableSequence,
)


def inc(x: int) -> int:
    return x + 1


def dbl(x: int) -> int:
    return x * 2


async def test_steps_run_in_order_on_every_entry_point() -> None:
    seq = RunnableLambda(inc) | dbl | inc
    assert seq.invoke(1) == 5
    assert await seq.ainvoke(1) == 5
    assert seq.batch([1, 2]) == [5, 7]
    assert await seq.abatch([1, 2]) == [5, 7]
    assert list(seq.stream(1)) == [5]
    assert [c async for c in seq.astream(1)] == [5]
    assert list(seq.transform(iter([1]))) == [5]
    assert [c async for c in seq.atransform([1])] == [5]


def test_sequences_flatten_and_expose_first_middle_last() -> None:
    a, b, c, d = (RunnableLambda(inc, name=n) for n in "abcd")
    seq = (a | b) | (c | d)
    assert isinstance(seq, RunnableSequence)
    assert seq.steps == [a, b, c, d]
    assert seq.first is a and seq.middle == [b, c] and seq.last is d
    assert RunnableSequence(first=a, middle=[b], last=c).steps == [a, b, c]
    assert a.pipe(b, c).steps == [a, b, c]


def test_a_named_sequence_stays_one_step() -> None:
    inner: RunnableSequence[int, int] = RunnableSequence(
        RunnableLambda(inc), RunnableLambda(dbl), name="inner"
    )
    outer = RunnableLambda(inc) | inner
    assert len(outer.steps) == 2
    assert outer.invoke(1) == 6


def test_dicts_and_functions_on_either_side_are_coerced() -> None:
    seq = {"a": inc, "b": dbl} | RunnableLambda(lambda d: d["a"] + d["b"])
    assert isinstance(seq.first, RunnableParallel)
    assert seq.invoke(3) == 10
    assert (inc | RunnableLambda(dbl)).invoke(1) == 4


def test_too_few_steps_or_unknown_keywords_are_rejected() -> None:
    with pytest.raises(InvalidRunnableError, match="at least 2 steps"):
        RunnableSequence(RunnableLambda(inc))
    with pytest.raises(InvalidRunnableError, match="'head'"):
        RunnableSequence(head=RunnableLambda(inc))


async def test_composition_does_not_change_the_original() -> None:
    seq = RunnableLambda(inc) | dbl
    longer = seq | inc
    assert len(seq.steps) == 2
    assert len(longer.steps) == 3
    assert await seq.ainvoke(1) == 4


async def test_streaming_steps_after_a_plain_step_still_stream() -> None:
    async def letters(chunks: AsyncIterator[str]) -> AsyncIterator[str]:
        async for text in chunks:
            for c in text:
                yield c

    seq = RunnableLambda[str, str](lambda x: x * 2) | letters | (lambda c: c)
    # The last step is a plain function: it needs its whole input, so one chunk.
    assert [c async for c in seq.astream("ab")] == ["abab"]
    assert [
        c async for c in (RunnableLambda[str, str](lambda x: x * 2) | letters).astream("ab")
    ] == [
        "a",
        "b",
        "a",
        "b",
    ]


async def test_each_input_of_abatch_moves_on_independently() -> None:
    order: list[str] = []
    release_slow = asyncio.Event()

    async def first(x: str) -> str:
        if x == "slow":
            await release_slow.wait()
        order.append(f"first {x}")
        return x

    async def second(x: str) -> str:
        order.append(f"second {x}")
        if x == "fast":
            release_slow.set()
        return x

    seq = RunnableLambda(first) | second
    assert await asyncio.wait_for(seq.abatch(["slow", "fast"]), 10) == ["slow", "fast"]
    assert order.index("second fast") < order.index("first slow")


async def test_a_failing_step_stops_the_sequence() -> None:
    ran: list[str] = []

    def fail(x: Any) -> Any:
        raise ValueError("bad")

    seq = RunnableLambda(fail) | RunnableLambda(lambda x: ran.append("after"))
    with pytest.raises(ValueError, match="bad"):
        await seq.ainvoke(1)
    assert ran == []


# ---------------------------------------------------------------------- langchain-core's shapes


def test_call_arguments_go_to_the_first_step_only() -> None:
    seen: list[tuple[Any, dict[str, Any]]] = []

    def tap(x: Any, **kwargs: Any) -> None:
        seen.append((x, kwargs))

    chain = RunnablePassthrough(tap) | RunnableLambda(len) | RunnablePassthrough(tap)
    assert chain.invoke("hello", my_kwarg="value") == 5
    assert seen == [("hello", {"my_kwarg": "value"}), (5, {})]
    seen.clear()
    assert chain.batch(["hello", "byebye"], my_kwarg="value") == [5, 6]
    assert sorted(seen, key=repr) == sorted(
        [("hello", {"my_kwarg": "value"}), ("byebye", {"my_kwarg": "value"}), (5, {}), (6, {})],
        key=repr,
    )
    seen.clear()
    assert list(chain.stream("hello", my_kwarg="value")) == [5]
    assert seen == [("hello", {"my_kwarg": "value"}), (5, {})]


def test_repr_puts_one_step_per_line() -> None:
    # The first lambda alone on its line, so its source can be told (the others share
    # a statement with another lambda, so they show as "...", as in langchain-core).
    double = RunnableLambda[int, int](lambda x: x * 2)
    chain = double | {
        "a": RunnableLambda(lambda x: x * 2),
        "b": RunnableLambda(lambda x: x * 3),
    }
    assert repr(chain) == (
        "RunnableLambda(lambda x: x * 2)\n"
        "| {\n"
        "    a: RunnableLambda(...),\n"
        "    b: RunnableLambda(...)\n"
        "  }"
    )


def test_output_schema_is_the_last_steps_with_its_title() -> None:
    def plus_one(ints: Iterator[int]) -> Iterator[int]:
        for i in ints:
            yield i + 1

    chain = RunnableLambda(lambda x: x) | plus_one
    assert chain.get_output_jsonschema() == {"title": "plus_one_output", "type": "integer"}
