"""W11: ``astream`` of prompt | streaming test model (no delay) | ``StrOutputParser``.

The chain is ``ChatPromptTemplate | FakeListChatModel | StrOutputParser`` on both
libraries; the model streams its scripted answer one character per chunk (as
langchain-core's ``FakeListChatModel`` does), so the figure is chunks per second
through all three steps. The hand-written version formats the messages and chains two
async generators (model characters, then their text).

Target: at least 300,000 chunks/s through runnables.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from harness import Result, Timing, main, time_async_rounds

SYSTEM = "You are a helpful assistant."
QUESTION = {"question": "Explain async streaming."}
SENTENCE = "Streaming sends each token to the reader as soon as it exists. "


def chains(answer: str) -> tuple[Any, Any]:
    """The same chain on runnables and on langchain-core."""
    from langchain_core.language_models import FakeListChatModel as LcFake
    from langchain_core.output_parsers import StrOutputParser as LcParser
    from langchain_core.prompts import ChatPromptTemplate as LcPrompt

    from runnables.models import FakeListChatModel
    from runnables.output_parsers import StrOutputParser
    from runnables.prompts import ChatPromptTemplate

    messages = [("system", SYSTEM), ("human", "{question}")]
    rn = ChatPromptTemplate.from_messages(messages) | FakeListChatModel(responses=[answer])
    rn = rn | StrOutputParser()
    lc = LcPrompt.from_messages(messages) | LcFake(responses=[answer]) | LcParser()
    return rn, lc


def hand(answer: str) -> AsyncIterator[str]:
    async def model(messages: list[dict[str, str]]) -> AsyncIterator[dict[str, str]]:
        for ch in answer:
            yield {"content": ch}

    async def parser(chunks: AsyncIterator[dict[str, str]]) -> AsyncIterator[str]:
        async for c in chunks:
            yield c["content"]

    messages = [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": "{question}".format(**QUESTION)},
    ]
    return parser(model(messages))


async def drain(stream: AsyncIterator[str]) -> tuple[int, int]:
    """Consume a stream of text chunks: (how many non-empty, total characters)."""
    count = chars = 0
    async for c in stream:
        if c:
            count += 1
            chars += len(c)
    return count, chars


async def measure(quick: bool) -> Result:
    n, rounds = (2_000, 2) if quick else (100_000, 5)
    lc_n, lc_rounds = (200, 1) if quick else (4_000, 2)
    answer = (SENTENCE * (n // len(SENTENCE) + 1))[:n]
    lc_answer = answer[:lc_n]
    rn_chain, _ = chains(answer)
    _, lc_chain = chains(lc_answer)

    assert await drain(rn_chain.astream(QUESTION)) == (n, n)
    assert await drain(hand(answer)) == (n, n)
    start = time.perf_counter()
    assert await drain(lc_chain.astream(QUESTION)) == (lc_n, lc_n)
    lc_first = time.perf_counter() - start

    rn = await time_async_rounds(lambda: drain(rn_chain.astream(QUESTION)), rounds, warmup=0)
    hd = await time_async_rounds(lambda: drain(hand(answer)), rounds, warmup=0)
    lc = await time_async_rounds(lambda: drain(lc_chain.astream(QUESTION)), lc_rounds - 1, 0)
    lc = Timing([lc_first, *lc.rounds])

    rn_rate, hd_rate, lc_rate = n / rn.best, n / hd.best, lc_n / lc.best
    return Result(
        id="W11",
        title="astream prompt | streaming model | StrOutputParser",
        unit="chunks/s",
        runnables=rn_rate,
        hand=hd_rate,
        langchain=lc_rate,
        ratios={"rn/lc": rn_rate / lc_rate, "hand/rn": hd_rate / rn_rate},
        target="rn ≥ 300,000 chunks/s",
        passed=rn_rate >= 300_000,
        notes=[
            f"{n:,} one-character chunks per stream, best of {rounds} (median rn "
            f"{n / rn.median:,.0f}/s); langchain-core streams {lc_n:,} chunks (it is much "
            f"slower), best of {lc_rounds}"
        ],
    )


def run(quick: bool) -> list[Result]:
    """Measure W11 (``quick``: 2,000 chunks)."""
    return [asyncio.run(measure(quick))]


if __name__ == "__main__":
    main(run)
