"""A malformed ``tool_calls`` in an assistant message is a JSON 400 in OpenAI's error
shape naming the field, streaming or not (it used to be a plain-text 500)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from runnables.messages import AIMessage, BaseMessage
from runnables.models import FunctionChatModel
from runnables.serve import add_openai_routes

Start = Callable[..., Any]  # the live_server fixture (tests/serve/conftest.py)


def _call(**changes: Any) -> dict[str, Any]:
    call: dict[str, Any] = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "add", "arguments": '{"a": 1}'},
    }
    call.update(changes)
    return call


def _function(**changes: Any) -> dict[str, Any]:
    return _call(function={"name": "add", "arguments": '{"a": 1}', **changes})


WHERE = "messages[1].tool_calls"
MALFORMED = [
    pytest.param("add", WHERE, "expected an array", id="not-an-array"),
    pytest.param([5], f"{WHERE}[0]", "got 5", id="call-not-an-object"),
    pytest.param(
        [{"id": "call_1", "type": "function"}], f"{WHERE}[0].function", "Missing", id="no-function"
    ),
    pytest.param([_call(function="add")], f"{WHERE}[0].function", "'add'", id="function-a-string"),
    pytest.param(
        [_call(function={"arguments": "{}"})], f"{WHERE}[0].function.name", "Missing", id="no-name"
    ),
    pytest.param([_function(name=7)], f"{WHERE}[0].function.name", "got 7", id="name-not-a-string"),
    pytest.param(
        [_function(arguments={"a": 1})],
        f"{WHERE}[0].function.arguments",
        "JSON text",
        id="arguments-an-object",
    ),
    pytest.param(
        [_function(arguments="{a: 1")],
        f"{WHERE}[0].function.arguments",
        "'{a: 1'",
        id="arguments-not-json",
    ),
    pytest.param(
        [_function(arguments="[1]")],
        f"{WHERE}[0].function.arguments",
        "JSON object",
        id="arguments-not-an-object",
    ),
    pytest.param([_call(id=3)], f"{WHERE}[0].id", "got 3", id="id-not-a-string"),
    pytest.param([_call(type="magic")], f"{WHERE}[0].type", "'magic'", id="type-not-function"),
]


def _serve(live_server: Start) -> str:
    def answer(messages: list[BaseMessage], params: dict[str, Any]) -> AIMessage:
        return AIMessage("ok")

    app = FastAPI()
    add_openai_routes(app, FunctionChatModel(answer), model_name="m")
    return str(live_server(app).url)


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize(("calls", "param", "words"), MALFORMED)
def test_a_malformed_tool_calls_is_a_json_400_naming_the_field(
    live_server: Start, stream: bool, calls: Any, param: str, words: str
) -> None:
    url = _serve(live_server)
    messages = [
        {"role": "user", "content": "add"},
        {"role": "assistant", "content": None, "tool_calls": calls},
        {"role": "tool", "tool_call_id": "call_1", "content": "2"},
    ]
    body = {"model": "m", "messages": messages, "stream": stream}

    response = httpx.post(f"{url}/v1/chat/completions", json=body, timeout=30)

    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    assert words in error["message"]


def test_a_well_formed_tool_call_history_is_answered(live_server: Start) -> None:
    url = _serve(live_server)
    messages = [
        {"role": "user", "content": "add"},
        {"role": "assistant", "content": None, "tool_calls": [_call()]},
        {"role": "tool", "tool_call_id": "call_1", "content": "2"},
    ]
    response = httpx.post(
        f"{url}/v1/chat/completions", json={"model": "m", "messages": messages}, timeout=30
    )
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"] == "ok"
