"""The async examples from the user's guide, run on runnables.

Each example is the guide's code with only the import line changed (``runnables``
instead of ``langchain_core.runnables``). This is a standalone script, so each example
is started with ``asyncio.run(run())``; in a notebook you would write ``await run()``
instead (see ``async_execution.ipynb`` next to this file).

Run it with::

    python examples/async_execution.py

It prints::

    ASYNC EXECUTION
    async pipeline
    {'upper': 'ASYNC PARALLEL', 'length': 14}
"""

import asyncio

from runnables import RunnableLambda, RunnableParallel

# --- Basic async execution (RunnableLambda) -------------------------------------------

async_runnable = RunnableLambda(lambda x: x.upper())


async def run():
    result = await async_runnable.ainvoke("async execution")
    print(result)


asyncio.run(run())

# --- Async execution with RunnableSequence ---------------------------------------------

chain = RunnableLambda(lambda x: x.strip()) | RunnableLambda(lambda x: x.lower())


async def run():
    result = await chain.ainvoke("  ASYNC PIPELINE ")
    print(result)


asyncio.run(run())

# --- Async with RunnableParallel (the branches run concurrently) ------------------------

parallel = RunnableParallel(
    upper=RunnableLambda(lambda x: x.upper()),
    length=RunnableLambda(lambda x: len(x)),
)


async def run():
    result = await parallel.ainvoke("async parallel")
    print(result)


asyncio.run(run())
