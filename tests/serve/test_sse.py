"""JSON for the wire (LangServe's shapes) and SSE framing."""

from __future__ import annotations

import dataclasses
import datetime
import json
from uuid import UUID

import pytest
from pydantic import BaseModel

from runnables.messages import AIMessageChunk, HumanMessage
from runnables.prompts import ChatPromptTemplate, PromptTemplate
from runnables.serve.sse import dumps, frame


class Reply(BaseModel):
    text: str


@dataclasses.dataclass
class Box:
    items: tuple[int, ...]


def test_messages_dump_with_their_type() -> None:
    out = json.loads(dumps([HumanMessage("hi"), AIMessageChunk("yo")]))

    assert out[0]["type"] == "human" and out[0]["content"] == "hi"
    assert out[1]["type"] == "AIMessageChunk"


def test_models_dataclasses_uuids_and_dates_become_json() -> None:
    value = {
        "reply": Reply(text="ok"),
        "box": Box((1, 2)),
        "id": UUID(int=1),
        "at": datetime.date(2024, 1, 2),
        "tags": {"a"},
    }

    assert json.loads(dumps(value)) == {
        "reply": {"text": "ok"},
        "box": {"items": [1, 2]},
        "id": "00000000-0000-0000-0000-000000000001",
        "at": "2024-01-02",
        "tags": ["a"],
    }


def test_prompt_values_dump_like_langchain_core() -> None:
    chat = ChatPromptTemplate.from_messages([("human", "{q}")]).invoke({"q": "why?"})
    text = PromptTemplate.from_template("say {x}").invoke({"x": "hi"})

    chat_json = json.loads(dumps(chat))
    assert chat_json["type"] == "ChatPromptValue"
    assert chat_json["messages"][0]["content"] == "why?"
    assert json.loads(dumps(text)) == {"text": "say hi", "type": "StringPromptValue"}


def test_an_unknown_object_is_refused_naming_its_type_rather_than_sent_as_text() -> None:
    class Odd:
        def __str__(self) -> str:
            return "odd"

    with pytest.raises(TypeError, match=r"Odd.*cannot be sent as JSON"):
        dumps({"x": Odd()})


def test_frame_has_event_id_and_one_data_line() -> None:
    assert frame("data", dumps("a\nb"), "run:3") == (
        b'event: data\r\nid: run:3\r\ndata: "a\\nb"\r\n\r\n'
    )
    assert frame("end", None, "run:4") == b"event: end\r\nid: run:4\r\n\r\n"
