"""A/B of the plain (not instrumented) path between two source trees, interleaved.

Usage: python bench/ab_off.py BASE_SRC NEW_SRC [ROUNDS], or
python bench/ab_off.py --in-process (W1 and W3 with the base and the new ``ainvoke``,
the one plain-path change, alternated 40 times in one process). The first runs W1 and W3's runnables
side (ainvoke of 10 sync / 10 async steps) and W8's runnables side in fresh processes,
alternating base and new, and prints the best time per call of each. On a shared
machine the best of many alternating runs is the figure least disturbed by others.
"""

from __future__ import annotations

import os
import subprocess
import sys

CODE = r"""
import asyncio, sys, time, gc
sys.path.insert(0, "bench")
from runnables import RunnableLambda
import w03_ainvoke_async_chain as w3

def sync_chain():
    c = RunnableLambda(lambda x: x + 1)
    for _ in range(9):
        c = c | RunnableLambda(lambda x: x + 1)
    return c

def async_chain():
    fs = w3.make_afuncs()
    c = RunnableLambda(fs[0])
    for f in fs[1:]:
        c = c | RunnableLambda(f)
    return c

async def per_call(chain, n=5000, rounds=5):
    best = 1e9
    for _ in range(rounds):
        gc.collect()
        t = time.perf_counter()
        for _ in range(n):
            await chain.ainvoke(0)
        best = min(best, (time.perf_counter() - t) / n)
    return best

async def events(chain, rounds=3):
    best = 1e9
    for _ in range(rounds):
        gc.collect()
        t = time.perf_counter()
        k = 0
        async for _ in chain.astream_events(0, version="v2"):
            k += 1
        best = min(best, (time.perf_counter() - t) / k)
    return best

async def gen_chain():
    async def g(xs):
        async for x in xs:
            for i in range(2000):
                yield i
    from runnables import RunnableGenerator
    async def passthru(xs):
        async for x in xs:
            yield x
    return RunnableGenerator(g) | RunnableGenerator(passthru) | RunnableGenerator(passthru)

async def main():
    w1 = await per_call(sync_chain())
    w3_ = await per_call(async_chain())
    w8 = await events(await gen_chain())
    print(f"{w1*1e6:.3f} {w3_*1e6:.3f} {w8*1e6:.3f}")

asyncio.run(main())
"""


def main() -> None:
    if sys.argv[1:] == ["--in-process"]:
        in_process()
        return
    base, new = sys.argv[1], sys.argv[2]
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 6
    best: dict[str, list[float]] = {"base": [1e9] * 3, "new": [1e9] * 3}
    for _ in range(rounds):
        for side, src in (("base", base), ("new", new)):
            env = {**os.environ, "PYTHONPATH": src}
            out = subprocess.run(
                [sys.executable, "-c", CODE], env=env, capture_output=True, text=True, check=True
            ).stdout.split()
            best[side] = [min(a, float(b)) for a, b in zip(best[side], out)]
    for i, name in enumerate(("W1 µs/call", "W3 µs/call", "W8 µs/event")):
        b, n = best["base"][i], best["new"][i]
        print(f"{name}: base {b:.3f}  new {n:.3f}  new/base {n / b:.3f}")


INPROC = r"""
import asyncio, gc, sys, time
sys.path.insert(0, "bench")
from typing import Any, cast
from runnables import RunnableLambda
from runnables.core import base as B
from runnables.core.config import CURRENT, ROOT, make_context
import w03_ainvoke_async_chain as w3

new = B.Runnable.ainvoke

async def old(self, input, config=None, **kwargs):
    # base (80df2b1) Runnable.ainvoke, verbatim but for the names' module prefix
    if kwargs:
        return await self.bind(**kwargs).ainvoke(input, config)
    if not config and CURRENT.get() is None:
        return await self._ainvoke(input, ROOT)
    return cast(Any, await B.invoke_root(self, input, make_context(config)))

def chain(fs):
    c = RunnableLambda(fs[0])
    for f in fs[1:]:
        c = c | RunnableLambda(f)
    return c

async def main():
    chains = {"W1": chain([lambda x: x + 1] * 10), "W3": chain(w3.make_afuncs())}
    for name, c in chains.items():
        best = {"base": 1e9, "new": 1e9}
        for _ in range(40):
            for side, fn in (("base", old), ("new", new)):
                B.Runnable.ainvoke = fn
                gc.collect()
                t = time.perf_counter()
                for _ in range(2000):
                    await c.ainvoke(0)
                best[side] = min(best[side], (time.perf_counter() - t) / 2000)
        B.Runnable.ainvoke = new
        print(f"{name} in-process: base {best['base']*1e6:.3f} new {best['new']*1e6:.3f} "
              f"new/base {best['new']/best['base']:.3f}")

asyncio.run(main())
"""


def in_process() -> None:
    """Alternate the base and new ``ainvoke`` (the only plain-path change) in one process."""
    subprocess.run([sys.executable, "-c", INPROC], check=True)


if __name__ == "__main__":
    main()
