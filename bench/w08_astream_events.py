"""W8: ``astream_events`` (v2) through the 3 streaming steps of W7.

Each chunk produces an ``on_chain_stream`` event for each of the three steps and for the
sequence, plus a start and an end event per run. The hand-written version wraps each
async generator in a tiny tracer that records the same v2-shaped event dicts
(``event``, ``name``, ``run_id``, ``parent_ids``, ``tags``, ``metadata``, ``data``)
and yields them: the least any implementation of this API can cost.

Target: at least 100,000 events/s through runnables.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

from harness import Result, Timing, main, time_async_rounds
from w07_astream_generators import add_one, chains, double, one_input, source


async def count_events(stream: AsyncIterator[dict[str, Any]]) -> int:
    count = 0
    async for _ in stream:
        count += 1
    return count


def hand_events(n: int) -> AsyncIterator[dict[str, Any]]:
    """The W7 chain with every step's start, chunks and end reported as v2 event dicts."""
    events: deque[dict[str, Any]] = deque()
    root_id = str(uuid.uuid4())

    def traced(
        name: str, agen: AsyncIterator[Any], run_id: str, parents: list[str]
    ) -> AsyncIterator[Any]:
        async def run() -> AsyncIterator[Any]:
            base = {"name": name, "run_id": run_id, "parent_ids": parents, "tags": []}
            events.append({"event": "on_chain_start", **base, "metadata": {}, "data": {}})
            async for chunk in agen:
                events.append(
                    {"event": "on_chain_stream", **base, "metadata": {}, "data": {"chunk": chunk}}
                )
                yield chunk
            events.append({"event": "on_chain_end", **base, "metadata": {}, "data": {}})

        return run()

    def step(name: str, func: Any, upstream: AsyncIterator[Any]) -> AsyncIterator[Any]:
        return traced(name, func(upstream), str(uuid.uuid4()), [root_id])

    async def all_events() -> AsyncIterator[dict[str, Any]]:
        inner = step(
            "double", double, step("add_one", add_one, step("source", source, one_input(n)))
        )
        async for _ in traced("RunnableSequence", inner, root_id, []):
            while events:
                yield events.popleft()
        while events:
            yield events.popleft()

    return all_events()


async def measure(quick: bool) -> Result:
    n, rounds = (500, 2) if quick else (20_000, 5)
    lc_n, lc_rounds = (50, 1) if quick else (1_000, 2)
    rn_chain, lc_chain = chains()
    per_run = 4 * n + 8  # 4 stream events per chunk, a start and an end per run

    assert await count_events(rn_chain.astream_events(n, version="v2")) == per_run
    assert await count_events(hand_events(n)) == per_run
    start = time.perf_counter()
    lc_events = await count_events(lc_chain.astream_events(lc_n, version="v2"))
    lc_first = time.perf_counter() - start
    assert lc_events == 4 * lc_n + 8

    rn = await time_async_rounds(
        lambda: count_events(rn_chain.astream_events(n, version="v2")), rounds, warmup=0
    )
    hd = await time_async_rounds(lambda: count_events(hand_events(n)), rounds, warmup=0)
    lc = await time_async_rounds(
        lambda: count_events(lc_chain.astream_events(lc_n, version="v2")),
        lc_rounds - 1,
        warmup=0,
    )
    lc = Timing([lc_first, *lc.rounds])

    rn_rate, hd_rate, lc_rate = per_run / rn.best, per_run / hd.best, lc_events / lc.best
    return Result(
        id="W8",
        title="astream_events, 3 async generator steps",
        unit="events/s",
        runnables=rn_rate,
        hand=hd_rate,
        langchain=lc_rate,
        ratios={"rn/lc": rn_rate / lc_rate, "hand/rn": hd_rate / rn_rate},
        target="rn ≥ 100,000 events/s",
        passed=rn_rate >= 100_000,
        notes=[
            f"{n:,} chunks ({per_run:,} events) per run, best of {rounds} "
            f"(median rn {per_run / rn.median:,.0f}/s); langchain-core runs {lc_n:,} chunks, "
            f"best of {lc_rounds}; hand-written = generators wrapped to emit v2-shaped dicts"
        ],
    )


def run(quick: bool) -> list[Result]:
    """Measure W8 (``quick``: 500 chunks)."""
    return [asyncio.run(measure(quick))]


if __name__ == "__main__":
    main(run)
