"""The one wire format (runnables/wire.py): JSON and SSE, the same for every sender.

The server, RemoteRunnable, the OpenAI client and the CLI each write a value through
``wire.dumps``; here each of them really sends (or prints) the same awkward value and
the bytes are compared with the encoder's.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import io
import json
import math
from typing import Any
from uuid import UUID

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel

from runnables import RunnableLambda
from runnables.messages import AIMessageChunk, HumanMessage
from runnables.prompts import ChatPromptTemplate
from runnables.providers.openai.errors import APIStatusError
from runnables.providers.openai.transport import OpenAITransport
from runnables.serve import add_routes
from runnables.serve.remote import RemoteRunnable
from runnables.testing.openai_server import FakeOpenAIServer
from runnables.wire import ServerEvent, SSEDecoder, dumps, encode, frame


class Reply(BaseModel):
    text: str
    at: datetime.datetime


@dataclasses.dataclass
class Box:
    items: tuple[int, ...]


class Colour(enum.Enum):
    RED = "red"


AT = datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)

# Everything the encoders used to disagree about: non-finite floats, dates, pydantic
# models, dataclasses, messages, prompt values, UUIDs, enums, tuples, non-ASCII text.
VALUE: dict[str, Any] = {
    "nan": math.nan,
    "inf": [math.inf, -math.inf],
    "at": AT,
    "day": AT.date(),
    "reply": Reply(text="héllo", at=AT),
    "box": Box((1, 2)),
    "messages": [HumanMessage("hi"), AIMessageChunk("yo")],
    "prompt": ChatPromptTemplate.from_messages([("human", "{q}")]).invoke({"q": "why?"}),
    "id": UUID(int=1),
    "colour": Colour.RED,
    "pair": (1, "two"),
    "text": "naïve ☃",
}


def test_dumps_writes_each_kind_of_value_one_way() -> None:
    out = json.loads(dumps(VALUE))  # valid JSON: no NaN or Infinity words

    assert out["nan"] is None and out["inf"] == [None, None]
    assert out["at"] == "2024-01-02T03:04:05+00:00"
    assert out["day"] == "2024-01-02"
    assert out["reply"] == {"text": "héllo", "at": "2024-01-02T03:04:05+00:00"}
    assert out["box"] == {"items": [1, 2]}
    assert [m["type"] for m in out["messages"]] == ["human", "AIMessageChunk"]
    assert out["prompt"]["type"] == "ChatPromptValue"
    assert out["prompt"]["messages"][0]["content"] == "why?"
    assert out["id"] == "00000000-0000-0000-0000-000000000001"
    assert out["colour"] == "red" and out["pair"] == [1, "two"]
    assert '"naïve ☃"' in dumps(VALUE)  # UTF-8, not \\u escapes
    assert ", " not in dumps([1, 2]) and dumps({"a": 1}) == '{"a":1}'


def test_an_unknown_object_is_refused_naming_its_type() -> None:
    class Odd:
        pass

    with pytest.raises(TypeError, match=r"Odd.*cannot be sent as JSON"):
        dumps({"x": Odd()})


def test_a_lone_surrogate_is_sent_as_its_json_escape() -> None:
    assert encode(dumps("a\ud800")) == b'"a\\ud800"'


async def test_the_server_sends_an_output_as_the_encoder_writes_it() -> None:
    app = FastAPI()
    add_routes(app, RunnableLambda(lambda _: VALUE), path="/value")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.post("/value/invoke", json={"input": None})

    assert response.status_code == 200
    assert b'"output":' + encode(dumps(VALUE)) in response.content


async def test_remote_runnable_sends_its_input_as_the_encoder_writes_it() -> None:
    async with FakeOpenAIServer() as server:
        remote = RemoteRunnable(server.base_url + "/value")
        with pytest.raises(Exception):  # noqa: B017 - the fake server has no such route
            await remote.ainvoke(VALUE)
        (request,) = server.requests

    assert b'"input":' + encode(dumps(VALUE, request=True)) in request.body
    # The one difference from a response: a chat prompt value carries the tag LangServe's
    # server decodes requests by.
    sent = json.loads(request.body)["input"]
    assert sent["prompt"]["type"] == "ChatPromptValueConcrete"
    assert {k: v for k, v in sent.items() if k != "prompt"} == {
        k: v for k, v in json.loads(dumps(VALUE)).items() if k != "prompt"
    }


async def test_the_openai_client_sends_its_body_as_the_encoder_writes_it() -> None:
    body = {"model": "m", "metadata": {"at": AT, "score": math.nan, "note": "naïve ☃"}}
    async with FakeOpenAIServer() as server:
        transport = OpenAITransport(base_url=server.base_url, max_retries=0)
        with pytest.raises(APIStatusError):
            await transport.post("/value", body)
        (request,) = server.requests

    assert request.body == encode(dumps(body))


async def test_the_cli_prints_a_chunk_as_the_encoder_writes_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from runnables.cli.main import _run_stream

    out = io.StringIO()
    monkeypatch.setattr("sys.stdout", out)
    await _run_stream(RunnableLambda(lambda _: VALUE), None, None, False)

    assert out.getvalue() == dumps(VALUE) + "\n"


def test_one_sse_codec_reads_what_frame_writes() -> None:
    wire = frame("data", dumps({"a": [1, 2]}), "run:1") + frame("end", None, "run:2")
    decoder = SSEDecoder()
    events = [e for i in range(len(wire)) for e in decoder.feed(wire[i : i + 1])]

    assert events + decoder.close() == [
        ServerEvent("data", b'{"a":[1,2]}', "run:1"),
        ServerEvent("end", b"", "run:2"),
    ]


def test_a_strict_decoder_raises_its_callers_error_for_a_line_that_is_not_sse() -> None:
    class NotSSEError(Exception):
        pass

    decoder = SSEDecoder(strict=True, error=NotSSEError, hint=" Check the URL.")
    with pytest.raises(
        NotSSEError, match=r"not a server-sent event field: b'hello'\. Check the URL\."
    ):
        decoder.feed(b"hello\n\n")
    assert SSEDecoder().feed(b"hello\ndata: x\n\n") == [ServerEvent("message", b"x", None)]
