"""RunnableBranch: the first branch whose condition holds runs; else the default."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from runnables import InvalidRunnableError, RunnableLambda, RunnableParallel
from runnables.core.branch import RunnableBranch


def _typed_branch() -> RunnableBranch[Any, Any]:
    return RunnableBranch(
        (lambda x: isinstance(x, str), lambda x: x.upper()),
        (lambda x: isinstance(x, int), lambda x: x + 1),
        lambda x: "goodbye",
    )


def test_invoke_runs_the_first_branch_whose_condition_holds() -> None:
    branch = _typed_branch()
    assert branch.invoke("hello") == "HELLO"
    assert branch.invoke(1) == 2
    assert branch.invoke(None) == "goodbye"


async def test_ainvoke_runs_the_default_when_no_condition_holds() -> None:
    branch = _typed_branch()
    assert await branch.ainvoke(2.5) == "goodbye"
    assert await branch.ainvoke("a") == "A"


def test_conditions_are_checked_in_order_and_only_until_one_holds() -> None:
    checked: list[str] = []

    def cond(name: str, result: bool) -> Any:
        def check(x: Any) -> bool:
            checked.append(name)
            return result

        return check

    ran: list[str] = []
    branch: RunnableBranch[int, None] = RunnableBranch(
        (cond("c1", False), lambda x: ran.append("b1")),
        (cond("c2", True), lambda x: ran.append("b2")),
        (cond("c3", True), lambda x: ran.append("b3")),
        lambda x: ran.append("default"),
    )
    branch.invoke(0)
    assert checked == ["c1", "c2"]
    assert ran == ["b2"]


def test_a_condition_result_is_tested_for_truth_not_identity() -> None:
    branch: RunnableBranch[object, str] = RunnableBranch(
        (lambda x: x, lambda x: "truthy"), lambda x: "falsy"
    )
    assert branch.invoke([1]) == "truthy"
    assert branch.invoke([]) == "falsy"
    assert branch.invoke("") == "falsy"


def _async_branch() -> RunnableBranch[Any, Any]:
    async def positive(x: int) -> bool:
        await asyncio.sleep(0)
        return x > 0

    async def double(x: int) -> int:
        await asyncio.sleep(0)
        return x * 2

    return RunnableBranch((positive, double), lambda x: "neg")


async def test_async_conditions_and_branches_are_awaited() -> None:
    branch = _async_branch()
    assert await branch.ainvoke(3) == 6
    assert await branch.ainvoke(-3) == "neg"


def test_sync_invoke_reaches_async_conditions_through_the_bridge() -> None:
    branch = _async_branch()
    assert branch.invoke(4) == 8
    assert branch.invoke(-4) == "neg"


def test_conditions_may_be_runnables() -> None:
    is_big = RunnableLambda[int, bool](lambda x: x > 100) | RunnableLambda(bool)
    branch: RunnableBranch[int, str] = RunnableBranch((is_big, lambda x: "big"), lambda x: "small")
    assert branch.invoke(1000) == "big"
    assert branch.invoke(1) == "small"


def test_a_dict_default_becomes_a_parallel() -> None:
    branch: RunnableBranch[int, Any] = RunnableBranch(
        (lambda x: False, lambda x: x), {"n": lambda x: x, "m": lambda x: -x}
    )
    assert isinstance(branch.default, RunnableParallel)
    assert branch.invoke(2) == {"n": 2, "m": -2}


def test_only_sync_steps_drive_inline_without_a_loop() -> None:
    # A sync-only branch runs in the calling thread with no event loop at all.
    seen: list[bool] = []

    def where(x: Any) -> Any:
        try:
            asyncio.get_running_loop()
            seen.append(True)
        except RuntimeError:
            seen.append(False)
        return threading.current_thread() is threading.main_thread()

    branch: RunnableBranch[int, Any] = RunnableBranch((lambda x: True, where), lambda x: x)
    assert branch._needs_loop() is False
    assert branch.invoke(1) is True
    assert seen == [False]


def test_an_async_condition_makes_the_branch_need_a_loop() -> None:
    async def cond(x: Any) -> bool:
        return True

    assert RunnableBranch((cond, lambda x: x), lambda x: x)._needs_loop() is True
    assert RunnableBranch((lambda x: True, lambda x: x), cond)._needs_loop() is True


async def test_astream_streams_the_chosen_branch_chunk_by_chunk() -> None:
    async def words(x: str) -> AsyncIterator[str]:
        for w in x.split():
            yield w + " "

    other_ran: list[str] = []
    branch: RunnableBranch[str, Any] = RunnableBranch(
        (lambda x: x.startswith("say"), RunnableLambda(words)),
        lambda x: other_ran.append(x),
    )
    chunks = [c async for c in branch.astream("say a b c")]
    assert chunks == ["say ", "a ", "b ", "c "]
    assert other_ran == []


def test_stream_gathers_input_chunks_before_choosing() -> None:
    def gen(x: str) -> Iterator[str]:
        yield from x

    branch: RunnableBranch[str, Any] = RunnableBranch(
        (lambda x: x == "abc", RunnableLambda(gen)), lambda x: ["no"]
    )
    # transform feeds the input in chunks: the branch sees "abc", not "a".
    assert list(branch.transform(["a", "b", "c"])) == ["a", "b", "c"]


async def test_astream_chunks_arrive_before_the_branch_finishes() -> None:
    release = asyncio.Event()

    async def slow(x: Any) -> AsyncIterator[str]:
        yield "first"
        await release.wait()
        yield "second"

    branch: RunnableBranch[int, Any] = RunnableBranch(
        (lambda x: True, RunnableLambda(slow)), lambda x: x
    )
    stream = branch.astream(1)
    assert await asyncio.wait_for(stream.__anext__(), timeout=5) == "first"
    release.set()
    assert [c async for c in stream] == ["second"]


async def test_abatch_sends_each_input_to_its_own_branch() -> None:
    branch = _typed_branch()
    assert await branch.abatch(["a", 1, None]) == ["A", 2, "goodbye"]
    assert branch.batch(["b", 2]) == ["B", 3]


def test_an_error_in_the_chosen_branch_keeps_its_type_and_names_the_step() -> None:
    def explode(x: Any) -> Any:
        raise KeyError("missing")

    branch: RunnableBranch[int, Any] = RunnableBranch((lambda x: True, explode), lambda x: x)
    with pytest.raises(KeyError) as info:
        branch.invoke(1)
    assert any("explode" in note for note in info.value.__notes__)


def test_an_error_in_a_condition_propagates() -> None:
    def bad(x: Any) -> bool:
        raise ValueError("cannot decide")

    branch: RunnableBranch[int, Any] = RunnableBranch((bad, lambda x: x), lambda x: "default")
    with pytest.raises(ValueError, match="cannot decide"):
        branch.invoke(1)


async def test_events_tag_conditions_and_the_chosen_branch() -> None:
    branch: RunnableBranch[None, int] = RunnableBranch(
        (RunnableLambda(lambda x: False, name="c1"), RunnableLambda(lambda x: 1, name="b1")),
        (RunnableLambda(lambda x: True, name="c2"), RunnableLambda(lambda x: 2, name="b2")),
        RunnableLambda(lambda x: 0, name="fallback"),
    )
    starts = {
        e["name"]: e["tags"]
        async for e in branch.astream_events(None)
        if e["event"] == "on_chain_start"
    }
    assert "condition:1" in starts["c1"]
    assert "condition:2" in starts["c2"]
    assert "branch:2" in starts["b2"]
    assert "b1" not in starts and "fallback" not in starts


async def test_default_events_are_tagged_branch_default() -> None:
    branch: RunnableBranch[None, int] = RunnableBranch(
        (lambda x: False, lambda x: 1), RunnableLambda(lambda x: 0, name="fallback")
    )
    tags = [
        e["tags"]
        async for e in branch.astream_events(None)
        if e["event"] == "on_chain_start" and e["name"] == "fallback"
    ]
    assert tags and "branch:default" in tags[0]


def test_call_arguments_go_to_the_branches_not_the_conditions() -> None:
    seen: dict[str, Any] = {}

    def cond(x: Any) -> bool:
        return True

    def target(x: Any, suffix: str = "") -> str:
        seen["suffix"] = suffix
        return f"{x}{suffix}"

    branch: RunnableBranch[str, str] = RunnableBranch(
        (cond, target), lambda x, suffix="": "default"
    )
    assert branch.bind(suffix="!").invoke("hi") == "hi!"
    assert seen == {"suffix": "!"}


def test_children_are_the_conditions_branches_and_default() -> None:
    c, b, d = RunnableLambda(bool), RunnableLambda(str), RunnableLambda(repr)
    assert list(RunnableBranch((c, b), d)._children()) == [c, b, d]


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((lambda x: x,), "at least one"),
        (((lambda x: True, lambda x: x),), "at least one"),
        (((lambda x: True, lambda x: x), (lambda x: x, lambda x: x)), "default"),
        ((lambda x: x, lambda x: x), "must be a \\(condition, runnable\\) pair"),
        (((lambda x: True,), lambda x: x), "got 1 items"),
        (((lambda x: True, lambda x: x, lambda x: x), lambda x: x), "got 3 items"),
        (((lambda x: True, 42), lambda x: x), "Cannot use 42"),
    ],
)
def test_bad_arguments_raise_a_clear_error(args: tuple[Any, ...], match: str) -> None:
    with pytest.raises(InvalidRunnableError, match=match):
        RunnableBranch(*args)


# ---------------------------------------------------------------------- langchain-core's shapes


def test_too_few_arguments_is_also_a_value_error_as_in_langchain_core() -> None:
    with pytest.raises(ValueError, match="requires at least two branches"):
        RunnableBranch(lambda x: x)
    with pytest.raises(ValueError, match="got 1 items"):
        RunnableBranch((lambda x: True,), lambda x: x)


def test_input_schema_falls_back_to_the_declared_type() -> None:
    branch = RunnableBranch[int, int]((lambda x: x > 0, lambda x: x + 1), lambda x: x - 1)
    assert branch.get_input_jsonschema() == {"title": "RunnableBranchInput", "type": "integer"}


def test_input_schema_prefers_a_typed_option() -> None:
    def typed(x: str) -> str:
        return x

    branch = RunnableBranch[int, int]((lambda x: True, typed), lambda x: x)
    assert branch.get_input_jsonschema() == {"title": "typed_input", "type": "string"}


def test_a_public_invoke_set_on_a_condition_or_branch_is_what_the_branch_calls() -> None:
    # As langchain-core: the branch goes through each step's public invoke (ainvoke),
    # so an invoke replaced on the object (a spy, a wrapper) sees every call.
    calls: list[tuple[str, Any]] = []
    condition = RunnableLambda[int, bool](lambda x: x > 0)
    add = RunnableLambda[int, int](lambda x: x + 1)
    for name, step in (("condition", condition), ("add", add)):
        original = step.invoke

        def spy(x: Any, config: Any = None, *, _n: str = name, _f: Any = original) -> Any:
            calls.append((_n, x))
            return _f(x, config)

        # A spy put in place of the bound method, which mypy forbids on purpose.
        step.invoke = spy  # type: ignore[method-assign,assignment]
    branch: RunnableBranch[int, int] = RunnableBranch(
        (condition, add), (condition, add), RunnableLambda(lambda x: x - 1)
    )
    assert branch.invoke(1) == 2
    assert calls == [("condition", 1), ("add", 1)]
    calls.clear()
    assert branch.invoke(-3) == -4
    assert calls == [("condition", -3), ("condition", -3)]


async def test_a_public_ainvoke_set_on_a_condition_is_what_the_async_branch_calls() -> None:
    seen: list[Any] = []
    condition = RunnableLambda[int, bool](lambda x: x > 0)
    original = condition.ainvoke

    async def spy(x: Any, config: Any = None) -> Any:
        seen.append(x)
        return await original(x, config)

    # A spy put in place of the bound method, which mypy forbids on purpose.
    condition.ainvoke = spy  # type: ignore[method-assign,assignment]
    branch: RunnableBranch[int, str] = RunnableBranch((condition, lambda x: "pos"), lambda x: "neg")
    assert await branch.ainvoke(5) == "pos"
    assert seen == [5]
