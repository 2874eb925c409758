"""W3: ``ainvoke`` of a 10-step sequence of async functions.

Ten ``async def step(x): return x + 1`` steps. The hand-written version awaits the ten
coroutine functions in turn.

Target: at least 100x faster than langchain-core, at most 10x the hand-written version.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from harness import Result, main, time_async_calls

STEPS = 10


def make_afuncs() -> list[Callable[[int], Awaitable[int]]]:
    async def step(x: int) -> int:
        return x + 1

    return [step for _ in range(STEPS)]


async def measure(quick: bool) -> Result:
    from langchain_core.runnables import RunnableLambda as LcLambda

    from runnables import RunnableLambda

    calls, rounds = (200, 2) if quick else (5_000, 7)
    lc_calls, lc_rounds = (20, 1) if quick else (200, 3)

    afuncs = make_afuncs()
    rn_chain: Any = RunnableLambda(afuncs[0])
    lc_chain: Any = LcLambda(afuncs[0])
    for f in afuncs[1:]:
        rn_chain = rn_chain | RunnableLambda(f)
        lc_chain = lc_chain | LcLambda(f)

    async def hand(x: int) -> int:
        for f in afuncs:
            x = await f(x)
        return x

    assert await rn_chain.ainvoke(0) == await lc_chain.ainvoke(0) == await hand(0)

    rn = await time_async_calls(lambda: rn_chain.ainvoke(0), calls, rounds)
    hd = await time_async_calls(lambda: hand(0), calls, rounds)
    lc = await time_async_calls(lambda: lc_chain.ainvoke(0), lc_calls, lc_rounds)

    lc_over_rn = lc.best / rn.best
    rn_over_hand = rn.best / hd.best
    return Result(
        id="W3",
        title="ainvoke, 10 async steps",
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
    """Measure W3 (``quick``: a few hundred calls, for a smoke run)."""
    return [asyncio.run(measure(quick))]


if __name__ == "__main__":
    main(run)
