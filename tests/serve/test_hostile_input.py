"""Hostile and mistaken input never gets a bare 500 or a dropped stream (issue #12 §3).

Every route answers a JSON 4xx naming the problem, a stream that fails after it
started ends with an ``error`` event, and no response carries a traceback, an internal
path or invalid JSON.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from runnables import ConfigurableField, RunnableLambda
from runnables.models import FakeListChatModel
from runnables.prompts import ChatPromptTemplate
from runnables.serve import add_routes
from runnables.serve.openai_compat import add_openai_routes

Start = Callable[..., Any]  # the live_server fixture (tests/serve/conftest.py)
Parse = Callable[[str], list[dict[str, Any]]]
JSON = {"Content-Type": "application/json"}


def make_app() -> FastAPI:
    app = FastAPI()
    model = FakeListChatModel(responses=["hello"])
    other = FakeListChatModel(responses=["other"])
    chosen = model.configurable_alternatives(ConfigurableField(id="llm"), default_key="a", b=other)
    add_routes(app, model, path="/model")
    add_routes(app, ChatPromptTemplate.from_messages([("human", "{q}")]) | chosen, path="/chain")
    add_routes(app, RunnableLambda(lambda x: {"nan": math.nan, "inf": -math.inf}), path="/nan")
    add_routes(app, RunnableLambda(lambda x: "half \ud800 a pair"), path="/surrogate")
    add_openai_routes(app, model)
    return app


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    from serve.conftest import LiveServer

    server = LiveServer(make_app()).start()
    yield server.url
    server.stop()


POSTS = [f"/{r}/{e}" for r in ("model", "chain") for e in ("invoke", "batch", "stream")] + [
    "/chain/stream_events",
    "/model/stream_log",
    "/chain/stream_log",
    "/v1/chat/completions",
]
GETS = [
    "/chain/input_schema",
    "/chain/output_schema",
    "/chain/config_schema",
    "/chain/playground/",
    "/chain/stream/nope",
    "/chain/stream_events/nope",
    "/v1/models",
]


def body_for(path: str, value: bytes) -> bytes:
    """A body that puts ``value`` where the route reads its input."""
    key = b"inputs" if path.endswith("batch") else b"messages" if "/v1/" in path else b"input"
    return b'{"' + key + b'": ' + value + b"}"


def assert_clean(response: httpx.Response) -> None:
    """No 5xx, no traceback, no internal path; a JSON body is valid (strict) JSON."""
    text = response.text
    assert response.status_code < 500, (response.request.url, response.status_code, text[:300])
    for leak in ("Traceback", 'File "', "site-packages", "/runnables/", '.py"'):
        assert leak not in text, (response.request.url, text[:300])
    if response.headers.get("content-type", "").startswith("application/json"):
        json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in {text[:200]}"))


@pytest.mark.parametrize("path", POSTS)
@pytest.mark.parametrize(
    ("value", "named"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "nests"),
        (b'"\\ud800"', "surrogate"),
        (b"NaN", "NaN"),
        (b'{"q": Infinity}', "Infinity"),
        (b'{"q": 1e309}', "too large"),
        (b"9" * 5_000, "digits"),
    ],
)
def test_hostile_json_is_a_4xx_naming_the_problem_on_every_route(
    url: str, path: str, value: bytes, named: str
) -> None:
    response = httpx.post(url + path, content=body_for(path, value), headers=JSON, timeout=30)

    assert_clean(response)
    assert response.status_code in (400, 422)
    assert named in response.text


@pytest.mark.parametrize("path", POSTS)
@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_a_post_that_is_not_json_is_415(url: str, path: str, content_type: str | None) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    body = body_for(path, b'"hi"')

    response = httpx.post(url + path, content=body, headers=headers)

    assert response.status_code == 415
    assert "application/json" in response.text


@pytest.mark.parametrize("path", POSTS)
def test_a_post_with_no_content_type_that_is_not_json_either_is_422_naming_it(
    url: str, path: str
) -> None:
    # As LangServe answers it; the same body as valid JSON is still 415 (above).
    response = httpx.post(url + path, content=b"bad json []")

    assert_clean(response)
    assert response.status_code in (400, 422)  # /v1: OpenAI's 400
    assert "not valid JSON" in response.text


def test_an_unknown_configurable_alternative_is_422_naming_it(url: str, parse_sse: Parse) -> None:
    body = {"input": {"q": "x"}, "config": {"configurable": {"llm": "zzz"}}}

    answer = httpx.post(f"{url}/chain/invoke", json=body)
    streamed = parse_sse(httpx.post(f"{url}/chain/stream", json=body).text)

    assert answer.status_code == 422 and "'zzz'" in answer.json()["detail"]
    # The stream had started (200): it ends with an error event, not a dropped connection.
    assert streamed[-1]["event"] == "error"
    error = json.loads(streamed[-1]["data"])
    assert error["status_code"] == 422 and "'zzz'" in error["message"]


def test_an_int_sent_to_a_chat_model_is_422_naming_it(url: str, parse_sse: Parse) -> None:
    answer = httpx.post(f"{url}/model/invoke", json={"input": 5})
    batch = httpx.post(f"{url}/model/batch", json={"inputs": ["fine", 5]})
    streamed = parse_sse(httpx.post(f"{url}/model/stream", json={"input": 5}).text)

    assert answer.status_code == 422 and "got 5 (a int)" in answer.json()["detail"]
    assert batch.status_code == 422
    assert streamed[-1]["event"] == "error"
    assert json.loads(streamed[-1]["data"])["status_code"] == 422


def test_nan_in_an_output_is_sent_as_null_never_as_invalid_json(url: str, parse_sse: Parse) -> None:
    answer = httpx.post(f"{url}/nan/invoke", json={"input": 1})
    streamed = parse_sse(httpx.post(f"{url}/nan/stream", json={"input": 1}).text)

    assert_clean(answer)
    assert answer.json()["output"] == {"nan": None, "inf": None}
    data = [e for e in streamed if e["event"] == "data"]
    assert json.loads(data[0]["data"], parse_constant=pytest.fail) == {"nan": None, "inf": None}


# ---------------------------------------------------------------------- property-based


def nested(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(children, max_size=4) | st.dictionaries(
        st.text(max_size=8), children, max_size=4
    )


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    nested,
    max_leaves=12,
)
# Bodies shaped like each route's, with generated values where the route reads them.
shaped = st.fixed_dictionaries(
    {},
    optional={
        "input": json_values,
        "inputs": json_values,
        "messages": json_values,
        "config": json_values
        | st.fixed_dictionaries({}, optional={"configurable": json_values, "tags": json_values}),
        "model": json_values,
        "stream": json_values,
    },
)
bodies = (
    shaped.map(lambda b: json.dumps(b).encode())
    | json_values.map(lambda v: json.dumps(v).encode())
    | st.binary(max_size=64)
)


# What a client may put in the headers the routes read.
# (Printable ASCII without spaces: httpx itself refuses a value that starts or ends
# with one.)
header_text = st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=40)
extra_headers = st.fixed_dictionaries(
    {},
    optional={
        "Resume-Grace": header_text | st.sampled_from(["nan", "inf", "-1", "1e309", "5"]),
        "Last-Event-ID": header_text | st.just("nope:1"),
        "Authorization": header_text | st.just("Bearer not-the-token"),
    },
)


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(path=st.sampled_from(POSTS), body=bodies, headers=extra_headers)
def test_generated_bodies_never_get_a_5xx_a_traceback_or_a_path(
    url: str, path: str, body: bytes, headers: dict[str, str]
) -> None:
    response = httpx.post(url + path, content=body, headers={**JSON, **headers}, timeout=30)

    assert_clean(response)
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        assert_stream_ended(path, response.text)


def assert_stream_ended(path: str, text: str) -> None:
    """The stream was finished, not dropped: LangServe's ``end`` or ``error`` event, or
    OpenAI's ``[DONE]`` or error chunk on /v1; every data line is strict JSON."""
    if "/v1/" in path:
        lines = [line for line in text.splitlines() if line.startswith("data: ")]
        assert lines, text[:300]
        for line in lines[:-1]:
            json.loads(line.removeprefix("data: "), parse_constant=pytest.fail)
        last = lines[-1].removeprefix("data: ")
        assert last == "[DONE]" or "error" in json.loads(last), text[-300:]
        return
    events = [b for b in text.split("\r\n\r\n") if b.strip()]
    assert events and ("event: end" in events[-1] or "event: error" in events[-1])
    for block in events:
        for line in block.split("\r\n"):
            if line.startswith("data: "):
                json.loads(line.removeprefix("data: "), parse_constant=pytest.fail)


