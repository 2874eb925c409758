"""W12: ``JsonOutputParser`` streaming a JSON document in 1-character chunks.

A model streams a JSON document one character at a time into ``JsonOutputParser``,
which yields a partial object each time it grows. runnables reads the text with an
incremental parser (state kept between chunks), so the time should grow linearly with
the document: 200 KB should take about 10x as long as 20 KB. langchain-core re-parses
the whole buffer at every chunk (O(n²)); it is run on smaller documents, because 200 KB
would take over half an hour and 20 KB took 23 s (measured once, by hand, on the 2-core
machine; runnables took 24 ms).

There is no hand-written side; the note gives one ``json.loads`` of the whole document
(no streaming) as a floor.

Target: time(200 KB) ≤ 12 x time(20 KB) on runnables.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from harness import Result, Timing, main, time_async_rounds


def make_doc(size: int) -> str:
    """A JSON document of about ``size`` characters: a list of records, like model output."""

    def item(i: int) -> dict[str, Any]:
        return {
            "id": i,
            "name": f"item {i}",
            "text": 'The quick brown fox jumps over the lazy dog. Caf\u00e9 \u2615 "quoted"\n',
            "tags": ["alpha", "beta", "gamma"],
            "score": i * 0.25,
            "ok": i % 2 == 0,
            "extra": None,
        }

    per_item = len(json.dumps(item(0), indent=1)) + 3
    items = [item(i) for i in range(max(1, size // per_item))]
    doc = json.dumps({"items": items, "count": len(items)}, indent=1)
    while len(doc) < size:
        items.append(item(len(items)))
        doc = json.dumps({"items": items, "count": len(items)}, indent=1)
    return doc


async def chars(doc: str) -> AsyncIterator[str]:
    """The document as a model would stream it, one character per chunk."""
    for c in doc:
        yield c


async def drain(stream: AsyncIterator[Any]) -> tuple[int, Any]:
    """Consume a stream of partial objects: (how many, the last one)."""
    count = 0
    last = None
    async for value in stream:
        count += 1
        last = value
    return count, last


async def _one(parser: Any, doc: str) -> tuple[float, int]:
    start = time.perf_counter()
    count, last = await drain(parser.atransform(chars(doc)))
    elapsed = time.perf_counter() - start
    assert last == json.loads(doc), "the last partial object is not the document"
    return elapsed, count


async def measure(quick: bool) -> Result:
    from langchain_core.output_parsers import JsonOutputParser as LcJsonOutputParser

    from runnables.output_parsers import JsonOutputParser

    small_size, big_size = (2_000, 20_000) if quick else (20_000, 200_000)
    lc_sizes = (500, 1_000) if quick else (4_000, 8_000)
    rounds = 2 if quick else 3
    small, big = make_doc(small_size), make_doc(big_size)
    parser = JsonOutputParser()

    _, small_count = await _one(parser, small)
    _, big_count = await _one(parser, big)
    t_small = await time_async_rounds(lambda: drain(parser.atransform(chars(small))), rounds)
    t_big = await time_async_rounds(lambda: drain(parser.atransform(chars(big))), rounds)
    growth = t_big.best / t_small.best

    lc_parser = LcJsonOutputParser()
    lc_docs = [make_doc(s) for s in lc_sizes]
    lc_times: list[Timing] = []
    for doc in lc_docs:
        first, _ = await _one(lc_parser, doc)  # checks the output too
        lc_times.append(Timing([first]))
    lc_growth = lc_times[1].best / lc_times[0].best
    lc_doubling = len(lc_docs[1]) / len(lc_docs[0])
    rn_at_lc = await time_async_rounds(lambda: drain(parser.atransform(chars(lc_docs[1]))), rounds)

    floor = min(_time_loads(big) for _ in range(3))
    return Result(
        id="W12",
        title="JsonOutputParser, 1-char chunks",
        unit=f"ms per {len(lc_docs[1]) / 1000:.0f} KB",
        runnables=rn_at_lc.best * 1000,
        hand=None,
        langchain=lc_times[1].best * 1000,
        ratios={
            f"rn {big_size // 1000}KB/{small_size // 1000}KB": growth,
            "lc/rn": lc_times[1].best / rn_at_lc.best,
        },
        target=f"rn time({big_size // 1000} KB) ≤ 12 x time({small_size // 1000} KB)",
        passed=growth <= 12,
        notes=[
            f"runnables: {len(small):,} chars in {t_small.best * 1000:.0f} ms "
            f"({small_count:,} partial objects), {len(big):,} chars in "
            f"{t_big.best * 1000:.0f} ms ({big_count:,} partial objects): "
            f"{growth:.1f}x for {len(big) / len(small):.1f}x the text; best of {rounds} "
            f"(medians {t_small.median * 1000:.0f} / {t_big.median * 1000:.0f} ms)",
            f"langchain-core: {len(lc_docs[0]):,} chars in {lc_times[0].best * 1000:.0f} ms, "
            f"{len(lc_docs[1]):,} chars in {lc_times[1].best * 1000:.0f} ms: "
            f"{lc_growth:.1f}x for {lc_doubling:.1f}x the text (linear would be "
            f"{lc_doubling:.1f}x, quadratic {lc_doubling**2:.1f}x), one round each; "
            "run on small documents because it re-parses the whole buffer at every chunk "
            "(20 KB took 23 s when measured once by hand; 200 KB would take ~40 min)",
            f"floor: one json.loads of the {len(big) // 1000} KB document takes "
            f"{floor * 1000:.1f} ms (no streaming)",
        ],
    )


def _time_loads(doc: str) -> float:
    start = time.perf_counter()
    json.loads(doc)
    return time.perf_counter() - start


def run(quick: bool) -> list[Result]:
    """Measure W12 (``quick``: 2 KB and 20 KB documents)."""
    return [asyncio.run(measure(quick))]


if __name__ == "__main__":
    main(run)
