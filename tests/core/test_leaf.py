"""The leaf scope (core/leaf.py): the one place a step runs a child and a leaf takes
the concurrency budget, times a sync function and records itself for a deadline."""

from __future__ import annotations

import asyncio
import re
import warnings
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from runnables import RunnableGenerator, RunnableLambda
from runnables.core import leaf
from runnables.core import offload as _offload
from runnables.core.config import CURRENT, Context, make_context
from runnables.core.limiter import HOLDING, Limiter
from runnables.errors import BlockingStepWarning

SRC = Path(leaf.__file__).resolve().parents[1]


def test_no_step_reads_another_steps_leaf_hooks_outside_the_leaf_scope() -> None:
    # A container that calls step._inline (or times it itself) would run a child its
    # own way again: only core/leaf.py may read a hook of a step other than itself.
    hook = re.compile(r"(?<!self)\.(_inline|_ainline|_found_blocking|_run_returned)\b")
    offenders = [
        f"{path.relative_to(SRC)}:{n}: {line.strip()}"
        for path in sorted(SRC.rglob("*.py"))
        if path.name != "leaf.py" or path.parent.name != "core"
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if hook.search(line)
    ]
    assert offenders == []


class _Names:
    """A stand-in step: the leaf scope only asks a step for its name."""

    def __init__(self, name: str) -> None:
        self.name = name

    def get_name(self) -> str:
        return self.name


def _budget_ctx(limit: int = 1) -> tuple[Context, Limiter]:
    ctx = make_context({"max_concurrency": limit, "timeout": 60.0})
    assert ctx.limiter is not None and ctx.running is not None and not ctx.is_root
    return ctx, ctx.limiter


async def test_hold_stream_holds_one_slot_until_the_stream_ends_and_marks_it_only_in_pulls() -> (
    None
):
    ctx, limiter = _budget_ctx()
    inside: list[tuple[bool, bool, int, list[str]]] = []
    outside: list[tuple[bool, bool, int]] = []

    async def work() -> AsyncIterator[int]:
        for i in range(3):
            assert ctx.running is not None
            inside.append(
                (HOLDING.get() is limiter, CURRENT.get() is ctx, limiter.in_use, [*ctx.running])
            )
            yield i

    got = []
    async for chunk in leaf.hold_stream(_Names("model"), ctx, work()):  # type: ignore[arg-type]
        outside.append((HOLDING.get() is limiter, CURRENT.get() is ctx, limiter.in_use))
        got.append(chunk)
    assert got == [0, 1, 2]
    # While the step's code runs, the slot is held and marked, and its config current.
    assert inside == [(True, True, 1, ["model"])] * 3
    # Between chunks (the consumer's code) the slot stays taken but is not lent away from
    # the consumer's code, and the step's config is not current there.
    assert outside == [(False, False, 1)] * 3
    assert limiter.in_use == 0
    assert ctx.running == []


async def test_hold_stream_closes_the_work_and_gives_the_slot_back_when_left_early() -> None:
    ctx, limiter = _budget_ctx()
    closed: list[bool] = []

    async def work() -> AsyncIterator[int]:
        try:
            for i in range(10):
                yield i
        finally:
            closed.append(True)

    stream = leaf.hold_stream(_Names("model"), ctx, work())  # type: ignore[arg-type]
    async for chunk in stream:
        if chunk == 1:
            break
    await stream.aclose()  # type: ignore[attr-defined]
    assert closed == [True]
    assert limiter.in_use == 0
    assert ctx.running == []


async def test_run_leaf_marks_its_slot_held_so_a_nested_call_lends_it() -> None:
    # Budget 1: the leaf's code makes a nested call to another leaf. Without the held
    # mark, the nested leaf would wait for the one slot its caller holds, for ever.
    inner: RunnableLambda[int, int] = RunnableLambda(lambda x: x + 1)

    async def outer(x: int) -> int:
        assert HOLDING.get() is not None
        return await inner.ainvoke(x) * 10

    assert await RunnableLambda(outer).ainvoke(1, {"max_concurrency": 1}) == 20


