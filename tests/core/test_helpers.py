"""langchain-core's helpers: add/aadd, get_config_list, run_in_executor, get_prompts,
RunnablePassthrough[...] subscription."""

from __future__ import annotations

import contextvars
import threading
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from runnables import (
    AddableDict,
    PromptTemplate,
    RunnableLambda,
    RunnablePassthrough,
    aadd,
    add,
    get_config_list,
    run_in_executor,
)
from runnables.messages import AIMessageChunk


def test_add_sums_chunks_with_plus() -> None:
    assert add([AIMessageChunk("a"), AIMessageChunk("b")]) == AIMessageChunk("ab")
    assert add([AddableDict(a="x"), AddableDict(a="y")]) == {"a": "xy"}
    assert add([]) is None


async def test_aadd_sums_an_async_stream() -> None:
    async def chunks() -> AsyncIterator[str]:
        for c in "abc":
            yield c

    assert await aadd(chunks()) == "abc"


def test_get_config_list_repeats_one_config_or_checks_a_list() -> None:
    configs = get_config_list({"tags": ["t"]}, 2)
    assert [c["tags"] for c in configs] == [["t"], ["t"]]
    with pytest.raises(ValueError, match="2 configs for 3 inputs"):
        get_config_list([{}, {}], 3)
    with pytest.warns(RuntimeWarning, match="run_id be used only for the first"):
        first, second = get_config_list({"run_id": "x"}, 2)  # type: ignore[arg-type]
    assert first.get("run_id") == "x" and "run_id" not in second


VAR: contextvars.ContextVar[str] = contextvars.ContextVar("VAR", default="unset")


async def test_run_in_executor_keeps_context_and_uses_a_worker_thread() -> None:
    VAR.set("caller")

    def where() -> tuple[str, int]:
        return VAR.get(), threading.get_ident()

    value, thread = await run_in_executor(None, where)
    assert value == "caller" and thread != threading.get_ident()
    with ThreadPoolExecutor(1) as pool:
        assert (await run_in_executor(pool, lambda: 7)) == 7

    def stops() -> None:
        raise StopIteration

    with pytest.raises(RuntimeError):
        await run_in_executor(None, stops)


def test_get_prompts_lists_the_prompt_steps() -> None:
    prompt = PromptTemplate.from_template("hi {x}")
    chain = prompt | RunnableLambda(lambda v: v.to_string())
    assert chain.get_prompts() == [prompt]
    assert RunnableLambda(str).get_prompts() == []


def test_runnable_passthrough_can_be_subscripted_with_its_type() -> None:
    passthrough = RunnablePassthrough[dict[str, Any]]()
    assert isinstance(passthrough, RunnablePassthrough)
    assert passthrough.invoke({"a": 1}) == {"a": 1}
