"""The user's guide (async execution) runs on runnables with only the import line changed.

``SEED_EXAMPLES`` are the guide's examples that do not call a chat model, verbatim except
for the import line. They are run the way the guide runs them (top-level ``await`` as in a
notebook) and the way a script must (``asyncio.run``), in-process; the shipped script
``examples/async_execution.py`` runs in a subprocess; and the guide's "common mistakes"
each get a test that pins down what runnables does about them.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import gc
import io
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import pytest

from runnables import (
    BlockingCallWarning,
    BlockingStepWarning,
    Runnable,
    RunnableLambda,
    RunnableParallel,
)

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "examples" / "async_execution.py"

# The guide's code, verbatim but for the import lines (langchain_core.runnables -> runnables).
BASIC = """\
from runnables import RunnableLambda
import asyncio

async_runnable = RunnableLambda(lambda x: x.upper())

async def run():
    result = await async_runnable.ainvoke("async execution")
    print(result)

# In Jupyter notebooks, use await directly instead of asyncio.run()
await run()
"""

SEQUENCE = """\
from runnables import RunnableLambda

chain = (
    RunnableLambda(lambda x: x.strip())
    | RunnableLambda(lambda x: x.lower())
)

async def run():
    result = await chain.ainvoke("  ASYNC PIPELINE ")
    print(result)

# In notebooks: await run()
# In scripts: asyncio.run(run())
await run()
"""

# Uses RunnableLambda from the first example, as the guide's notebook does.
PARALLEL = """\
from runnables import RunnableParallel

parallel = RunnableParallel(
    upper=RunnableLambda(lambda x: x.upper()),
    length=RunnableLambda(lambda x: len(x))
)

async def run():
    result = await parallel.ainvoke("async parallel")
    print(result)

