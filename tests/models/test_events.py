"""Chat-model runs in astream_events and run records, as langchain-core 1.8.3 has them.

The expected values were taken by running the same chains on langchain-core 1.8.3.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from runnables import ChatPromptTemplate, Run, Runnable, RunnableLambda
from runnables.messages import HumanMessage
from runnables.models import FakeListChatModel, FunctionChatModel

FAKE_LS = {
    "ls_provider": "fakelistchatmodel",
    "ls_model_type": "chat",
    "ls_integration": "langchain_chat_model",
}


async def _events(runnable: Runnable[Any, Any], input: Any) -> list[dict[str, Any]]:
    return [e async for e in runnable.astream_events(input, version="v2")]


def _model_events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if e["event"].startswith("on_chat_model_")]


async def test_chat_model_start_in_a_prompt_chain_has_the_messages_and_ls_metadata() -> None:
    prompt = ChatPromptTemplate.from_messages([("human", "{q}")])
    events = await _events(prompt | FakeListChatModel(responses=["hi"]), {"q": "x"})
    order = [(e["event"], e["name"]) for e in events if not e["event"].endswith("_stream")]
    assert order == [
        ("on_chain_start", "RunnableSequence"),
        ("on_prompt_start", "ChatPromptTemplate"),
        ("on_prompt_end", "ChatPromptTemplate"),
        ("on_chat_model_start", "FakeListChatModel"),
        ("on_chat_model_end", "FakeListChatModel"),
        ("on_chain_end", "RunnableSequence"),
    ]
    model = _model_events(events)
    expected_input = {"messages": [[HumanMessage("x")]]}
    assert model[0]["data"] == {"input": expected_input}
    assert [e["data"]["chunk"].content for e in model[1:-1]] == ["h", "i"]
    assert model[-1]["data"]["input"] == expected_input
    assert model[-1]["data"]["output"].content == "hi"
    for event in model:
        assert event["tags"] == ["seq:step:2"]
        assert event["metadata"] == FAKE_LS
    # The ls_* keys are the model run's own: the chain's events do not get them.
    assert events[0]["metadata"] == {}


async def test_a_chat_model_after_a_streaming_step_starts_when_that_step_has_ended() -> None:
    async def gen(x: str) -> AsyncIterator[str]:
        for c in ["a", "b"]:
            yield c

    events = await _events(RunnableLambda(gen) | FakeListChatModel(responses=["hi"]), "x")
    order = [(e["event"], e["name"]) for e in events if not e["event"].endswith("_stream")]
    assert order.index(("on_chain_end", "gen")) < order.index(
        ("on_chat_model_start", "FakeListChatModel")
    )
    start = _model_events(events)[0]
    assert start["data"] == {"input": {"messages": [[HumanMessage("ab")]]}}


async def test_an_invoked_chat_model_run_records_its_messages_as_input() -> None:
    model = FakeListChatModel(responses=["hi"])

    async def ask(x: str) -> Any:
        return await model.ainvoke(x)

    events = _model_events(await _events(RunnableLambda(ask), "x"))
    # As in langchain-core, the invoked model streams its tokens to astream_events.
    assert [e["event"] for e in events] == [
        "on_chat_model_start",
        "on_chat_model_stream",
        "on_chat_model_stream",
        "on_chat_model_end",
    ]
    assert events[0]["data"] == {"input": {"messages": [[HumanMessage("x")]]}}
    assert events[-1]["data"]["input"] == {"messages": [[HumanMessage("x")]]}
    assert events[-1]["data"]["output"].content == "hi"
    assert len(events[0]["parent_ids"]) == 1


async def test_a_root_chat_model_keeps_the_call_input_on_start_and_only_output_on_end() -> None:
    events = _model_events(await _events(FakeListChatModel(responses=["hi"]), "x"))
    assert events[0]["data"] == {"input": "x"}
    assert list(events[-1]["data"]) == ["output"]
    assert events[0]["metadata"] == FAKE_LS


async def test_ls_metadata_takes_bound_parameters_after_the_call_metadata() -> None:
    model = (
        FakeListChatModel(responses=["hi"])
        .bind(stop=["z"], temperature=0.5, max_tokens=7, model="m1")
        .with_config(metadata={"a": 1})
    )
    events = await _events(model, "x")
    assert events[0]["metadata"] == {
        "a": 1,
        "ls_provider": "fakelistchatmodel",
        "ls_model_type": "chat",
        "ls_stop": ["z"],
        "ls_model_name": "m1",
        "ls_temperature": 0.5,
        "ls_max_tokens": 7,
        "ls_integration": "langchain_chat_model",
    }


async def test_ls_stop_is_reported_as_it_was_bound_a_string_staying_a_string() -> None:
    # langchain-core reports the stop it was given; the provider still gets a list.
    seen: list[Any] = []

    def answer(messages: Any, params: dict[str, Any]) -> str:
        seen.append(params.get("stop"))
        return "hi"

    model = FunctionChatModel(answer).bind(stop="<stop_token>")
    events = await _events(model, "x")
    assert events[0]["metadata"]["ls_stop"] == "<stop_token>"
    assert seen == [["<stop_token>"]]


def test_ls_provider_drops_a_chat_prefix_or_suffix_and_reads_model_attributes() -> None:
    class ChatAcme(FakeListChatModel):
        model: str = "acme-1"
        temperature: float = 0.2

    class AcmeChat(FakeListChatModel):
        model_name: str = "acme-2"
        max_tokens: int = 9

    assert ChatAcme(responses=["x"])._get_ls_params() == {
        "ls_provider": "acme",
        "ls_model_type": "chat",
        "ls_model_name": "acme-1",
        "ls_temperature": 0.2,
    }
    assert AcmeChat(responses=["x"])._get_ls_params(stop=["."], temperature=1) == {
        "ls_provider": "acme",
        "ls_model_type": "chat",
        "ls_stop": ["."],
        "ls_model_name": "acme-2",
        "ls_temperature": 1,
        "ls_max_tokens": 9,
    }


async def test_listeners_on_a_chat_model_see_its_one_run_in_the_events() -> None:
    seen: list[Run] = []
    model = FakeListChatModel(responses=["hi"]).with_listeners(on_end=seen.append)
    events = await _events(RunnableLambda(lambda x: x) | model, "x")
    starts = [e for e in events if e["event"] == "on_chat_model_start"]
    assert len(starts) == 1
    assert str(seen[0].id) == starts[0]["run_id"]
    assert seen[0].tags == ["seq:step:2"]
    assert seen[0].inputs == {"messages": [[HumanMessage("x")]]}
    assert seen[0].metadata == FAKE_LS


async def test_a_model_invoked_inside_a_step_streams_its_tokens_in_astream_events() -> None:
    # langchain-core streams a model invoked under astream_events (its handler asks for
    # tokens), so the tokens show as on_chat_model_stream; the step still gets a message.
    from runnables.messages import AIMessage
    from runnables.models import GenericFakeChatModel

    model = GenericFakeChatModel(messages=iter([AIMessage("hello there")] * 2))
    got: list[Any] = []

    async def step(x: str) -> str:
        message = await model.ainvoke(x)
        got.append(message)
        return str(message.content)

    def sync_step(x: str) -> str:
        return str(model.invoke(x).content)

    for chain in (RunnableLambda(step), RunnableLambda(sync_step)):
        events = await _events(chain, "q")
        names = [e["event"] for e in events]
        tokens = [
            e["data"]["chunk"].content for e in events if e["event"] == "on_chat_model_stream"
        ]
        assert "".join(tokens) == "hello there"
        assert names.index("on_chat_model_start") < names.index("on_chat_model_stream")
        (end,) = [e for e in events if e["event"] == "on_chat_model_end"]
        assert type(end["data"]["output"]) is AIMessage
        assert events[-1]["data"]["output"] == "hello there"
    assert type(got[0]) is AIMessage


async def test_a_model_invoked_without_astream_events_does_not_stream() -> None:
    calls: list[str] = []

    class Both(FakeListChatModel):
        async def _agenerate(self, messages: Any, **kw: Any) -> Any:
            calls.append("generate")
            return await super()._agenerate(messages, **kw)

    model = Both(responses=["ok"])
    seen: list[Run] = []
    await model.with_listeners(on_end=seen.append).ainvoke("q")
    assert calls == ["generate"]
