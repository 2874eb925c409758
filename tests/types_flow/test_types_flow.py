"""Types flow through composition, as far as langchain-core's do.

Checked by mypy (strict) and pyright in ``scripts/check``; pytest also runs it, so every
``assert_type`` line is code that works, not only a claim about types.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sized
from typing import Any, assert_type

from runnables import (
    RunnableBinding,
    RunnableConfig,
    RunnableEach,
    RunnableGenerator,
    RunnableLambda,
    RunnablePassthrough,
    RunnableRetry,
    RunnableSequence,
    RunnableWithFallbacks,
)
from runnables.messages import AIMessageChunk
from runnables.models import FakeListChatModel


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


def _shout_chunks(chunks: Iterator[str]) -> Iterator[str]:
    for chunk in chunks:
        yield chunk.upper()


async def _achunk_lengths(chunks: AsyncIterator[str]) -> AsyncIterator[int]:
    async for chunk in chunks:
        yield len(chunk)


def _numbered_chunks(chunks: Iterator[str], config: RunnableConfig) -> Iterator[int]:
    assert config.get("tags") == ["t"]
    for i, _ in enumerate(chunks, 1):
        yield i


def _length_step(text: str) -> RunnableLambda[str, int]:
    return RunnableLambda(_length)


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
    # A function that returns a runnable: that runnable runs, so its output is the step's.
    assert_type(RunnableLambda(_length_step), RunnableLambda[str, int])
    assert RunnableLambda(_length_step).invoke("abc") == 3
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


async def test_a_piped_async_or_generator_function_gives_what_it_awaits_or_yields() -> None:
    # coerce_to_runnable awaits an async function and streams a generator function's
    # chunks, so the step's output is the awaited value or the chunk, not the coroutine.
    assert_type(RunnableLambda(_strip) | _ashout, RunnableSequence[str, str])
    assert_type(RunnableLambda(_strip) | _shout_chunks, RunnableSequence[str, str])
    assert_type(RunnableLambda(_strip) | _achunk_lengths, RunnableSequence[str, int])
    assert await (RunnableLambda(_strip) | _ashout).ainvoke(" a ") == "A"
    assert [c async for c in (RunnableLambda(_strip) | _achunk_lengths).astream(" ab ")] == [2]


def test_a_generator_step_has_its_chunks_types() -> None:
    assert_type(RunnableGenerator(_shout_chunks), RunnableGenerator[str, str])
    assert_type(RunnableGenerator(_achunk_lengths), RunnableGenerator[str, int])
    assert_type(RunnableGenerator(_numbered_chunks), RunnableGenerator[str, int])
    assert RunnableGenerator(_shout_chunks).invoke("ab") == "AB"
    assert list(RunnableGenerator(_numbered_chunks).stream("ab", {"tags": ["t"]})) == [1]


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
    # A tap function gives the passthrough its input type.
    seen: list[str] = []
    assert_type(RunnablePassthrough(seen.append), RunnablePassthrough[str])
    assert RunnablePassthrough(seen.append).invoke("a") == "a" and seen == ["a"]
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


async def test_a_chat_model_streams_message_chunks() -> None:
    # As langchain-core's: the chunks add up with '+', so they are typed as chunks.
    model = FakeListChatModel(responses=["ab"])
    chunks = [c async for c in model.astream("hi")]
    assert_type(chunks, list[AIMessageChunk])
    total = chunks[0]
    for chunk in chunks[1:]:
        total = total + chunk
    assert total.content == "ab"


def test_a_chat_model_streams_message_chunks_in_sync_code_too() -> None:
    assert_type(list(FakeListChatModel(responses=["ab"]).stream("hi")), list[AIMessageChunk])
