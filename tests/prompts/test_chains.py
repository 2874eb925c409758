"""Prompt -> model -> parser chains, with a RunnableLambda standing in for the model."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from runnables import RunnableGenerator, RunnableLambda
from runnables.messages import AIMessage, AIMessageChunk
from runnables.output_parsers import JsonOutputParser, StrOutputParser
from runnables.prompts import ChatPromptTemplate, ChatPromptValue


def echo_model(value: ChatPromptValue) -> AIMessage:
    return AIMessage(" | ".join(f"{m.type}:{m.content}" for m in value.to_messages()))


PROMPT = ChatPromptTemplate.from_messages([("system", "Be {style}."), ("human", "{q}")])


def test_invoke_runs_prompt_model_parser_without_a_loop() -> None:
    chain = PROMPT | RunnableLambda(echo_model) | StrOutputParser()
    assert chain._needs_loop() is False
    assert chain.invoke({"style": "brief", "q": "hi"}) == "system:Be brief. | human:hi"


async def test_abatch_formats_each_input() -> None:
    chain = PROMPT | RunnableLambda(echo_model) | StrOutputParser()
    outs = await chain.abatch([{"style": "a", "q": "1"}, {"style": "b", "q": "2"}])
    assert outs == ["system:Be a. | human:1", "system:Be b. | human:2"]


async def test_astream_passes_tokens_through_as_the_model_makes_them() -> None:
    first_seen = asyncio.Event()

    async def model(inputs: AsyncIterator[ChatPromptValue]) -> AsyncIterator[AIMessageChunk]:
        async for value in inputs:
            assert value.to_messages()[-1].content == "hi"
        yield AIMessageChunk(content="one ")
        await asyncio.wait_for(first_seen.wait(), timeout=5)
        yield AIMessageChunk(content="two")

    chain = PROMPT | RunnableGenerator(model) | StrOutputParser()
    outs = []
    async for text in chain.astream({"style": "x", "q": "hi"}):
        outs.append(text)
        first_seen.set()
    assert outs == ["one ", "two"]


async def test_json_chain_streams_partial_objects_before_the_model_finishes() -> None:
    partial_seen = asyncio.Event()
    doc = json.dumps({"answer": "forty-two", "sources": ["a", "b"]})

    async def model(inputs: AsyncIterator[ChatPromptValue]) -> AsyncIterator[AIMessageChunk]:
        async for _ in inputs:
            pass
        half = len(doc) // 2
        yield AIMessageChunk(content="```json\n" + doc[:half])
        await asyncio.wait_for(partial_seen.wait(), timeout=5)
        yield AIMessageChunk(content=doc[half:] + "\n```")

    chain = PROMPT | RunnableGenerator(model) | JsonOutputParser()
    outs = []
    async for value in chain.astream({"style": "x", "q": "y"}):
        outs.append(value)
        partial_seen.set()
    assert outs[0] == {"answer": "forty-two"}  # all the first half of the text holds
    assert outs[-1] == json.loads(doc)


async def test_astream_events_name_the_prompt_and_parser_runs() -> None:
    chain = PROMPT | RunnableLambda(echo_model) | StrOutputParser()
    events = [e async for e in chain.astream_events({"style": "a", "q": "b"}, version="v2")]
    kinds = {e["event"] for e in events}
    assert {"on_prompt_start", "on_prompt_end", "on_parser_start", "on_parser_end"} <= kinds


def test_call_arguments_given_to_a_chain_starting_with_a_prompt_are_ignored() -> None:
    # langchain-core: a chain's call arguments go to its first step, and a prompt takes
    # and ignores them, so ``(prompt | model).bind(stop=[...])`` runs.
    from runnables.models import FakeListChatModel
    from runnables.prompts import ChatPromptTemplate

    chain = ChatPromptTemplate.from_template("{q}") | FakeListChatModel(responses=["foo"])
    assert chain.bind(stop=["x"]).invoke({"q": "hi"}).content == "foo"
    assert chain.invoke({"q": "hi"}, stop=["x"]).content == "foo"
