"""W4: ``abatch`` of 20,000 inputs through one async step awaiting 50 ms, 2,000 at a time.

With ``max_concurrency=2000`` the ideal is 10 waves of 50 ms: 0.5 s. The hand-written
version gathers one coroutine per input behind an ``asyncio.Semaphore(2000)``.

Target: at most 1.2x the ideal.
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any

from harness import Result, Timing, main, time_async_rounds


async def measure(quick: bool) -> Result:
    from langchain_core.runnables import RunnableLambda as LcLambda

    from runnables import RunnableLambda

    n, limit, delay, rounds = (2_000, 200, 0.01, 1) if quick else (20_000, 2_000, 0.05, 3)
    ideal = math.ceil(n / limit) * delay
    inputs = list(range(n))

    async def step(x: int) -> int:
        await asyncio.sleep(delay)
        return x

    rn_step: Any = RunnableLambda(step)
    lc_step: Any = LcLambda(step)

    async def hand() -> list[int]:
        sem = asyncio.Semaphore(limit)

        async def one(x: int) -> int:
            async with sem:
                return await step(x)

        return await asyncio.gather(*(one(x) for x in inputs))

    config: Any = {"max_concurrency": limit}
    rn = await time_async_rounds(lambda: rn_step.abatch(inputs, config), rounds, warmup=0)
    hd = await time_async_rounds(hand, rounds, warmup=0)
    # langchain-core takes ~10 s here: one round, at full size.
    start = time.perf_counter()
    out = await lc_step.abatch(inputs, config)
    lc = Timing([time.perf_counter() - start])
    assert out == inputs == await rn_step.abatch(inputs, config)

    return Result(
        id="W4",
        title=f"abatch {n:,} x {delay * 1000:.0f} ms, max_concurrency={limit}",
        unit="s",
        runnables=rn.best,
        hand=hd.best,
        langchain=lc.best,
        ratios={"rn/ideal": rn.best / ideal, "lc/rn": lc.best / rn.best},
        target=f"rn ≤ 1.2x ideal ({ideal:g} s)",
        passed=rn.best <= 1.2 * ideal,
        notes=[
            f"best of {rounds} rounds (median rn {rn.median:.3f} s); langchain-core run once; "
            "hand-written = Semaphore + gather"
        ],
    )


def run(quick: bool) -> list[Result]:
    """Measure W4 (``quick``: 2,000 inputs of 10 ms, 200 at a time)."""
    return [asyncio.run(measure(quick))]


if __name__ == "__main__":
    main(run)
