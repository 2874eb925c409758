"""W7: ``astream`` through 3 streaming steps (async generator functions chained with ``|``).

The source turns its input ``n`` into ``n`` chunks; two more async generator steps
transform each chunk as it passes. The hand-written version chains the same three
async generators directly.

Target: at least 500,000 chunks/s through runnables.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from harness import Result, Timing, main, time_async_rounds


async def source(inputs: AsyncIterator[int]) -> AsyncIterator[int]:
    async for n in inputs:
        for i in range(n):
            yield i


async def add_one(chunks: AsyncIterator[int]) -> AsyncIterator[int]:
    async for c in chunks:
        yield c + 1


async def double(chunks: AsyncIterator[int]) -> AsyncIterator[int]:
    async for c in chunks:
        yield c * 2


async def one_input(n: int) -> AsyncIterator[int]:
    yield n


def expected(n: int) -> int:
    """The sum of the chunks the chain yields for input ``n`` (a check that all arrived)."""
    return sum((i + 1) * 2 for i in range(n))


def chains() -> tuple[Any, Any]:
    """The three-step chain on runnables and on langchain-core."""
    from langchain_core.runnables import RunnableGenerator as LcGenerator

    from runnables import RunnableGenerator

    rn: Any = RunnableGenerator(source) | add_one | double
    lc: Any = LcGenerator(source) | add_one | double
    return rn, lc


async def drain(stream: AsyncIterator[Any]) -> tuple[int, int]:
    """Consume a stream of int chunks: (how many, their sum)."""
    count = total = 0
    async for c in stream:
        count += 1
        total += c
    return count, total


async def measure(quick: bool) -> Result:
    n, rounds = (2_000, 2) if quick else (100_000, 5)
    lc_n, lc_rounds = (200, 1) if quick else (4_000, 2)
    rn_chain, lc_chain = chains()

    def hand() -> AsyncIterator[int]:
        return double(add_one(source(one_input(n))))

    assert await drain(rn_chain.astream(n)) == (n, expected(n))
    assert await drain(hand()) == (n, expected(n))
    start = time.perf_counter()
    assert await drain(lc_chain.astream(lc_n)) == (lc_n, expected(lc_n))
    lc_first = time.perf_counter() - start

    rn = await time_async_rounds(lambda: drain(rn_chain.astream(n)), rounds, warmup=0)
    hd = await time_async_rounds(lambda: drain(hand()), rounds, warmup=0)
    lc = await time_async_rounds(lambda: drain(lc_chain.astream(lc_n)), lc_rounds - 1, warmup=0)
    lc = Timing([lc_first, *lc.rounds])

    rn_rate, hd_rate, lc_rate = n / rn.best, n / hd.best, lc_n / lc.best
    return Result(
        id="W7",
        title="astream, 3 async generator steps",
        unit="chunks/s",
        runnables=rn_rate,
        hand=hd_rate,
        langchain=lc_rate,
        ratios={"rn/lc": rn_rate / lc_rate, "hand/rn": hd_rate / rn_rate},
        target="rn ≥ 500,000 chunks/s",
        passed=rn_rate >= 500_000,
        notes=[
            f"{n:,} chunks per stream, best of {rounds} (median rn {n / rn.median:,.0f}/s); "
            f"langchain-core streams {lc_n:,} chunks (it is much slower), best of {lc_rounds}"
        ],
    )


def run(quick: bool) -> list[Result]:
    """Measure W7 (``quick``: 2,000 chunks)."""
    return [asyncio.run(measure(quick))]


if __name__ == "__main__":
    main(run)
