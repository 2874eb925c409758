"""W30: a langchain-core step inside a runnables chain, against a langchain-core chain.

The step is langchain-core's ``FakeListChatModel`` (what an integration package's chat
model is to the engine: a langchain-core ``Runnable``). It runs inside
``runnables prompt | langchain-core model | runnables StrOutputParser`` (converted at
both boundaries, a budget-free call), and inside the all-langchain-core chain
``prompt | model | StrOutputParser``. The hand-written column is the model alone,
``await model.ainvoke(messages)``: the floor for running that step at all.

A second figure is the cost of the crossing itself: ``coerce_to_runnable(model)``
invoked on langchain-core messages against ``model.ainvoke`` on the same messages.

A third figure (W30c) is how fast cancelling the caller reaches langchain-openai's
``ChatOpenAI`` inside a runnables chain: the time from ``task.cancel()`` to the moment
runnables' fake OpenAI server sees the connection close (the issue asks for 100 ms),
against cancelling ``ChatOpenAI.ainvoke`` called on its own.

Target: the runnables chain is not slower than the langchain-core one (lc/rn ≥ 1).
"""

from __future__ import annotations

import asyncio
from typing import Any

from harness import Result, main, time_async_calls

SYSTEM = "You are a helpful assistant who answers in one sentence."
HUMAN = "{question}"
ANSWER = "Async execution lets one thread wait on many things at once."
QUESTION = {"question": "What is async execution?"}


def chains() -> tuple[Any, Any, Any]:
    """The mixed runnables chain, the langchain-core chain, and the shared model."""
    from langchain_core.language_models import FakeListChatModel as LcFake
    from langchain_core.output_parsers import StrOutputParser as LcParser
    from langchain_core.prompts import ChatPromptTemplate as LcPrompt

    from runnables.output_parsers import StrOutputParser
    from runnables.prompts import ChatPromptTemplate

    messages = [("system", SYSTEM), ("human", HUMAN)]
    model = LcFake(responses=[ANSWER])
    rn = ChatPromptTemplate.from_messages(messages) | model | StrOutputParser()
    lc = LcPrompt.from_messages(messages) | model | LcParser()
    return rn, lc, model


async def measure(quick: bool) -> list[Result]:
    from langchain_core.messages import HumanMessage, SystemMessage

    from runnables.core.base import coerce_to_runnable

    calls, rounds = (50, 2) if quick else (1_000, 5)
    rn_chain, lc_chain, model = chains()
    lc_messages = [SystemMessage(SYSTEM), HumanMessage(QUESTION["question"])]
    step = coerce_to_runnable(model)
    assert await rn_chain.ainvoke(QUESTION) == ANSWER
    assert await lc_chain.ainvoke(QUESTION) == ANSWER
    assert (await step.ainvoke(lc_messages)).content == ANSWER

    rn = await time_async_calls(lambda: rn_chain.ainvoke(QUESTION), calls, rounds)
    lc = await time_async_calls(lambda: lc_chain.ainvoke(QUESTION), calls, rounds)
    alone = await time_async_calls(lambda: model.ainvoke(lc_messages), calls, rounds)
    crossed = await time_async_calls(lambda: step.ainvoke(lc_messages), calls, rounds)
    us = 1e6
    note = f"{calls:,} calls a round, best of {rounds}"
    return [
        Result(
            id="W30",
            title="langchain-core model in a runnables chain vs in a langchain-core chain",
            unit="µs/call",
            runnables=rn.best * us,
            hand=alone.best * us,
            langchain=lc.best * us,
            ratios={"lc/rn": lc.best / rn.best, "rn/hand": rn.best / alone.best},
            target="lc/rn ≥ 1",
            passed=lc.best / rn.best >= 1,
            notes=[f"{note}; hand = the langchain-core model alone"],
        ),
        Result(
            id="W30b",
            title="crossing the boundary: coerce_to_runnable(model) vs model.ainvoke",
            unit="µs/call",
            runnables=crossed.best * us,
            hand=alone.best * us,
            langchain=None,
            ratios={"rn/hand": crossed.best / alone.best},
            target="(reported)",
            passed=None,
            notes=[f"{note}; overhead {(crossed.best - alone.best) * us:.1f} µs/call"],
        ),
    ]


async def _cancel_latencies(n: int, through_chain: bool) -> list[float]:
    """Seconds from ``task.cancel()`` to the server seeing the connection close."""
    import time

    from langchain_openai import ChatOpenAI

    from runnables import RunnableLambda
    from runnables.testing.openai_server import FakeOpenAIServer, Hang

    latencies: list[float] = []
    async with FakeOpenAIServer(default=Hang()) as server:
        model = ChatOpenAI(model="t", base_url=server.base_url, api_key="sk-x", max_retries=0)
        target: Any = RunnableLambda(lambda q: q) | model if through_chain else model
        for i in range(n):
            task = asyncio.ensure_future(target.ainvoke("hi"))
            while len(server.chat_requests) <= i:
                await asyncio.sleep(0.001)
            await asyncio.sleep(0.005)  # the server is now waiting with the request open
            cancelled = time.monotonic()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            closed = await server.wait_disconnect(i + 1)
            latencies.append(closed - cancelled)
    return latencies


async def measure_cancel(quick: bool) -> Result:
    import statistics

    n = 5 if quick else 30
    chain = await _cancel_latencies(n, through_chain=True)
    alone = await _cancel_latencies(n, through_chain=False)
    ms = 1e3
    worst = max(chain) * ms
    rn, hd = statistics.median(chain) * ms, statistics.median(alone) * ms
    return Result(
        id="W30c",
        title="cancel the caller -> ChatOpenAI's request closed at the server",
        unit="ms",
        runnables=rn,
        hand=hd,
        langchain=None,
        ratios={"rn/hand": rn / hd},
        target="worst ≤ 100 ms",
        passed=worst <= 100,
        notes=[
            f"{n} cancellations each, medians; worst through runnables {worst:.2f} ms; "
            "hand = ChatOpenAI's own ainvoke cancelled"
        ],
    )


def run(quick: bool) -> list[Result]:
    """Measure W30 (``quick``: 50 calls, 5 cancellations)."""
    return [*asyncio.run(measure(quick)), asyncio.run(measure_cancel(quick))]


if __name__ == "__main__":
    main(run)
