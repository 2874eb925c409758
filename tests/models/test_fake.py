"""The test models shipped for users."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from runnables.messages import AIMessage, AIMessageChunk, BaseMessage, SystemMessage
from runnables.models import (
    FakeEchoChatModel,
    FakeListChatModel,
    FakeListChatModelError,
    FakeTimedChatModel,
    FunctionChatModel,
    GenericFakeChatModel,
)


async def test_fake_list_model_answers_in_turn_and_streams_character_by_character() -> None:
    model = FakeListChatModel(responses=["ab", "cd"])
    assert (await model.ainvoke("x")).content == "ab"
    assert [c.content async for c in model.astream("x")] == ["c", "d"]
    assert (await model.ainvoke("x")).content == "ab"  # starts again after the last


async def test_fake_list_model_can_fail_at_a_chosen_chunk() -> None:
    model = FakeListChatModel(responses=["abc"], error_on_chunk_number=2)
    got = []
    with pytest.raises(FakeListChatModelError):
        async for c in model.astream("x"):
            got.append(c.content)
    assert got == ["a", "b"]


def test_fake_list_model_needs_a_list_of_strings() -> None:
    with pytest.raises(ValueError, match="non-empty list"):
        FakeListChatModel(responses="oops")


async def test_generic_fake_model_streams_words_and_tool_calls() -> None:
    from runnables.messages import tool_call

    msg = AIMessage(
        "hello big world", tool_calls=[tool_call(name="f", args={"a": "long value"}, id="1")]
    )
    model = GenericFakeChatModel(messages=iter([msg, "second"]))
    chunks = [c async for c in model.astream("x")]
    assert [c.content for c in chunks if c.content] == ["hello", " ", "big", " ", "world"]
    total = chunks[0]
    for c in chunks[1:]:
        total = total + c
    assert total.tool_calls == msg.tool_calls
    assert (await model.ainvoke("x")).content == "second"
    with pytest.raises(ValueError, match="no more scripted messages"):
        await model.ainvoke("x")


async def test_echo_model_repeats_the_last_human_message() -> None:
    out = await FakeEchoChatModel().ainvoke(
        [SystemMessage("s"), ("human", "one"), ("ai", "r"), ("human", "two")]
    )
    assert out.content == "two"


async def test_function_model_passes_messages_and_call_parameters() -> None:
    seen: list[Any] = []

    async def fn(messages: list[BaseMessage], params: dict[str, Any]) -> str:
        seen.append((len(messages), params))
        return "done"

    out = await FunctionChatModel(fn).bind(temperature=0).ainvoke("x", stop=["\n"])
    assert out.content == "done"
    assert seen == [(1, {"stop": ["\n"], "temperature": 0})]


async def test_function_model_streams_with_its_stream_function() -> None:
    async def stream(messages: list[BaseMessage]) -> AsyncIterator[str]:
        yield "a"
        yield "b"

    model = FunctionChatModel(stream_func=stream)
    assert [c.content async for c in model.astream("x") if c.content] == ["a", "b"]
    assert (await model.ainvoke("x")).content == "ab"


async def test_function_model_rejects_a_bad_return_value() -> None:
    with pytest.raises(TypeError, match="must return a string or an AIMessage"):
        await FunctionChatModel(lambda m: 42).ainvoke("x")


async def test_timed_model_waits_first_token_time_then_a_gap_per_token() -> None:
    sleeps: list[float] = []

    async def fake_sleep(s: float) -> None:
        sleeps.append(s)

    model = FakeTimedChatModel(
        ["a b"], time_to_first_token=0.5, tokens_per_second=10, sleep=fake_sleep
    )
    chunks = [c async for c in model.astream("x")]
    assert [c.content for c in chunks] == ["a", " ", "b"]
    assert sleeps == pytest.approx([0.5, 0.1, 0.1])
    assert chunks[-1].usage_metadata is not None


async def test_timed_model_jitter_is_bounded_and_repeats_with_a_seed() -> None:
    async def run() -> list[float]:
        sleeps: list[float] = []

        async def fake_sleep(s: float) -> None:
            sleeps.append(s)

        model = FakeTimedChatModel(
            ["a b c d"],
            time_to_first_token=1.0,
            tokens_per_second=1,
            jitter=0.5,
            seed=7,
            sleep=fake_sleep,
        )
        [c async for c in model.astream("x")]
        return sleeps

    first, second = await run(), await run()
    assert first == second
    assert all(0.5 <= s <= 1.5 for s in first)
    assert len(set(first)) > 1


async def test_timed_model_really_sleeps_concurrently_for_batches() -> None:
    model = FakeTimedChatModel(["x"], time_to_first_token=0.05)
    loop = asyncio.get_running_loop()
    start = loop.time()
    await model.abatch(["q"] * 20)
    assert loop.time() - start < 0.05 * 20 / 2  # generous: calls overlapped


async def test_every_fake_model_reports_usage() -> None:
    models = [
        FakeListChatModel(responses=["r"]),
        GenericFakeChatModel(messages=iter(["r", "r"])),
        FakeEchoChatModel(),
        FunctionChatModel(lambda m: "r"),
        FakeTimedChatModel(["r r"]),
    ]
    for model in models:
        out = await model.ainvoke("hello")
        assert out.usage_metadata and out.usage_metadata["total_tokens"] > 0, model
        chunks = [c async for c in model.astream("hello")]
        assert any(isinstance(c, AIMessageChunk) and c.usage_metadata for c in chunks), model