# OpenAI chat messages: mostly well formed (so the run itself is reached), with every
# field also drawn from junk, so each check of read_request is crossed both ways.
roles = st.sampled_from(["system", "developer", "user", "assistant", "tool", "function"])
content_parts = st.lists(
    st.fixed_dictionaries(
        {"type": st.sampled_from(["text", "image_url", "input_audio", "refusal"]) | st.text()},
        optional={
            "text": st.text(max_size=20) | json_values,
            "image_url": st.fixed_dictionaries({"url": st.text(max_size=20)}) | json_values,
        },
    ),
    max_size=3,
)
tool_calls = st.lists(
    st.fixed_dictionaries(
        {
            "id": st.text(max_size=8),
            "type": st.just("function") | st.text(max_size=8),
            "function": st.fixed_dictionaries(
                {
                    "name": st.text(max_size=8),
                    "arguments": st.just('{"a": 1}') | st.text(max_size=20),
                }
            )
            | json_values,
        }
    ),
    max_size=2,
)
chat_message = st.fixed_dictionaries(
    {"role": roles | json_values},
    optional={
        "content": st.text(max_size=30) | content_parts | st.none() | json_values,
        "name": st.text(max_size=8) | json_values,
        "tool_calls": tool_calls | json_values,
        "tool_call_id": st.text(max_size=8) | json_values,
    },
)
junk_chat_bodies = st.fixed_dictionaries(
    {"messages": st.lists(chat_message, max_size=5)},
    optional={
        "model": st.text(max_size=10) | json_values,
        "stream": st.booleans() | json_values,
        "n": st.integers(min_value=-1, max_value=3) | json_values,
        "max_tokens": st.integers(min_value=-1, max_value=50) | json_values,
        "stop": st.text(max_size=5) | st.lists(st.text(max_size=5), max_size=5) | json_values,
        "temperature": st.floats(-1, 3, allow_nan=False) | json_values,
        "stream_options": st.fixed_dictionaries({"include_usage": st.booleans()}) | json_values,
    },
)
text_parts = st.lists(
    st.fixed_dictionaries({"type": st.just("text"), "text": st.text(max_size=20)}),
    min_size=1,
    max_size=3,
)
# Conversations OpenAI accepts, with any text (control characters, astral planes):
# these reach the run, so what it answers is checked too, not only the validation.
valid_message = st.fixed_dictionaries(
    {
        "role": st.sampled_from(["system", "developer", "user", "assistant"]),
        "content": st.text(max_size=30) | text_parts,
    },
    optional={"name": st.text(st.characters(categories=["L", "N"]), min_size=1, max_size=8)},
) | st.fixed_dictionaries(
    {
        "role": st.just("tool"),
        "content": st.text(max_size=30),
        "tool_call_id": st.text(min_size=1, max_size=8),
    }
)
valid_chat_bodies = st.fixed_dictionaries(
    {
        "messages": st.lists(valid_message, min_size=1, max_size=4),
        # One runnable is served, so any name is taken and echoed back.
        "model": st.text(min_size=1, max_size=10),
    },
    optional={
        "stream": st.booleans(),
        "n": st.integers(min_value=1, max_value=2),
    },
)
chat_bodies = valid_chat_bodies | junk_chat_bodies


@settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=chat_bodies)
def test_generated_chat_messages_never_get_a_5xx_on_v1(url: str, body: dict[str, Any]) -> None:
    path = "/v1/chat/completions"
    response = httpx.post(url + path, content=json.dumps(body), headers=JSON, timeout=30)

    assert_clean(response)
    event(f"status {response.status_code}")  # --hypothesis-show-statistics: both are hit
    if response.status_code == 200 and body.get("stream") is True:
        assert_stream_ended(path, response.text)
    elif response.status_code == 200:
        choices = response.json()["choices"]
        assert choices and all(c["message"]["role"] == "assistant" for c in choices)
    else:
        error = response.json()["error"]  # OpenAI's shape, naming the problem
        assert error["message"] and error["type"], response.text


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    path=st.sampled_from(GETS), junk=st.text(max_size=30), method=st.sampled_from(["GET", "DELETE"])
)
def test_generated_queries_never_get_a_5xx(url: str, path: str, junk: str, method: str) -> None:
    response = httpx.request(method, url + path, params={"last_event_id": junk}, timeout=30)

    assert_clean(response)


def test_a_lone_surrogate_in_an_output_is_sent_escaped_never_dropping_the_stream(
    url: str, parse_sse: Parse
) -> None:
    answer = httpx.post(f"{url}/surrogate/invoke", json={"input": 1})
    streamed = parse_sse(httpx.post(f"{url}/surrogate/stream", json={"input": 1}).text)

    assert answer.status_code == 200
    assert answer.json()["output"] == "half \ud800 a pair"
    assert [e["event"] for e in streamed] == ["metadata", "data", "end"]
    assert json.loads(streamed[1]["data"]) == "half \ud800 a pair"
