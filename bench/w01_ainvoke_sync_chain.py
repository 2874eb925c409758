"""W1: ``ainvoke`` of a 10-step sequence of cheap sync functions.

Measures the fixed cost a chain adds around trivial work: ten ``lambda x: x + 1`` steps.
The hand-written version awaits one coroutine that calls the ten functions in turn,
which is what "the same work in plain asyncio" costs.

Target: at least 100x faster than langchain-core, at most 10x the hand-written version.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from harness import Result, main, time_async_calls

STEPS = 10


def make_funcs() -> list[Callable[[int], int]]:
    return [lambda x: x + 1 for _ in range(STEPS)]


async def measure(quick: bool) -> Result:
    from langchain_core.runnables import RunnableLambda as LcLambda

    from runnables import RunnableLambda

    calls, rounds = (200, 2) if quick else (5_000, 7)
    lc_calls, lc_rounds = (20, 1) if quick else (200, 3)

    rn_chain: Any = RunnableLambda(make_funcs()[0])
    for f in make_funcs()[1:]:
        rn_chain = rn_chain | RunnableLambda(f)
    lc_chain: Any = LcLambda(make_funcs()[0])
    for f in make_funcs()[1:]:
        lc_chain = lc_chain | LcLambda(f)

    funcs = make_funcs()

    async def hand(x: int) -> int:
        for f in funcs:
            x = f(x)
        return x

    assert await rn_chain.ainvoke(0) == STEPS
    assert await lc_chain.ainvoke(0) == STEPS

    rn = await time_async_calls(lambda: rn_chain.ainvoke(0), calls, rounds)
    hd = await time_async_calls(lambda: hand(0), calls, rounds)
    lc = await time_async_calls(lambda: lc_chain.ainvoke(0), lc_calls, lc_rounds)

    lc_over_rn = lc.best / rn.best
    rn_over_hand = rn.best / hd.best
    return Result(
        id="W1",
        title="ainvoke, 10 sync steps",
        unit="µs/call",
        runnables=rn.best * 1e6,
        hand=hd.best * 1e6,
        langchain=lc.best * 1e6,
        ratios={"lc/rn": lc_over_rn, "rn/hand": rn_over_hand},
        target="lc/rn ≥ 100x, rn/hand ≤ 10x",
        passed=lc_over_rn >= 100 and rn_over_hand <= 10,
        notes=[f"best of {rounds} rounds of {calls} calls (lc: {lc_rounds} x {lc_calls})"],
    )


def run(quick: bool) -> list[Result]:
    """Measure W1 (``quick``: a few hundred calls, for a smoke run)."""
    return [asyncio.run(measure(quick))]


if __name__ == "__main__":
    main(run)
