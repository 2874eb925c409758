"""W9: memory held by each of 10,000 ``ainvoke`` calls of a 3-step chain in flight at once.

Every step awaits a gate (an ``asyncio.Event``), so all calls are suspended inside the
same step together; tracemalloc then reports the memory they hold, per call, beside
the same three async functions chained by hand (one task per call on both sides).
The figure is taken with all calls parked in step 1, then step 2, then step 3; the
table shows the largest.

No target: the figure is reported.
"""

from __future__ import annotations

import asyncio
import gc
import tracemalloc
from collections.abc import Callable, Coroutine
from typing import Any

from harness import Result, main

STEPS = 3
Step = Callable[[int], Coroutine[Any, Any, int]]


class Gates:
    """Holds every call at each step until all ``n`` calls have arrived there."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.open = [asyncio.Event() for _ in range(STEPS)]
        self.all_in = [asyncio.Event() for _ in range(STEPS)]
        self.arrived = [0] * STEPS

    def steps(self) -> list[Step]:
        def make(i: int) -> Step:
            async def step(x: int) -> int:
                self.arrived[i] += 1
                if self.arrived[i] == self.n:
                    self.all_in[i].set()
                await self.open[i].wait()
                return x + 1

            step.__name__ = f"step{i + 1}"
            return step

        return [make(i) for i in range(STEPS)]


async def bytes_per_call(build: Callable[[list[Step]], Step], n: int) -> list[float]:
    """Traced bytes held per in-flight call while all ``n`` calls wait in each step."""
    gates = Gates(n)
    call = build(gates.steps())
    loop = asyncio.get_running_loop()
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tasks = [loop.create_task(call(i)) for i in range(n)]
        held = []
        for i in range(STEPS):
            await gates.all_in[i].wait()
            held.append((tracemalloc.get_traced_memory()[0] - base) / n)
            gates.open[i].set()
        results = await asyncio.gather(*tasks)
    finally:
        tracemalloc.stop()
    assert results == [i + STEPS for i in range(n)]
    return held


def build_runnables(steps: list[Step]) -> Step:
    from runnables import RunnableLambda

    chain: Any = RunnableLambda(steps[0]) | steps[1] | steps[2]
    return lambda x: chain.ainvoke(x)


def build_langchain(steps: list[Step]) -> Step:
    from langchain_core.runnables import RunnableLambda as LcLambda

    first: Any = LcLambda(steps[0])
    chain: Any = first | steps[1] | steps[2]
    return lambda x: chain.ainvoke(x)


def build_hand(steps: list[Step]) -> Step:
    s1, s2, s3 = steps

    async def chain(x: int) -> int:
        return await s3(await s2(await s1(x)))

    return chain


async def measure(quick: bool) -> Result:
    n = 500 if quick else 10_000
    lc_n = 100 if quick else 1_000
    for build in (build_runnables, build_hand, build_langchain):
        await bytes_per_call(build, 10)  # warm up caches created on first use
    rn = await bytes_per_call(build_runnables, n)
    hd = await bytes_per_call(build_hand, n)
    lc = await bytes_per_call(build_langchain, lc_n)
    stages = " / ".join(f"{a / 1024:.2f}" for a in rn)
    return Result(
        id="W9",
        title=f"memory, {n:,} ainvoke in flight",
        unit="KiB/call",
        runnables=max(rn) / 1024,
        hand=max(hd) / 1024,
        langchain=max(lc) / 1024,
        ratios={"rn/hand": max(rn) / max(hd), "lc/rn": max(lc) / max(rn)},
        target="report",
        passed=None,
        notes=[
            f"tracemalloc, largest of the 3 steps (runnables per step: {stages} KiB); "
            f"langchain-core measured with {lc_n:,} calls in flight"
        ],
    )


def run(quick: bool) -> list[Result]:
    """Measure W9 (``quick``: 500 calls in flight)."""
    return [asyncio.run(measure(quick))]


if __name__ == "__main__":
    main(run)
