"""The OpenAI-compatible endpoint honours what the request asks for, or answers 400.

Driven by the official openai SDK and langchain-openai's ChatOpenAI over a real socket.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import openai
import pytest
from fastapi import FastAPI
from openai.types.chat import ChatCompletionFunctionToolParam, ChatCompletionMessageParam
from pydantic import BaseModel

from runnables import RunnableLambda
from runnables.messages import AIMessage, BaseMessage
from runnables.models import FakeListChatModel, FunctionChatModel
from runnables.output_parsers import StrOutputParser
from runnables.prompts import ChatPromptTemplate, MessagesPlaceholder
from runnables.serve import add_openai_routes

Start = Callable[..., Any]  # the live_server fixture (tests/serve/conftest.py)
USER: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hi"}]


def client(url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0, timeout=10)


class Recorder:
    """A FunctionChatModel's function that records each call's parameters."""

    def __init__(self, answer: Callable[[dict[str, Any]], AIMessage] | None = None) -> None:
        self.calls: list[dict[str, Any]] = []
        self.answer = answer

    def __call__(self, messages: list[BaseMessage], params: dict[str, Any]) -> AIMessage:
        self.calls.append(params)
        if self.answer is not None:
            return self.answer(params)
        return AIMessage("one two three four five six")


def serve(live_server: Start, runnable: Any) -> str:
    app = FastAPI()
    add_openai_routes(app, runnable, model_name="m")
    return str(live_server(app).url)


def test_sampling_parameters_reach_the_chat_model(live_server: Start) -> None:
    seen = Recorder()
    url = serve(live_server, FunctionChatModel(seen))

    client(url).chat.completions.create(
        model="m",
        messages=USER,
        max_tokens=5,
        stop=["six"],
        temperature=0.5,
        top_p=0.9,
        seed=7,
        presence_penalty=0.1,
        frequency_penalty=-0.2,
    )

    assert seen.calls == [
        {
            "max_tokens": 5,
            "stop": ["six"],
            "temperature": 0.5,
            "top_p": 0.9,
            "seed": 7,
            "presence_penalty": 0.1,
            "frequency_penalty": -0.2,
        }
    ]


def test_max_completion_tokens_is_the_models_max_tokens(live_server: Start) -> None:
    seen = Recorder()
    url = serve(live_server, FunctionChatModel(seen))

    client(url).chat.completions.create(
        model="m",
        messages=USER,
        max_completion_tokens=3,
    )

    assert seen.calls == [{"max_tokens": 3}]


def test_parameters_reach_a_model_inside_a_chain_and_win_over_bound_ones(
    live_server: Start,
) -> None:
    seen = Recorder()
    prompt = ChatPromptTemplate.from_messages(
        [("system", "be brief"), MessagesPlaceholder("history")]
    )
    chain = (
        RunnableLambda[list[BaseMessage], dict[str, list[BaseMessage]]](
            lambda messages: {"history": messages}
        )
        | prompt
        | FunctionChatModel(seen).bind(max_tokens=100, temperature=0.0)
        | StrOutputParser()
    )
    url = serve(live_server, chain)

    completion = client(url).chat.completions.create(
        model="m",
        messages=USER,
        max_tokens=4,
    )

    assert completion.choices[0].message.content == "one two three four five six"
    assert seen.calls == [{"max_tokens": 4, "temperature": 0.0}]


def test_a_request_without_parameters_runs_the_chain_as_it_is(live_server: Start) -> None:
    seen = Recorder()
    url = serve(live_server, FunctionChatModel(seen).bind(temperature=0.3))

    client(url).chat.completions.create(model="m", messages=USER)

    assert seen.calls == [{"temperature": 0.3}]


def test_a_model_that_cannot_honour_a_parameter_is_a_400_naming_it(live_server: Start) -> None:
    url = serve(live_server, FakeListChatModel(responses=["a"]))

    with pytest.raises(openai.BadRequestError) as caught:
        client(url).chat.completions.create(
            model="m",
            messages=USER,
            temperature=0.2,
        )

    error = caught.value.body
    assert isinstance(error, dict)
    assert error["param"] == "temperature"
    assert error["type"] == "invalid_request_error"
    assert "FakeListChatModel cannot honour 'temperature'" in error["message"]


def test_a_chain_without_a_chat_model_is_a_400_naming_the_parameter(live_server: Start) -> None:
    url = serve(live_server, RunnableLambda(lambda messages: "echo"))

    with pytest.raises(openai.BadRequestError) as caught:
        client(url).chat.completions.create(
            model="m",
            messages=USER,
            max_completion_tokens=5,
        )

    error = caught.value.body
    assert isinstance(error, dict)
    assert error["param"] == "max_completion_tokens"
    assert "has no chat model" in error["message"]


def test_a_model_inside_a_parallel_step_cannot_be_bound_so_400(live_server: Start) -> None:
    chain = {"a": FunctionChatModel(Recorder()), "b": RunnableLambda(lambda m: 1)} | RunnableLambda(
        lambda d: d["a"]
    )
    url = serve(live_server, chain)

    with pytest.raises(openai.BadRequestError) as caught:
        client(url).chat.completions.create(
            model="m",
            messages=USER,
            seed=1,
        )

    error = caught.value.body
    assert isinstance(error, dict)
    assert error["param"] == "seed" and "RunnableParallel" in error["message"]


def test_n_returns_n_choices(live_server: Start) -> None:
    url = serve(live_server, FakeListChatModel(responses=["a", "b", "c"]))

    completion = client(url).chat.completions.create(
        model="m",
        messages=USER,
        n=3,
    )

    assert [c.index for c in completion.choices] == [0, 1, 2]
    assert sorted(c.message.content or "" for c in completion.choices) == ["a", "b", "c"]


def test_n_streams_n_choices(live_server: Start) -> None:
    url = serve(live_server, FakeListChatModel(responses=["ab", "cd"]))

    chunks = list(
        client(url).chat.completions.create(
            model="m",
            messages=USER,
            n=2,
            stream=True,
        )
    )

    texts: dict[int, str] = {}
    finishes: dict[int, str | None] = {}
    for chunk in chunks:
        for choice in chunk.choices:
            texts[choice.index] = texts.get(choice.index, "") + (choice.delta.content or "")
            if choice.finish_reason is not None:
                finishes[choice.index] = choice.finish_reason
    assert sorted(texts.values()) == ["ab", "cd"]
    assert finishes == {0: "stop", 1: "stop"}


def cut(params: dict[str, Any]) -> AIMessage:
    """An answer cut at max_tokens words, reported as a provider reports it."""
    words = ["one", "two", "three", "four", "five", "six"]
    limit = params.get("max_tokens") or len(words)
    finish = "length" if limit < len(words) else "stop"
    return AIMessage(" ".join(words[:limit]), response_metadata={"finish_reason": finish})


def test_finish_reason_is_length_when_max_tokens_cut_the_answer(live_server: Start) -> None:
    url = serve(live_server, FunctionChatModel(Recorder(cut)))
    sdk = client(url)

    short = sdk.chat.completions.create(model="m", messages=USER, max_tokens=2)
    whole = sdk.chat.completions.create(model="m", messages=USER, max_tokens=50)
    streamed = list(
        sdk.chat.completions.create(
            model="m",
            messages=USER,
            max_tokens=2,
            stream=True,
        )
    )

    assert short.choices[0].message.content == "one two"
    assert short.choices[0].finish_reason == "length"
    assert whole.choices[0].finish_reason == "stop"
    assert [c.choices[0].finish_reason for c in streamed if c.choices][-1] == "length"


WEATHER: ChatCompletionFunctionToolParam = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


def call_the_forced_tool(params: dict[str, Any]) -> AIMessage:
    """A model that calls the tool the request names, with arguments it makes up."""
    tools = params.get("tools") or []
    if not tools:
        return AIMessage("no tools")
    choice = params.get("tool_choice")
    name = choice["function"]["name"] if isinstance(choice, dict) else tools[0]["function"]["name"]
    properties = next(t for t in tools if t["function"]["name"] == name)["function"]["parameters"][
        "properties"
    ]
    args = {key: "Paris" if spec.get("type") == "string" else 1 for key, spec in properties.items()}
    return AIMessage("", tool_calls=[{"name": name, "args": args, "id": "call_1"}])


def test_request_tools_are_bound_and_tool_calls_finish_with_tool_calls(
    live_server: Start,
) -> None:
    seen = Recorder(call_the_forced_tool)
    url = serve(live_server, FunctionChatModel(seen))

    completion = client(url).chat.completions.create(
        model="m",
        messages=USER,
        tools=[WEATHER],
        tool_choice="required",
    )

    assert seen.calls[0]["tools"] == [WEATHER]
    assert seen.calls[0]["tool_choice"] == "required"
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.tool_calls is not None
    call = choice.message.tool_calls[0]
    assert call.function.name == "get_weather"  # type: ignore[union-attr]
    assert json.loads(call.function.arguments) == {"city": "Paris"}  # type: ignore[union-attr]


def test_tools_sent_to_a_model_without_tools_are_a_400(live_server: Start) -> None:
    url = serve(live_server, FakeListChatModel(responses=["a"]))

    with pytest.raises(openai.BadRequestError) as caught:
        client(url).chat.completions.create(
            model="m",
            messages=USER,
            tools=[WEATHER],
        )

    assert isinstance(caught.value.body, dict) and caught.value.body["param"] == "tools"


class ToolsOnlyModel(FunctionChatModel):
    """A model that takes tools but no response_format (as many local models do)."""

    call_params = frozenset({"tools", "tool_choice", "parallel_tool_calls"})


def test_response_format_json_schema_is_honoured_through_a_tool_call(
    live_server: Start,
) -> None:
    seen = Recorder(call_the_forced_tool)
    url = serve(live_server, ToolsOnlyModel(seen))
    schema: dict[str, object] = {"type": "object", "properties": {"city": {"type": "string"}}}

    completion = client(url).chat.completions.create(
        model="m",
        messages=USER,
        response_format={"type": "json_schema", "json_schema": {"name": "place", "schema": schema}},
    )

    assert json.loads(completion.choices[0].message.content or "") == {"city": "Paris"}
    assert completion.choices[0].finish_reason == "stop"
    assert seen.calls[0]["tool_choice"] == {"type": "function", "function": {"name": "place"}}


def test_response_format_passes_to_a_model_that_takes_it(live_server: Start) -> None:
    seen = Recorder(lambda params: AIMessage('{"ok": true}'))
    url = serve(live_server, FunctionChatModel(seen))

    completion = client(url).chat.completions.create(
        model="m",
        messages=USER,
        response_format={"type": "json_object"},
    )

    assert seen.calls == [{"response_format": {"type": "json_object"}}]
    assert json.loads(completion.choices[0].message.content or "") == {"ok": True}


def test_response_format_a_model_cannot_honour_is_a_400(live_server: Start) -> None:
    url = serve(live_server, FakeListChatModel(responses=["a"]))

    with pytest.raises(openai.BadRequestError) as caught:
        client(url).chat.completions.create(
            model="m",
            messages=USER,
            response_format={"type": "json_object"},
        )

    assert isinstance(caught.value.body, dict)
    assert caught.value.body["param"] == "response_format"


@pytest.mark.parametrize(
    ("body", "param", "words"),
    [
        ({"messages": [{"role": "wizard", "content": "x"}]}, "messages[0].role", "'wizard'"),
        ({"messages": [{"role": "user"}]}, "messages[0].content", "Missing required"),
        ({"messages": [{"role": "user", "content": 5}]}, "messages[0].content", "got 5"),
        ({"messages": [{"role": "tool", "content": "x"}]}, "messages[0].tool_call_id", "tool"),
        ({"model": 3}, "model", "expected a string, got 3"),
        ({"model": None}, "model", "must provide a model"),
        ({"temperature": 3}, "temperature", "from 0 to 2, got 3"),
        ({"temperature": "hot"}, "temperature", "got 'hot'"),
        ({"top_p": True}, "top_p", "got True"),
        ({"max_tokens": 0}, "max_tokens", "at least 1"),
        ({"n": 1.5}, "n", "got 1.5"),
        ({"seed": "x"}, "seed", "expected an integer"),
        ({"stop": [1]}, "stop", "array of up to 4 strings"),
        ({"tools": [{"type": "function"}]}, "tools[0]", "'type': 'function'"),
        ({"tool_choice": "auto"}, "tool_choice", "needs 'tools'"),
        ({"response_format": {"type": "xml"}}, "response_format", "'xml'"),
        ({"logprobs": True}, "logprobs", "not supported"),
        ({"frobnicate": 1}, "frobnicate", "Unrecognized request argument"),
    ],
)
def test_requests_are_validated_as_openai_does(
    live_server: Start, body: dict[str, Any], param: str, words: str
) -> None:
    url = serve(live_server, FunctionChatModel(Recorder()))
    request = {"model": "m", "messages": USER, **body}
    if request["model"] is None:
        del request["model"]

    response = httpx.post(f"{url}/v1/chat/completions", json=request)

    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    assert words in error["message"]


def test_get_one_model(live_server: Start) -> None:
    app = FastAPI()
    add_openai_routes(app, {"alpha": FakeListChatModel(responses=["a"])})
    url = live_server(app).url
    sdk = client(url)

    model = sdk.models.retrieve("alpha")
    assert (model.id, model.object, model.owned_by) == ("alpha", "model", "runnables")
    with pytest.raises(openai.NotFoundError) as caught:
        sdk.models.retrieve("gamma")
    assert isinstance(caught.value.body, dict)
    assert caught.value.body["code"] == "model_not_found"


# ---------------------------------------------------------------------- langchain-openai


def chat_openai(url: str, **kwargs: Any) -> Any:
    langchain_openai = pytest.importorskip("langchain_openai")  # the bench extra
    return langchain_openai.ChatOpenAI(
        model="m", base_url=f"{url}/v1", api_key="unused", max_retries=0, timeout=10, **kwargs
    )


class Place(BaseModel):
    city: str


def test_langchain_openai_structured_output_by_function_calling(live_server: Start) -> None:
    url = serve(live_server, FunctionChatModel(Recorder(call_the_forced_tool)))

    structured = chat_openai(url).with_structured_output(Place, method="function_calling")

    assert structured.invoke("Where?") == Place(city="Paris")


def test_langchain_openai_structured_output_is_an_error_not_none_without_tools(
    live_server: Start,
) -> None:
    url = serve(live_server, FakeListChatModel(responses=["Paris"]))

    structured = chat_openai(url).with_structured_output(Place, method="function_calling")

    with pytest.raises(openai.BadRequestError, match="tools"):
        structured.invoke("Where?")


def test_langchain_openai_max_tokens_and_stop_reach_the_model(live_server: Start) -> None:
    seen = Recorder(cut)
    url = serve(live_server, FunctionChatModel(seen))

    answer = chat_openai(url, max_tokens=2, temperature=0.0).invoke("hi", stop=["."])

    assert answer.content == "one two"
    assert answer.response_metadata["finish_reason"] == "length"
    assert seen.calls[0]["max_tokens"] == 2
    assert seen.calls[0]["stop"] == ["."]
    assert seen.calls[0]["temperature"] == 0.0


def test_finish_reason_is_length_through_a_chain_that_ends_in_a_parser(
    live_server: Start,
) -> None:
    chain = FunctionChatModel(Recorder(cut)) | StrOutputParser()
    url = serve(live_server, chain)
    sdk = client(url)

    short = sdk.chat.completions.create(
        model="m",
        messages=USER,
        max_tokens=2,
        n=2,
    )
    whole = sdk.chat.completions.create(model="m", messages=USER, max_tokens=50)
    streamed = list(
        sdk.chat.completions.create(
            model="m",
            messages=USER,
            max_tokens=2,
            stream=True,
        )
    )

    assert [c.message.content for c in short.choices] == ["one two", "one two"]
    assert [c.finish_reason for c in short.choices] == ["length", "length"]
    assert whole.choices[0].finish_reason == "stop"
    assert [c.choices[0].finish_reason for c in streamed if c.choices][-1] == "length"
