"""W6: ``RunnableParallel`` of 10 branches, each awaiting 10 ms.

The branches run at once, so the ideal is 10 ms per call. The hand-written version is
``asyncio.gather`` over the ten coroutines, collected into a dict.

Target: at most 1.1x the 10 ms ideal.
"""

from __future__ import annotations

import asyncio
from typing import Any

from harness import Result, main, time_async_calls

BRANCHES = 10
DELAY = 0.01


async def branch(x: int) -> int:
    await asyncio.sleep(DELAY)
    return x


async def measure(quick: bool) -> Result:
    from langchain_core.runnables import RunnableParallel as LcParallel

    from runnables import RunnableParallel

    calls, rounds = (5, 1) if quick else (50, 5)
    lc_calls, lc_rounds = (5, 1) if quick else (50, 3)

    keys = [f"b{i}" for i in range(BRANCHES)]
    rn_par: Any = RunnableParallel({k: branch for k in keys})
    lc_par: Any = LcParallel({k: branch for k in keys})

    async def hand(x: int) -> dict[str, int]:
        return dict(zip(keys, await asyncio.gather(*(branch(x) for _ in keys))))

    assert await rn_par.ainvoke(1) == await lc_par.ainvoke(1) == await hand(1)

    rn = await time_async_calls(lambda: rn_par.ainvoke(1), calls, rounds)
    hd = await time_async_calls(lambda: hand(1), calls, rounds)
    lc = await time_async_calls(lambda: lc_par.ainvoke(1), lc_calls, lc_rounds)

    return Result(
        id="W6",
        title="RunnableParallel, 10 x 10 ms",
        unit="ms/call",
        runnables=rn.best * 1e3,
        hand=hd.best * 1e3,
        langchain=lc.best * 1e3,
        ratios={
            "rn/ideal": rn.best / DELAY,
            "rn/hand": rn.best / hd.best,
            "lc/rn": lc.best / rn.best,
        },
        target="rn ≤ 1.1x ideal (10 ms)",
        passed=rn.best <= 1.1 * DELAY,
        notes=[
            f"best of {rounds} rounds of {calls} calls, median rn {rn.median * 1e3:.2f} ms "
            f"(lc: {lc_rounds} x {lc_calls})"
        ],
    )


def run(quick: bool) -> list[Result]:
    """Measure W6 (``quick``: five calls)."""
    return [asyncio.run(measure(quick))]


if __name__ == "__main__":
    main(run)
