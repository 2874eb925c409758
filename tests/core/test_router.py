"""RouterRunnable: the input's ``key`` picks the runnable that gets its ``input``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from runnables import InvalidRunnableError, RunnableLambda
from runnables.core.router import RouterInput, RouterRunnable
from runnables.errors import InvalidInputError, RunnablesError


def _router() -> RouterRunnable[Any]:
    return RouterRunnable({"add": lambda x: x + 1, "square": lambda x: x**2})


def test_invoke_runs_the_runnable_named_by_key() -> None:
    router = _router()
    assert router.invoke({"key": "square", "input": 3}) == 9
    assert router.invoke({"key": "add", "input": 3}) == 4


async def test_ainvoke_runs_async_targets() -> None:
    async def shout(x: str) -> str:
        await asyncio.sleep(0)
        return x.upper()

    router: RouterRunnable[str] = RouterRunnable({"shout": shout, "same": lambda x: x})
    assert await router.ainvoke({"key": "shout", "input": "hi"}) == "HI"
    assert await router.ainvoke({"key": "same", "input": "hi"}) == "hi"


def test_an_unknown_key_lists_the_keys_there_are() -> None:
    with pytest.raises(InvalidInputError) as info:
        _router().invoke({"key": "cube", "input": 3})
    message = str(info.value)
    assert "'cube'" in message and "['add', 'square']" in message
    # Callers that caught langchain-core's ValueError keep working.
    assert isinstance(info.value, ValueError) and isinstance(info.value, RunnablesError)


def test_an_unhashable_key_is_reported_not_crashed_on() -> None:
    with pytest.raises(InvalidInputError, match="no runnable for key"):
        _router().invoke({"key": ["add"], "input": 3})  # type: ignore[typeddict-item]  # on purpose


@pytest.mark.parametrize("bad", [3, "add", {"key": "add"}, {"input": 3}])
def test_an_input_without_key_and_input_is_explained(bad: Any) -> None:
    with pytest.raises(InvalidInputError, match="'key' and 'input'"):
        _router().invoke(bad)


async def test_abatch_routes_each_input_on_its_own() -> None:
    inputs: list[RouterInput] = [{"key": "add", "input": 1}, {"key": "square", "input": 4}]
    assert await _router().abatch(inputs) == [2, 16]
    assert _router().batch(inputs) == [2, 16]


async def test_abatch_with_return_exceptions_keeps_the_good_routes() -> None:
    out = await _router().abatch(
        [{"key": "add", "input": 1}, {"key": "nope", "input": 1}], return_exceptions=True
    )
    assert out[0] == 2
    assert isinstance(out[1], InvalidInputError)


async def test_astream_streams_the_chosen_runnable() -> None:
    async def spell(x: str) -> AsyncIterator[str]:
        for ch in x:
            yield ch

    router: RouterRunnable[Any] = RouterRunnable({"spell": RunnableLambda(spell), "n": len})
    chunks = [c async for c in router.astream({"key": "spell", "input": "abc"})]
    assert chunks == ["a", "b", "c"]


def test_stream_runs_a_plain_target_as_one_chunk() -> None:
    router: RouterRunnable[Any] = RouterRunnable({"n": len, "same": lambda x: x})
    assert list(router.stream({"key": "n", "input": "abc"})) == [3]


def test_errors_from_the_target_keep_their_type() -> None:
    def fail(x: Any) -> Any:
        raise LookupError("gone")

    with pytest.raises(LookupError, match="gone") as info:
        RouterRunnable({"f": fail}).invoke({"key": "f", "input": 1})
    assert any("fail" in note for note in info.value.__notes__)


def test_sync_targets_drive_inline_and_async_ones_need_a_loop() -> None:
    async def afn(x: Any) -> Any:
        return x

    assert _router()._needs_loop() is False
    assert RouterRunnable({"a": afn, "b": lambda x: x})._needs_loop() is True


def test_children_are_the_routes() -> None:
    a, b = RunnableLambda(str), RunnableLambda(repr)
    assert list(RouterRunnable({"a": a, "b": b})._children()) == [a, b]


def test_an_empty_mapping_is_rejected() -> None:
    with pytest.raises(InvalidRunnableError, match="non-empty dict"):
        RouterRunnable({})


def test_a_router_composes_in_a_chain() -> None:
    chain = (
        RunnableLambda[int, RouterInput](
            lambda x: {"key": "add" if x > 0 else "square", "input": x}
        )
        | _router()
    )
    assert chain.invoke(5) == 6
    assert chain.invoke(-3) == 9
