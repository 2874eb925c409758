"""W5: ``abatch`` of 10,000 inputs through one async step awaiting 50 ms, no limit.

All inputs wait at once, so the ideal is 50 ms; what remains is the cost of starting
and collecting 10,000 coroutines. The hand-written version is ``asyncio.gather``.

Target: at most 2x the hand-written ``asyncio.gather``.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from harness import Result, Timing, main, time_async_rounds


async def measure(quick: bool) -> Result:
    from langchain_core.runnables import RunnableLambda as LcLambda

    from runnables import RunnableLambda

    n, delay, rounds = (1_000, 0.01, 2) if quick else (10_000, 0.05, 5)
    inputs = list(range(n))

    async def step(x: int) -> int:
        await asyncio.sleep(delay)
        return x

    rn_step: Any = RunnableLambda(step)
    lc_step: Any = LcLambda(step)

    async def hand() -> list[int]:
        return await asyncio.gather(*(step(x) for x in inputs))

    rn = await time_async_rounds(lambda: rn_step.abatch(inputs), rounds)
    hd = await time_async_rounds(hand, rounds)
    # langchain-core takes ~5 s here: one round, at full size.
    start = time.perf_counter()
    out = await lc_step.abatch(inputs)
    lc = Timing([time.perf_counter() - start])
    assert out == inputs == await rn_step.abatch(inputs)

    rn_over_hand = rn.best / hd.best
    return Result(
        id="W5",
        title=f"abatch {n:,} x {delay * 1000:.0f} ms, no limit",
        unit="s",
        runnables=rn.best,
        hand=hd.best,
        langchain=lc.best,
        ratios={"rn/hand": rn_over_hand, "rn/ideal": rn.best / delay, "lc/rn": lc.best / rn.best},
        target="rn/hand ≤ 2x",
        passed=rn_over_hand <= 2,
        notes=[
            f"best of {rounds} rounds (median rn {rn.median:.3f} s, hand {hd.median:.3f} s); "
            "langchain-core run once"
        ],
    )


def run(quick: bool) -> list[Result]:
    """Measure W5 (``quick``: 1,000 inputs of 10 ms)."""
    return [asyncio.run(measure(quick))]


if __name__ == "__main__":
    main(run)
