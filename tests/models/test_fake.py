"""The test models shipped for users."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from typing import Any

import pytest

from runnables.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    BaseMessageChunk,
    HumanMessage,
    HumanMessageChunk,
    SystemMessage,
    SystemMessageChunk,
    tool_call,
)
from runnables.models import (
    FakeEchoChatModel,
    FakeListChatModel,
    FakeListChatModelError,
    FakeMessagesListChatModel,
    FakeTimedChatModel,
    FunctionChatModel,
    GenericFakeChatModel,
    ParrotFakeChatModel,
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
    messages: list[AIMessage | str] = [msg, "second"]
    model = GenericFakeChatModel(messages=iter(messages))
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
        # A function returning neither text nor a message, on purpose.
        await FunctionChatModel(lambda m: 42).ainvoke("x")  # type: ignore[arg-type,return-value]


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


async def test_fake_models_report_usage_only_when_their_script_does() -> None:
    # As in langchain-core: no invented (estimated) usage, so `== AIMessage(...)` holds.
    models = [
        FakeListChatModel(responses=["r"]),
        GenericFakeChatModel(messages=iter(["r", "r"])),
        FakeEchoChatModel(),
        FunctionChatModel(lambda m: "r"),
        FakeMessagesListChatModel(responses=[AIMessage("r")]),
    ]
    for model in models:
        out = await model.ainvoke("hello")
        assert out.usage_metadata is None, model
        assert out == AIMessage(out.content, id=out.id), model
        chunks = [c async for c in model.astream("hello")]
        assert all(c.usage_metadata is None for c in chunks), model
        assert chunks[-1].chunk_position == "last", model


async def test_a_fake_model_reports_the_usage_its_scripted_message_carries() -> None:
    usage: Any = {"input_tokens": 2, "output_tokens": 1, "total_tokens": 3}
    model = GenericFakeChatModel(messages=iter([AIMessage("a b", usage_metadata=usage)] * 2))
    assert (await model.ainvoke("q")).usage_metadata == usage
    chunks = [c async for c in model.astream("q")]
    assert [c.usage_metadata for c in chunks if c.usage_metadata] == [usage]


async def test_the_timed_model_reports_usage_as_the_provider_it_simulates() -> None:
    model = FakeTimedChatModel(["r r"])
    out = await model.ainvoke("hello")
    assert out.usage_metadata and out.usage_metadata["total_tokens"] > 0
    chunks = [c async for c in model.astream("hello")]
    assert any(isinstance(c, AIMessageChunk) and c.usage_metadata for c in chunks)


async def test_messages_list_model_cycles_through_scripted_messages_of_any_kind() -> None:
    call = tool_call(name="lookup", args={"q": "x"}, id="c1")
    model = FakeMessagesListChatModel(
        responses=[AIMessage("one", tool_calls=[call]), HumanMessage("two")]
    )
    first = await model.ainvoke("?")
    assert type(first) is AIMessage and first.content == "one"
    assert first.tool_calls == [call]
    assert first.usage_metadata is None
    # Typed AIMessage (as langchain-core's); this fake returns the message it was given.
    second: BaseMessage = await model.ainvoke("?")
    assert type(second) is HumanMessage and second.content == "two"
    assert model.i == 0  # back to the start, like langchain-core's counter
    assert (await model.ainvoke("?")).content == "one"


async def test_messages_list_model_streams_each_message_whole_as_one_chunk() -> None:
    call = tool_call(name="lookup", args={"q": "x"}, id="c1")
    model = FakeMessagesListChatModel(
        responses=[AIMessage("hello there", tool_calls=[call]), SystemMessage("s")]
    )
    chunks = [c async for c in model.astream("?")]
    assert len(chunks) == 1
    assert isinstance(chunks[0], AIMessageChunk)
    assert chunks[0].content == "hello there"
    assert chunks[0].tool_calls == [call]
    assert chunks[0].usage_metadata is None
    system_chunks: list[BaseMessageChunk] = [c async for c in model.astream("?")]
    assert [type(c) for c in system_chunks] == [SystemMessageChunk]


async def test_messages_list_model_answers_are_copies_of_the_script() -> None:
    scripted = AIMessage("one", tool_calls=[tool_call(name="f", args={}, id="1")])
    model = FakeMessagesListChatModel(responses=[scripted])
    reply = await model.ainvoke("?")
    reply.tool_calls.append(tool_call(name="g", args={}, id="2"))
    assert scripted.id is None
    assert [c["name"] for c in (await model.ainvoke("?")).tool_calls] == ["f"]


async def test_messages_list_model_sleeps_before_each_answer_without_blocking() -> None:
    model = FakeMessagesListChatModel(responses=[AIMessage("a")], sleep=0.2)
    loop = asyncio.get_running_loop()
    start = loop.time()
    # Five calls at once overlap their sleeps: well under five times 0.2 s.
    replies = await model.abatch(["?"] * 5)
    assert [r.content for r in replies] == ["a"] * 5
    assert 0.19 <= loop.time() - start < 0.9


def test_messages_list_model_needs_a_list_of_messages() -> None:
    with pytest.raises(ValueError, match="non-empty list of messages"):
        FakeMessagesListChatModel(responses=[])
    with pytest.raises(ValueError, match="FakeListChatModel"):
        FakeMessagesListChatModel(responses=["text"])  # type: ignore[list-item]


async def test_parrot_model_repeats_the_last_message_whatever_its_kind() -> None:
    model = ParrotFakeChatModel()
    # Typed AIMessage (as langchain-core's); the parrot returns a message of any kind.
    reply: BaseMessage = await model.ainvoke("ping")
    assert type(reply) is HumanMessage and reply.content == "ping"
    system_reply: BaseMessage = await model.ainvoke([HumanMessage("q"), SystemMessage("be brief")])
    assert type(system_reply) is SystemMessage and system_reply.content == "be brief"
    call = tool_call(name="f", args={"a": 1}, id="1")
    reply = await model.ainvoke([HumanMessage("q"), AIMessage("calling", tool_calls=[call])])
    assert type(reply) is AIMessage and reply.tool_calls == [call]


async def test_parrot_model_streams_the_last_message_as_one_chunk_of_its_kind() -> None:
    model = ParrotFakeChatModel()
    chunks: list[BaseMessageChunk] = [
        c async for c in model.astream([SystemMessage("s"), HumanMessage("hi there")])
    ]
    assert [type(c) for c in chunks] == [HumanMessageChunk]
    assert chunks[0].content == "hi there"


async def test_parrot_model_does_not_return_the_input_message_itself() -> None:
    given = HumanMessage("ping")
    reply: BaseMessage = await ParrotFakeChatModel().ainvoke([given])
    assert reply is not given and given.id is None


async def test_parrot_model_refuses_an_empty_conversation() -> None:
    with pytest.raises(ValueError, match="no messages"):
        await ParrotFakeChatModel().ainvoke([])


def test_langchain_core_test_model_names_are_exported_from_the_package() -> None:
    import runnables

    assert runnables.ParrotFakeChatModel is ParrotFakeChatModel
    assert runnables.FakeMessagesListChatModel is FakeMessagesListChatModel


async def test_a_configured_seed_gives_its_own_jitter_sequence() -> None:
    from runnables import ConfigurableField

    sleeps: list[float] = []

    async def fake_sleep(s: float) -> None:
        sleeps.append(s)

    def make(seed: int) -> Any:
        return FakeTimedChatModel(
            ["a b c d"],
            time_to_first_token=1.0,
            tokens_per_second=1,
            jitter=0.5,
            seed=seed,
            sleep=fake_sleep,
        )

    async def delays(model: Any, config: Any = None) -> list[float]:
        sleeps.clear()
        [c async for c in model.astream("x", config)]
        return list(sleeps)

    eight = await delays(make(8))
    seven = await delays(make(7))
    assert seven != eight
    configurable = make(7).configurable_fields(seed=ConfigurableField(id="seed"))
    assert await delays(configurable, {"configurable": {"seed": 8}}) == eight


async def test_generic_fake_model_streams_additional_kwargs_key_by_key() -> None:
    # As langchain-core's GenericFakeChatModel: one chunk per key, a function_call's
    # string values split after each ",", and the end as an empty chunk of its own.
    call = {"name": "move", "arguments": '{"a": 1, "b": 2}'}
    message = AIMessage("", additional_kwargs={"foo": 42, "function_call": call})
    model = GenericFakeChatModel(messages=itertools.cycle([message]))
    chunks = [c async for c in model.astream("hi")]
    assert [c.additional_kwargs for c in chunks] == [
        {"foo": 42},
        {"function_call": {"name": "move"}},
        {"function_call": {"arguments": '{"a": 1'}},
        {"function_call": {"arguments": ","}},
        {"function_call": {"arguments": ' "b": 2}'}},
        {},
    ]
    assert [c.chunk_position for c in chunks] == [None] * 5 + ["last"]
    assert len({c.id for c in chunks}) == 1
    total = chunks[0]
    for c in chunks[1:]:
        total = total + c
    assert total.additional_kwargs == {"foo": 42, "function_call": call}
    assert (await model.ainvoke("hi")).additional_kwargs == {"foo": 42, "function_call": call}