await run()
"""

SEED_EXAMPLES = [
    pytest.param(0, "ASYNC EXECUTION\n", id="basic"),
    pytest.param(1, "async pipeline\n", id="sequence"),
    pytest.param(2, "{'upper': 'ASYNC PARALLEL', 'length': 14}\n", id="parallel"),
]
SOURCES = [BASIC, SEQUENCE, PARALLEL]
SCRIPT_OUTPUT = "ASYNC EXECUTION\nasync pipeline\n{'upper': 'ASYNC PARALLEL', 'length': 14}\n"


def as_script(source: str) -> str:
    """The example as a standalone script must write it: ``asyncio.run(run())``."""
    return "import asyncio\n" + source.replace("\nawait run()", "\nasyncio.run(run())")


async def run_like_a_notebook(source: str, namespace: dict[str, Any]) -> None:
    """Run cell source with top-level ``await`` on the running loop, as IPython does."""
    code = compile(source, "<cell>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    result = eval(code, namespace)
    if asyncio.iscoroutine(result):
        await result


# ---------------------------------------------------------------------- the examples


def test_the_script_prints_what_the_guide_shows() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == SCRIPT_OUTPUT
    assert done.stderr == ""


@pytest.mark.parametrize(("index", "expected"), SEED_EXAMPLES)
async def test_guide_example_runs_with_top_level_await_like_a_notebook(
    index: int, expected: str
) -> None:
    namespace: dict[str, Any] = {}
    # Earlier examples run first: the parallel one uses the first one's import.
    for earlier in SOURCES[:index]:
        with contextlib.redirect_stdout(io.StringIO()):
            await run_like_a_notebook(earlier, namespace)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        await run_like_a_notebook(SOURCES[index], namespace)
    assert out.getvalue() == expected


@pytest.mark.parametrize(("index", "expected"), SEED_EXAMPLES)
def test_guide_example_runs_as_a_script_with_asyncio_run(index: int, expected: str) -> None:
    namespace: dict[str, Any] = {"__name__": "__seed__"}
    for earlier in SOURCES[:index]:
        with contextlib.redirect_stdout(io.StringIO()):
            exec(as_script(earlier), namespace)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(as_script(SOURCES[index]), namespace)
    assert out.getvalue() == expected


def test_the_script_is_the_guide_code_with_only_imports_changed() -> None:
    """Formatting aside, the script's statements are the guide's (asyncio.run for await)."""

    def statements(source: str) -> list[str]:
        tree = ast.parse(source)
        return [
            ast.dump(node)
            for node in tree.body
            if not isinstance(node, (ast.Import, ast.ImportFrom))
            and not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))
        ]

    expected = [s for source in SOURCES for s in statements(as_script(source))]
    assert statements(SCRIPT.read_text()) == expected


# ---------------------------------------------------------------------- common mistakes


def _needs_a_loop() -> RunnableLambda[str, str]:
    async def shout(text: str) -> str:
        await asyncio.sleep(0)
        return text.upper()

    return RunnableLambda(shout)


async def test_invoke_inside_async_function_works_and_warns_blocking_call() -> None:
    chain: Runnable[str, str] = RunnableLambda(str.strip) | _needs_a_loop()

    async def handler() -> str:
        return chain.invoke("  hi ")  # the guide's mistake: a sync call in async code

    with pytest.warns(BlockingCallWarning, match="'handler'.*await runnable.ainvoke") as got:
        assert await handler() == "HI"
    # The warning points at the user's line, not at runnables' internals.
    assert got[0].filename == __file__


async def test_invoke_of_plain_functions_inside_async_function_runs_inline_without_warning() -> (
    None
):
    # Only sync functions: invoke drives them inline, exactly as ainvoke would run them on
    # the loop, so there is no wait on another thread to warn about.
    chain: Runnable[str, str] = RunnableLambda(str.strip) | RunnableLambda(str.upper)

    async def handler() -> str:
        return chain.invoke("  hi ")

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert await handler() == "HI"


async def test_invoke_inside_running_loop_outside_a_coroutine_works_without_warning() -> None:
    # A notebook cell without await: a loop is running but the caller is no coroutine.
    chain: Runnable[str, str] = RunnableLambda(str.strip) | _needs_a_loop()
    namespace: dict[str, Any] = {"chain": chain}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        exec(compile("result = chain.invoke('  hi ')", "<cell>", "exec"), namespace)
    assert namespace["result"] == "HI"


async def test_forgetting_await_returns_a_coroutine_that_has_not_run() -> None:
    ran: list[str] = []

    def shout(x: str) -> str:
        ran.append(x)
        return x.upper()

    step: Runnable[str, str] = RunnableLambda(shout)

    pending = step.ainvoke("hi")  # the guide's mistake: no await
    assert asyncio.iscoroutine(pending)
    assert ran == []  # nothing runs until it is awaited
    assert await pending == "HI"
    assert ran == ["hi"]


def test_forgetting_await_entirely_gets_pythons_never_awaited_warning() -> None:
    step: Runnable[str, str] = RunnableLambda(lambda x: x)

    async def forgetful() -> None:
        step.ainvoke("hi")  # type: ignore[unused-coroutine]

    with pytest.warns(RuntimeWarning, match="was never awaited"):
        asyncio.run(forgetful())
        gc.collect()


async def test_asyncio_run_inside_a_running_loop_is_refused_by_asyncio() -> None:
    # The notebook rule: asyncio.run() inside a running loop is asyncio's error, not ours;
    # the fix is 'await run()'.
    chain: Runnable[str, str] = RunnableLambda(str.upper)

    async def run() -> str:
        return await chain.ainvoke("x")

    coro = run()
    with pytest.raises(RuntimeError, match="cannot be called from a running event loop"):
        asyncio.run(coro)
    assert await coro == "X"


def test_await_in_a_script_without_asyncio_run_is_a_syntax_error() -> None:
    with pytest.raises(SyntaxError, match="'await' outside function"):
        compile(BASIC, "script.py", "exec")


async def test_blocking_sync_function_warns_once_then_runs_on_a_worker_thread(
    offload_policy: None,
) -> None:
    # The guide's "mixing blocking I/O with async": the first slow call is measured on
    # the loop, then the step moves to a worker thread.
    threads: list[threading.Thread] = []

    def slow_lookup(x: str) -> str:
        threads.append(threading.current_thread())
        time.sleep(0.05)  # well above the 20 ms default threshold
        return x.upper()

    step: Runnable[str, str] = RunnableLambda(slow_lookup)
    with pytest.warns(BlockingStepWarning, match="'slow_lookup'.*worker thread"):
        assert await step.ainvoke("a") == "A"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the warning is given once per step
        assert await step.ainvoke("b") == "B"
    loop_thread = threading.current_thread()
    assert threads[0] is loop_thread
    assert threads[1] is not loop_thread


async def test_blocking_sync_functions_overlap_once_moved_to_threads() -> None:
    both_in = threading.Barrier(2, timeout=30)

    def wait_for_the_other(x: int) -> int:
        both_in.wait()  # would deadlock if the two branches ran one after the other
        return x

    parallel = RunnableParallel(
        a=RunnableLambda(wait_for_the_other, offload="always"),
        b=RunnableLambda(wait_for_the_other, offload="always"),
    )
    assert await parallel.ainvoke(1) == {"a": 1, "b": 1}
