"""W2: sync ``invoke`` of a 10-step sequence of cheap sync functions.

The chain of W1, called from sync code. The hand-written version calls the ten
functions in a plain loop (no event loop is needed for sync work).

Target: at least 100x faster than langchain-core.
"""

from __future__ import annotations

from typing import Any

from harness import Result, main, time_sync_calls
from w01_ainvoke_sync_chain import make_funcs


def run(quick: bool) -> list[Result]:
    """Measure W2 (``quick``: a few hundred calls, for a smoke run)."""
    from langchain_core.runnables import RunnableLambda as LcLambda

    from runnables import RunnableLambda

    calls, rounds = (200, 2) if quick else (5_000, 7)
    lc_calls, lc_rounds = (20, 1) if quick else (300, 3)

    rn_chain: Any = RunnableLambda(make_funcs()[0])
    for f in make_funcs()[1:]:
        rn_chain = rn_chain | RunnableLambda(f)
    lc_chain: Any = LcLambda(make_funcs()[0])
    for f in make_funcs()[1:]:
        lc_chain = lc_chain | LcLambda(f)
    funcs = make_funcs()

    def hand(x: int) -> int:
        for f in funcs:
            x = f(x)
        return x

    assert rn_chain.invoke(0) == lc_chain.invoke(0) == hand(0)

    rn = time_sync_calls(lambda: rn_chain.invoke(0), calls, rounds)
    hd = time_sync_calls(lambda: hand(0), calls, rounds)
    lc = time_sync_calls(lambda: lc_chain.invoke(0), lc_calls, lc_rounds)

    lc_over_rn = lc.best / rn.best
    return [
        Result(
            id="W2",
            title="invoke, 10 sync steps",
            unit="µs/call",
            runnables=rn.best * 1e6,
            hand=hd.best * 1e6,
            langchain=lc.best * 1e6,
            ratios={"lc/rn": lc_over_rn, "rn/hand": rn.best / hd.best},
            target="lc/rn ≥ 100x",
            passed=lc_over_rn >= 100,
            notes=[
                f"best of {rounds} rounds of {calls} calls (lc: {lc_rounds} x {lc_calls}); "
                "hand-written = the ten functions called in a plain loop"
            ],
        )
    ]


if __name__ == "__main__":
    main(run)
