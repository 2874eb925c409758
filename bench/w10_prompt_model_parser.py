"""W10: ``ainvoke`` of prompt | scripted chat model | ``StrOutputParser``.

The chain is ``ChatPromptTemplate.from_messages([("system", ...), ("human", "{question}")])
| FakeListChatModel(responses=[...]) | StrOutputParser()`` on both libraries. The
hand-written version formats the same two messages into dicts, awaits a coroutine that
returns the scripted answer, and reads its text: the floor for doing this work in Python.

Target: runnables at least 50x faster than langchain-core per call.
"""

from __future__ import annotations

import asyncio
from typing import Any

from harness import Result, main, time_async_calls

SYSTEM = "You are a helpful assistant who answers in one sentence."
HUMAN = "{question}"
ANSWER = "Async execution lets one thread wait on many things at once."
QUESTION = {"question": "What is async execution?"}


def chains() -> tuple[Any, Any]:
    """The same chain on runnables and on langchain-core."""
    from langchain_core.language_models import FakeListChatModel as LcFake
    from langchain_core.output_parsers import StrOutputParser as LcParser
    from langchain_core.prompts import ChatPromptTemplate as LcPrompt

    from runnables.models import FakeListChatModel
    from runnables.output_parsers import StrOutputParser
    from runnables.prompts import ChatPromptTemplate

    messages = [("system", SYSTEM), ("human", HUMAN)]
    rn = ChatPromptTemplate.from_messages(messages) | FakeListChatModel(responses=[ANSWER])
    rn = rn | StrOutputParser()
    lc = LcPrompt.from_messages(messages) | LcFake(responses=[ANSWER]) | LcParser()
    return rn, lc


async def _model(messages: list[dict[str, str]]) -> dict[str, str]:
    return {"role": "assistant", "content": ANSWER}


async def hand(inputs: dict[str, str]) -> str:
    messages = [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": HUMAN.format(**inputs)},
    ]
    return (await _model(messages))["content"]


async def measure(quick: bool) -> Result:
    calls, rounds = (200, 2) if quick else (5_000, 5)
    lc_calls, lc_rounds = (20, 1) if quick else (500, 3)
    rn_chain, lc_chain = chains()
    assert await rn_chain.ainvoke(QUESTION) == ANSWER
    assert await lc_chain.ainvoke(QUESTION) == ANSWER
    assert await hand(QUESTION) == ANSWER

    rn = await time_async_calls(lambda: rn_chain.ainvoke(QUESTION), calls, rounds)
    hd = await time_async_calls(lambda: hand(QUESTION), calls, rounds)
    lc = await time_async_calls(lambda: lc_chain.ainvoke(QUESTION), lc_calls, lc_rounds)
    us = 1e6
    return Result(
        id="W10",
        title="ainvoke prompt | scripted model | StrOutputParser",
        unit="µs/call",
        runnables=rn.best * us,
        hand=hd.best * us,
        langchain=lc.best * us,
        ratios={"lc/rn": lc.best / rn.best, "rn/hand": rn.best / hd.best},
        target="lc/rn ≥ 50",
        passed=lc.best / rn.best >= 50,
        notes=[
            f"{calls:,} calls a round, best of {rounds} (median rn {rn.median * us:.1f} µs); "
            f"langchain-core {lc_calls:,} calls a round, best of {lc_rounds}"
        ],
    )


def run(quick: bool) -> list[Result]:
    """Measure W10 (``quick``: 200 calls)."""
    return [asyncio.run(measure(quick))]


if __name__ == "__main__":
    main(run)
