"""BaseChatModel: the provider contract, call parameters, tools, structured output,
usage, caching, concurrency bookkeeping and stream closing."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Annotated, Any, TypedDict

import pytest
from pydantic import BaseModel, Field

from engine_testing import closable
from runnables.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    tool_call,
)
from runnables.models import (
    BaseChatModel,
    FunctionChatModel,
    GenericFakeChatModel,
    InMemoryCache,
    SQLiteCache,
    StructuredOutputError,
    set_llm_cache,
)
from runnables.output_parsers import StrOutputParser


class Recorder(BaseChatModel):
    """Answers with what it was called with; implements only _agenerate."""

    calls: list[tuple[list[BaseMessage], dict[str, Any]]] = Field(default_factory=list)

    async def _agenerate(
        self, messages: list[BaseMessage], *, stop: list[str] | None = None, **params: Any
    ) -> AIMessage:
        self.calls.append((messages, {"stop": stop, **params}))
        return AIMessage(f"{len(messages)} message(s)")


class StreamOnly(BaseChatModel):
    """Implements only _astream, reporting usage on its last chunk."""

    async def _astream(
        self, messages: list[BaseMessage], *, stop: list[str] | None = None, **params: Any
    ) -> AsyncIterator[AIMessageChunk]:
        yield AIMessageChunk("Hel")
        yield AIMessageChunk(
            "lo",
            usage_metadata={"input_tokens": 3, "output_tokens": 2, "total_tokens": 5},
        )


async def test_a_model_implementing_only_agenerate_also_streams() -> None:
    chunks = [c async for c in Recorder().astream("hi")]
    assert "".join(c.text for c in chunks) == "1 message(s)"
    assert all(isinstance(c, AIMessageChunk) for c in chunks)


async def test_a_model_implementing_only_astream_also_invokes_with_its_usage() -> None:
    out = await StreamOnly().ainvoke("hi")
    assert type(out) is AIMessage
    assert out.content == "Hello"
    assert out.usage_metadata == {"input_tokens": 3, "output_tokens": 2, "total_tokens": 5}
    assert out.id is not None


async def test_a_response_carries_usage_only_when_the_provider_reports_it() -> None:
    out = await Recorder().ainvoke("hello there")
    assert out.usage_metadata is None
    chunks = [c async for c in Recorder().astream("hello there")]
    assert all(c.usage_metadata is None for c in chunks)
    assert chunks[-1].chunk_position == "last"


async def test_a_stream_ends_with_a_chunk_marked_last_as_in_langchain() -> None:
    chunks = [c async for c in StreamOnly().astream("hi")]
    assert chunks[-1].chunk_position == "last"
    assert [c.chunk_position for c in chunks[:-1]] == [None] * (len(chunks) - 1)


async def test_input_is_coerced_from_strings_tuples_dicts_and_prompt_values() -> None:
    model = Recorder()

    class PromptValue:
        def to_messages(self) -> list[BaseMessage]:
            return [SystemMessage("s"), HumanMessage("h")]

    await model.ainvoke([("system", "s"), {"role": "user", "content": "u"}, "x"])
    await model.ainvoke(PromptValue())
    assert model.calls[0][0] == [SystemMessage("s"), HumanMessage("u"), HumanMessage("x")]
    assert model.calls[1][0] == [SystemMessage("s"), HumanMessage("h")]
    with pytest.raises(TypeError, match=r"got 42 .*A chat model takes"):
        await model.ainvoke(42)


async def test_stop_and_other_parameters_reach_the_provider_by_bind_and_by_call() -> None:
    model = Recorder()
    await model.bind(stop=["\n"], temperature=0.2).ainvoke("x")
    await model.ainvoke("x", stop=["END"], max_tokens=5)
    model.invoke("x", stop="STOP")
    assert model.calls[0][1] == {"stop": ["\n"], "temperature": 0.2}
    assert model.calls[1][1] == {"stop": ["END"], "max_tokens": 5}
    assert model.calls[2][1] == {"stop": ["STOP"]}
    await model.ainvoke("x")
    assert model.calls[3][1] == {"stop": None}  # binding made a copy; the model is unchanged


async def test_events_are_chat_model_events() -> None:
    events = [e["event"] async for e in StreamOnly().astream_events("hi")]
    assert events[0] == "on_chat_model_start"
    # Two chunks, then (as in langchain-core) the empty chunk that marks the last one.
    assert events.count("on_chat_model_stream") == 3
    assert events[-1] == "on_chat_model_end"


def get_weather(city: str, unit: str = "C") -> str:
    """Get the weather in a city.

    Args:
        city: The city's name.
        unit: C or F.
    """
    return "sunny"


async def test_bind_tools_sends_openai_tool_definitions_and_streams_parsed_tool_calls() -> None:
    seen: dict[str, Any] = {}

    def answer(messages: list[BaseMessage], params: dict[str, Any]) -> AIMessage:
        seen.update(params)
        return AIMessage(
            "", tool_calls=[tool_call(name="get_weather", args={"city": "Oslo"}, id="1")]
        )

    model = FunctionChatModel(answer).bind_tools([get_weather], tool_choice="get_weather")
    chunks: list[AIMessageChunk] = []
    async for c in model.astream("weather?"):
        assert isinstance(c, AIMessageChunk)  # typed AIMessage through the binding
        chunks.append(c)
    assert seen["tools"][0]["function"]["name"] == "get_weather"
    assert seen["tools"][0]["function"]["parameters"]["required"] == ["city"]
    assert seen["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert len([c for c in chunks if c.tool_call_chunks]) > 1  # arguments arrived in pieces
    total = chunks[0]
    for c in chunks[1:]:
        total = total + c
    assert total.tool_calls == [tool_call(name="get_weather", args={"city": "Oslo"}, id="1")]


def test_bind_tools_rejects_a_tool_choice_naming_no_tool() -> None:
    with pytest.raises(ValueError, match="names no bound tool"):
        Recorder().bind_tools([get_weather], tool_choice="nope")


class Person(BaseModel):
    """A person."""

    name: str
    age: int


async def test_with_structured_output_returns_a_validated_pydantic_object() -> None:
    model = GenericFakeChatModel(
        messages=iter(
            [
                AIMessage(
                    "",
                    tool_calls=[tool_call(name="Person", args={"name": "Ada", "age": 36}, id="1")],
                )
            ]
        )
    )
    assert await model.with_structured_output(Person).ainvoke("who?") == Person(name="Ada", age=36)


async def test_with_structured_output_streams_to_the_same_object() -> None:
    msg = AIMessage(
        "", tool_calls=[tool_call(name="Person", args={"name": "Ada", "age": 36}, id="1")]
    )
    model = GenericFakeChatModel(messages=iter([msg]))
    out = [o async for o in model.with_structured_output(Person).astream("who?")]
    assert out[-1] == Person(name="Ada", age=36)


async def test_with_structured_output_from_json_schema_returns_a_dict() -> None:
    schema = {"title": "Pick", "type": "object", "properties": {"n": {"type": "integer"}}}
    model = GenericFakeChatModel(
        messages=iter([AIMessage("", tool_calls=[tool_call(name="Pick", args={"n": 3}, id="1")])])
    )
    assert await model.with_structured_output(schema).ainvoke("?") == {"n": 3}


async def test_include_raw_returns_the_message_and_the_parsing_error_instead_of_raising() -> None:
    bad = AIMessage("", tool_calls=[tool_call(name="Person", args={"name": "Ada"}, id="1")])
    model = GenericFakeChatModel(messages=iter([bad, AIMessage("no tool call")]))
    out = await model.with_structured_output(Person, include_raw=True).ainvoke("?")
    assert out["raw"].tool_calls == bad.tool_calls
    assert out["parsed"] is None
    assert isinstance(out["parsing_error"], StructuredOutputError)
    with pytest.raises(StructuredOutputError, match="without calling 'Person'"):
        await model.with_structured_output(Person).ainvoke("?")


async def test_the_cache_answers_repeated_messages_and_keys_on_parameters() -> None:
    model = Recorder()
    model.cache = InMemoryCache()
    a = await model.ainvoke("same")
    b = await model.ainvoke("same")
    await model.ainvoke("same", temperature=0.9)
    chunks = [c async for c in model.astream("same")]
    assert a == b
    assert len(model.calls) == 2  # the second call and the stream came from the cache
    assert "".join(c.text for c in chunks) == a.content


async def test_a_streamed_response_is_cached_for_later_invokes(tmp_path: Any) -> None:
    model = StreamOnly(cache=SQLiteCache(tmp_path / "cache.db"))
    streamed = [c async for c in model.astream("q")]
    again = StreamOnly(cache=SQLiteCache(tmp_path / "cache.db"))
    calls = 0

    async def counting(*a: Any, **k: Any) -> AsyncIterator[AIMessageChunk]:
        nonlocal calls
        calls += 1
        yield AIMessageChunk("never")

    again._astream = counting  # type: ignore[method-assign]
    out = await again.ainvoke("q")
    assert out.content == "".join(c.text for c in streamed) == "Hello"
    assert calls == 0


async def test_the_global_cache_is_used_when_the_model_has_none() -> None:
    cache = InMemoryCache()
    set_llm_cache(cache)
    try:
        model = Recorder()
        await model.ainvoke("g")
        await model.ainvoke("g")
        assert len(model.calls) == 1
        no_cache = Recorder()
        no_cache.cache = False
        await no_cache.ainvoke("g")
        await no_cache.ainvoke("g")
        assert len(no_cache.calls) == 2
    finally:
        set_llm_cache(None)


async def test_max_concurrency_counts_model_calls() -> None:
    active = 0
    peak = 0
    release = asyncio.Event()

    async def slow(messages: list[BaseMessage]) -> str:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        if active == 2:
            release.set()
        await release.wait()
        active -= 1
        return "ok"

    model = FunctionChatModel(slow)
    out = await model.abatch(["a", "b", "c", "d", "e"], {"max_concurrency": 2})
    assert [o.content for o in out] == ["ok"] * 5
    assert peak == 2


async def test_leaving_a_stream_early_closes_the_provider_stream() -> None:
    closed = asyncio.Event()
    produced = 0

    class Endless(BaseChatModel):
        async def _astream(
            self, messages: list[BaseMessage], *, stop: list[str] | None = None, **params: Any
        ) -> AsyncIterator[AIMessageChunk]:
            nonlocal produced
            try:
                while True:
                    produced += 1
                    yield AIMessageChunk("x")
            finally:
                closed.set()

    chain = Endless() | StrOutputParser()
    async with contextlib.aclosing(closable(chain.astream("go"))) as stream:
        async for _ in stream:
            if produced >= 3:
                break
    assert closed.is_set()
    assert produced == 3  # chunks are passed on as produced, not collected first


async def test_a_provider_error_reaches_the_caller_with_a_note_naming_the_model() -> None:
    class Broken(BaseChatModel):
        async def _agenerate(self, messages: Any, **kw: Any) -> AIMessage:
            raise RuntimeError("provider down")

    with pytest.raises(RuntimeError, match="provider down") as info:
        await Broken().ainvoke("x")
    assert any("Broken" in n for n in info.value.__notes__)


def test_a_model_implementing_neither_method_says_what_to_implement() -> None:
    class Empty(BaseChatModel):
        pass

    with pytest.raises(NotImplementedError, match="_agenerate' or '_astream"):
        Empty().invoke("x")


async def test_astream_consumer_does_not_see_the_model_steps_config_between_chunks() -> None:
    from runnables import get_config
    from runnables.models import FakeListChatModel

    model = FakeListChatModel(responses=["abc"])
    seen = []
    async for _chunk in model.astream("hi", {"tags": ["inner"], "max_concurrency": 1}):
        seen.append(get_config()["tags"])
    assert seen and all(tags == [] for tags in seen)


def _recording_model(answer: AIMessage) -> tuple[FunctionChatModel, list[dict[str, Any]]]:
    """A model that answers ``answer`` and records the parameters of every call."""
    seen: list[dict[str, Any]] = []

    def respond(messages: list[BaseMessage], params: dict[str, Any]) -> AIMessage:
        seen.append(params)
        return answer

    return FunctionChatModel(respond), seen


async def test_with_structured_output_function_calling_passes_strict_to_the_tool() -> None:
    answer = AIMessage(
        "", tool_calls=[tool_call(name="Person", args={"name": "Ada", "age": 36}, id="1")]
    )
    model, seen = _recording_model(answer)
    structured = model.with_structured_output(Person, method="function_calling", strict=True)
    assert await structured.ainvoke("who?") == Person(name="Ada", age=36)
    (tool,) = seen[0]["tools"]
    assert tool["function"]["name"] == "Person"
    assert tool["function"]["strict"] is True
    assert seen[0]["tool_choice"] == {"type": "function", "function": {"name": "Person"}}


async def test_with_structured_output_json_schema_sends_response_format_and_reads_the_text() -> (
    None
):
    model, seen = _recording_model(AIMessage('```json\n{"name": "Ada", "age": 36}\n```'))
    structured = model.with_structured_output(Person, method="json_schema", strict=True)
    assert await structured.ainvoke("who?") == Person(name="Ada", age=36)
    fmt = seen[0]["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["name"] == "Person"
    assert fmt["json_schema"]["strict"] is True
    assert fmt["json_schema"]["description"] == "A person."
    assert set(fmt["json_schema"]["schema"]["properties"]) == {"name", "age"}
    assert "tools" not in seen[0]


async def test_with_structured_output_json_mode_reads_json_text_with_or_without_a_schema() -> None:
    model, seen = _recording_model(AIMessage('{"name": "Ada", "age": 36}'))
    out = await model.with_structured_output(Person, method="json_mode").ainvoke("who?")
    assert out == Person(name="Ada", age=36)
    assert seen[0]["response_format"] == {"type": "json_object"}
    as_dict = await model.with_structured_output(method="json_mode").ainvoke("who?")
    assert as_dict == {"name": "Ada", "age": 36}


async def test_with_structured_output_json_text_that_does_not_parse_is_reported() -> None:
    model, _ = _recording_model(AIMessage("I cannot answer that."))
    structured = model.with_structured_output(Person, method="json_schema", include_raw=True)
    out = await structured.ainvoke("?")
    assert out["parsed"] is None
    assert isinstance(out["parsing_error"], StructuredOutputError)
    with pytest.raises(StructuredOutputError, match="not valid JSON"):
        await model.with_structured_output(Person, method="json_mode").ainvoke("?")


def test_with_structured_output_refuses_an_unknown_method_and_strict_json_mode() -> None:
    model, _ = _recording_model(AIMessage(""))
    with pytest.raises(ValueError, match="method='xml'"):
        model.with_structured_output(Person, method="xml")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="cannot take strict"):
        model.with_structured_output(Person, method="json_mode", strict=True)
    with pytest.raises(ValueError, match="needs a schema"):
        model.with_structured_output(method="function_calling")


class Movie(TypedDict):
    """A film.

    Args:
        title: the film's title
    """

    title: str
    year: Annotated[int, ..., "the year it came out"]


async def test_with_structured_output_of_a_typed_dict_returns_a_dict() -> None:
    answer = AIMessage(
        "", tool_calls=[tool_call(name="Movie", args={"title": "Heat", "year": 1995}, id="1")]
    )
    model, seen = _recording_model(answer)
    out = await model.with_structured_output(Movie).ainvoke("?")
    assert out == {"title": "Heat", "year": 1995}
    assert type(out) is dict
    assert seen[0]["tools"][0]["function"]["description"] == "A film."
    model, _ = _recording_model(AIMessage('{"title": "Heat", "year": 1995}'))
    out = await model.with_structured_output(Movie, method="json_schema").ainvoke("?")
    assert out == {"title": "Heat", "year": 1995}


class _Temperate(BaseChatModel):
    temperature: float
    label: str = "plain"

    async def _agenerate(
        self, messages: list[BaseMessage], *, stop: list[str] | None = None, **params: Any
    ) -> AIMessage:
        return AIMessage(f"{self.label} at {self.temperature}")


def test_declared_fields_are_constructor_keywords_validated_as_langchain_core_does() -> None:
    model = _Temperate(temperature="0.5")
    assert model.temperature == 0.5  # validated (coerced) as a pydantic field
    assert model.label == "plain"
    assert model.invoke("hi").content == "plain at 0.5"
    assert _Temperate(temperature=1, label="x", name="m").get_name() == "m"
    with pytest.raises(ValueError, match="temperature"):
        _Temperate()  # type: ignore[call-arg]
    # As langchain-core (pydantic's extra="ignore"): an unknown keyword is ignored.
    assert "tempreature" not in vars(_Temperate(temperature=1, tempreature=2))  # type: ignore[call-arg]
