"""Types flow through composition, as far as langchain-core's do.

Checked by mypy (strict) and pyright in ``scripts/check``; pytest also runs it, so every
``assert_type`` line is code that works, not only a claim about types.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sized
from typing import Any, assert_type

from runnables import (
    RunnableBinding,
    RunnableEach,
    RunnableLambda,
    RunnablePassthrough,
    RunnableRetry,
    RunnableSequence,
    RunnableWithFallbacks,
)


def _strip(text: str) -> str:
    return text.strip()


def _length(text: str) -> int:
    return len(text)


def _double(n: int) -> float:
    return n * 2.0


async def _ashout(text: str) -> str:
    return text.upper()


def _words(text: str) -> Iterator[str]:
    yield from text.split()


async def _achars(text: str) -> AsyncIterator[str]:
    for char in text:
        yield char


def _as_record(text: str) -> dict[str, Any]:
    return {"text": text}


def _text_length(record: dict[str, Any]) -> int:
    return len(record["text"])


def test_a_function_step_has_the_function_s_input_and_output_types() -> None:
    assert_type(RunnableLambda(_strip), RunnableLambda[str, str])
    assert_type(RunnableLambda(_length), RunnableLambda[str, int])
    # An async function: the type it awaits to; a generator: the type of its chunks.
    assert_type(RunnableLambda(_ashout), RunnableLambda[str, str])
    assert_type(RunnableLambda(_words), RunnableLambda[str, str])
    assert_type(RunnableLambda(_achars), RunnableLambda[str, str])
    assert_type(RunnableLambda(len), RunnableLambda[Sized, int])
    assert RunnableLambda(_strip).invoke(" a ") == "a"


def test_pipe_joins_the_first_input_to_the_last_output() -> None:
    chain = RunnableLambda(_strip) | RunnableLambda(_length)
    assert_type(chain, RunnableSequence[str, int])
    longer = chain | RunnableLambda(_double)
    assert_type(longer, RunnableSequence[str, float])
    # A plain function on the right is a step too.
    assert_type(RunnableLambda(_strip) | _length, RunnableSequence[str, int])
    assert_type(RunnableLambda(_strip).pipe(_length), RunnableSequence[str, int])
    assert_type(longer.invoke(" ab "), float)
    assert longer.invoke(" ab ") == 4.0


async def test_calls_return_the_output_type() -> None:
    chain = RunnableLambda(_strip) | RunnableLambda(_length)
    assert_type(await chain.ainvoke(" ab "), int)
    assert_type(chain.batch([" a "]), list[int])
    assert_type(await chain.abatch([" a "]), list[int])
    chunks = [c async for c in chain.astream(" abc ")]
    assert_type(chunks, list[int])
    assert chunks == [3]


def test_wrappers_keep_both_types() -> None:
    step = RunnableLambda(_length)
    assert_type(step.bind(), RunnableBinding[str, int])
    assert_type(step.with_config(tags=["x"]), RunnableBinding[str, int])
    assert_type(step.with_retry(), RunnableRetry[str, int])
    assert_type(step.with_fallbacks([RunnableLambda(_length)]), RunnableWithFallbacks[str, int])
    assert_type(step.map(), RunnableEach[str, int])
    assert step.map().invoke(["a", "bc"]) == [1, 2]


def test_dict_steps_and_passthrough() -> None:
    passthrough = RunnablePassthrough[int]()
    assert_type(passthrough.invoke(3), int)
    fanned = RunnableLambda(_strip) | {"n": _length, "same": RunnablePassthrough()}
    assert_type(fanned, RunnableSequence[str, dict[str, Any]])
    assert fanned.invoke(" ab ") == {"n": 2, "same": "ab"}
    assigned = RunnableLambda(_as_record).assign(n=_text_length)
    assert_type(assigned, RunnableSequence[str, dict[str, Any]])
    assert assigned.invoke("abc") == {"text": "abc", "n": 3}


def test_a_langchain_core_step_on_either_side_types_as_a_runnables_chain() -> None:
    from langchain_core.runnables import RunnableLambda as LangChainLambda

    shout = RunnableLambda(_ashout)
    after = shout | LangChainLambda(_length)
    assert_type(after, RunnableSequence[str, Any])
    before = LangChainLambda(_strip) | shout
    assert_type(before, RunnableSequence[Any, str])
    assert isinstance(before, RunnableSequence)
    assert before.invoke(" ab ") == "AB"
