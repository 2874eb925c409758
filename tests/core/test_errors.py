"""A user's exception reaches the caller unchanged, with one note naming the step."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from runnables import (
    ConfigWarning,
    InvalidRunnableError,
    RecursionLimitError,
    Runnable,
    RunnableGenerator,
    RunnableLambda,
    RunnableParallel,
)


class ParseError(Exception):
    pass


def _failing_chains(boom: BaseException) -> dict[str, Runnable[Any, Any]]:
    def parse(x: Any) -> Any:
        raise boom

    async def aparse(x: Any) -> Any:
        await asyncio.sleep(0)
        raise boom

    def gen(x: Any) -> Iterator[Any]:
        yield "partial"
        raise boom

    async def agen(chunks: AsyncIterator[Any]) -> AsyncIterator[Any]:
        async for c in chunks:
            yield c
        raise boom

    first = RunnableLambda(lambda x: x, name="first")
    return {
        "sync": first | RunnableLambda(parse, name="parse"),
        "async": first | RunnableLambda(aparse, name="parse"),
        "sync generator": first | RunnableLambda(gen, name="parse"),
        "async generator": first | RunnableGenerator(agen, name="parse"),
        "parallel": first
        | RunnableParallel(ok=lambda x: x, bad=RunnableLambda(parse, name="parse")),
    }


CASES = list(_failing_chains(ParseError()).keys())


def _check(exc: BaseException, boom: BaseException) -> None:
    assert exc is boom
    notes = getattr(exc, "__notes__", [])
    assert len(notes) == 1, notes
    assert "'parse'" in notes[0]


async def _drain(it: AsyncIterator[Any]) -> list[Any]:
    return [c async for c in it]


CALLS: dict[str, Callable[[Runnable[Any, Any]], Any]] = {
    "ainvoke": lambda r: r.ainvoke("x"),
    "astream": lambda r: _drain(r.astream("x")),
    "abatch": lambda r: r.abatch(["x", "y"]),
    "abatch max_concurrency": lambda r: r.abatch(["x"] * 3, {"max_concurrency": 1}),
    "ainvoke traced": lambda r: r.ainvoke("x", {"callbacks": [object()]}),
    "ainvoke with timeout": lambda r: r.ainvoke("x", {"timeout": 30}),
}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("call", list(CALLS))
async def test_async_calls_raise_the_users_exception_unchanged_with_a_note(
    case: str, call: str
) -> None:
    boom = ParseError("could not parse 'x'")
    with pytest.raises(ParseError) as info:
        await CALLS[call](_failing_chains(boom)[case])
    _check(info.value, boom)


@pytest.mark.parametrize("case", CASES)
def test_sync_calls_raise_the_users_exception_unchanged_with_a_note(case: str) -> None:
    for call in ("invoke", "stream", "batch"):
        boom = ParseError("could not parse 'x'")
        chain = _failing_chains(boom)[case]
        with pytest.raises(ParseError) as info:
            if call == "invoke":
                chain.invoke("x")
            elif call == "stream":
                list(chain.stream("x"))
            else:
                chain.batch(["x", "y"])
        _check(info.value, boom)


async def test_abatch_return_exceptions_puts_the_users_exception_in_place() -> None:
    boom = ParseError("bad input")

    def maybe(x: str) -> str:
        if x == "bad":
            raise boom
        return x

    chain = RunnableLambda(maybe, name="parse") | RunnableLambda(lambda x: x.upper())
    out = await chain.abatch(["ok", "bad", "fine"], return_exceptions=True)
    assert out[0] == "OK" and out[2] == "FINE"
    _check(out[1], boom)
    out = chain.batch(["ok", "bad"], return_exceptions=True)
    assert out[0] == "OK"
    _check(out[1], boom)


async def test_abatch_without_return_exceptions_raises_the_first_failure() -> None:
    boom = ParseError("bad input")

    def maybe(x: str) -> str:
        if x == "bad":
            raise boom
        return x

    with pytest.raises(ParseError) as info:
        await RunnableLambda(maybe, name="parse").abatch(["ok", "bad", "fine"])
    _check(info.value, boom)


async def test_the_note_names_the_innermost_step_once_through_nesting() -> None:
    boom = KeyError("missing")

    def inner(x: Any) -> Any:
        raise boom

    inner_step = RunnableLambda(inner, name="parse")

    async def outer(x: Any) -> Any:
        return await inner_step.ainvoke(x)

    chain = RunnableLambda(outer, name="outer") | RunnableLambda(lambda x: x)
    with pytest.raises(KeyError) as info:
        await chain.ainvoke(1)
    _check(info.value, boom)


async def test_exception_keeps_its_traceback_to_the_users_line() -> None:
    def parse(x: Any) -> Any:
        empty: dict[str, Any] = {}
        return empty["nope"]

    with pytest.raises(KeyError) as info:
        await RunnableLambda(parse).ainvoke(1)
    assert any(entry.name == "parse" for entry in info.traceback)


def test_composing_with_a_non_runnable_says_what_to_do() -> None:
    with pytest.raises(InvalidRunnableError, match=r"42.*lambda _: value"):
        RunnableLambda(lambda x: x) | 42  # type: ignore[operator]


def test_misspelt_config_key_warns_naming_it_and_the_key_meant() -> None:
    with pytest.warns(ConfigWarning, match=r"'max_concurency'.*did you mean 'max_concurrency'"):
        RunnableLambda(lambda x: x).invoke(1, {"max_concurency": 2})  # type: ignore[arg-type]


async def test_recursion_limit_stops_functions_that_keep_returning_runnables() -> None:
    def again(x: int) -> Any:
        return step if x > 0 else x

    step: Runnable[int, Any] = RunnableLambda(again)
    with pytest.raises(RecursionLimitError, match="recursion_limit"):
        await step.ainvoke(1, {"recursion_limit": 3})
    assert await step.ainvoke(0) == 0

    def countdown(x: int) -> Any:
        return RunnableLambda(lambda _: "done") if x == 0 else RunnableLambda(countdown)

    assert await RunnableLambda(countdown).ainvoke(0, {"recursion_limit": 2}) == "done"
    with pytest.raises(RecursionError):
        RunnableLambda(again).invoke(1, {"recursion_limit": 5})


async def test_a_returned_runnable_runs_on_the_same_input() -> None:
    def route(x: int) -> Runnable[int, int]:
        return RunnableLambda(lambda y: y * 10)

    assert await RunnableLambda(route).ainvoke(3) == 30
    assert RunnableLambda(route).invoke(3) == 30
    assert [c async for c in RunnableLambda(route).astream(3)] == [30]


@pytest.mark.parametrize(("config", "limit"), [({}, 25), ({"recursion_limit": 3}, 3)])
async def test_recursion_limit_error_names_the_depth_reached_not_zero(
    config: dict[str, Any], limit: int
) -> None:
    def again(x: int) -> Any:
        return step

    step: Runnable[int, Any] = RunnableLambda(again, name="again")
    with pytest.raises(RecursionLimitError) as caught:
        await step.ainvoke(1, config)  # type: ignore[arg-type]
    message = str(caught.value)
    assert "0 levels" not in message
    assert f"more than {limit} levels deep" in message
    assert "'again'" in message