async def test_run_plain_leaf_holds_and_marks_a_slot_waits_its_turn_and_notes_errors() -> None:
    ctx = make_context({"max_concurrency": 1})
    limiter = ctx.limiter
    assert limiter is not None and ctx.running is None
    seen: list[tuple[int, bool, bool]] = []
    gate = asyncio.Event()

    async def work(x: int) -> int:
        seen.append((limiter.in_use, HOLDING.get() is limiter, CURRENT.get() is ctx))
        if x == 0:
            await gate.wait()
        if x < 0:
            raise ValueError("negative")
        return x + 1

    step = RunnableLambda(work)
    first = asyncio.ensure_future(leaf.run_plain_leaf(step, ctx, work, 0))
    await asyncio.sleep(0)
    second = asyncio.ensure_future(leaf.run_plain_leaf(step, ctx, work, 1))
    await asyncio.sleep(0)
    assert len(seen) == 1  # the second waits for the one slot
    gate.set()
    assert await first == 1 and await second == 2
    with pytest.raises(ValueError, match="negative") as info:
        await leaf.run_plain_leaf(step, ctx, work, -1)
    assert info.value.__notes__ == ["(raised in runnables step 'work')"]
    assert seen == [(1, True, True)] * 3
    assert limiter.in_use == 0 and HOLDING.get() is None and CURRENT.get() is None


async def test_lend_slot_gives_the_held_slot_back_and_reclaim_takes_it_again() -> None:
    ctx, limiter = _budget_ctx()
    await limiter.acquire()
    token = HOLDING.set(limiter)
    try:
        lent = leaf.lend_slot(ctx)
        assert lent is limiter and limiter.in_use == 0 and HOLDING.get() is None
        await leaf.reclaim_slot(lent)
        assert limiter.in_use == 1 and HOLDING.get() is limiter
    finally:
        HOLDING.reset(token)
        limiter.release()
    # Nothing is lent by a call without a budget, or when no slot is held.
    assert leaf.lend_slot(make_context({})) is None
    assert leaf.lend_slot(ctx) is None


def test_timed_tells_a_slow_step_and_notes_a_users_exception(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_offload, "THRESHOLD", 0.0)
    told: list[bool] = []

    class Step(_Names):
        def _found_blocking(self, spent: float, in_loop: bool = True) -> None:
            assert spent > 0
            told.append(in_loop)

    step = Step("slow")
    assert leaf.timed(step, str.upper, 0.0, False, "a") == "A"  # type: ignore[arg-type]
    assert told == [False]

    def boom(_: Any) -> None:
        raise KeyError("k")

    with pytest.raises(KeyError) as info:
        leaf.timed(step, boom, 0.0, True, 1)  # type: ignore[arg-type]
    assert info.value.__notes__ == ["(raised in runnables step 'slow')"]


async def test_a_sync_function_found_blocking_in_a_chain_is_told_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The plain path of a sequence (leaf.run_in_turn) times each step from the previous
    # clock read; a slow one is marked and warned about once, then runs on a thread.
    monkeypatch.setattr(_offload, "THRESHOLD", 0.0)
    step: RunnableLambda[int, int] = RunnableLambda(lambda x: x + 1)
    chain = step | RunnableLambda(lambda x: x * 2, offload="never")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert await chain.ainvoke(1) == 4
        assert await chain.ainvoke(1) == 4
    assert [type(w.message) for w in caught] == [BlockingStepWarning]
    assert step._blocking


async def test_a_traced_streaming_step_with_an_empty_input_ends_with_no_input() -> None:
    # The recorder hands the first input chunk out again itself; an input with no chunks
    # ends the step's input at once, and the run records no input.
    async def nothing(chunks: AsyncIterator[int]) -> AsyncIterator[int]:
        async for _ in chunks:
            pass
        return
        yield  # an async generator

    async def count(chunks: AsyncIterator[int]) -> AsyncIterator[int]:
        n = 0
        async for _ in chunks:
            n += 1
        yield n

    chain: Any = RunnableGenerator(nothing) | RunnableGenerator(count)
    events = [e async for e in chain.astream_events(1, version="v2")]
    ends = {e["name"]: e["data"] for e in events if e["event"] == "on_chain_end"}
    assert ends["count"] == {"output": 0, "input": {}}
    assert [c async for c in chain.astream(1)] == [0]
