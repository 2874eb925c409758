"""Lossless conversion of values between runnables and langchain-core."""

from __future__ import annotations

from typing import Any

import langchain_core.messages as lc
import pytest
from langchain_core.documents import Document as LCDocument
from langchain_core.prompt_values import ChatPromptValue as LCChatPromptValue

from runnables.documents import Document
from runnables.interop import from_langchain, to_langchain
from runnables.messages import (
    AIMessage,
    AIMessageChunk,
    ChatMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from runnables.models.base import ChatGeneration
from runnables.prompts.value import ChatPromptValue, StringPromptValue

BLOCKS: list[Any] = [
    {"type": "text", "text": "hi"},
    {"type": "image_url", "image_url": {"url": "u"}},
]
USAGE: Any = {
    "input_tokens": 3,
    "output_tokens": 4,
    "total_tokens": 7,
    "input_token_details": {"cache_read": 1},
}

MESSAGES = [
    HumanMessage(BLOCKS, id="h1", name="ann", additional_kwargs={"k": 1}),
    SystemMessage("be brief", id="s1"),
    AIMessage(
        "answer",
        id="a1",
        tool_calls=[{"name": "f", "args": {"x": 1}, "id": "c1", "type": "tool_call"}],
        invalid_tool_calls=[
            {"name": "g", "args": "{bad", "id": "c2", "error": "bad", "type": "invalid_tool_call"}
        ],
        usage_metadata=USAGE,
        response_metadata={"model_name": "m", "finish_reason": "stop"},
    ),
    AIMessageChunk(
        "par",
        id="a2",
        tool_call_chunks=[
            {"name": "f", "args": '{"x": 1}', "id": "c1", "index": 0, "type": "tool_call_chunk"}
        ],
        usage_metadata=USAGE,
        chunk_position="last",
    ),
    ToolMessage("42", tool_call_id="c1", artifact={"raw": 42}, status="error", id="t1"),
    ChatMessage("hello", role="critic", id="x1"),
]


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: type(m).__name__)
def test_messages_round_trip_with_every_field(message: Any) -> None:
    converted = to_langchain(message)
    assert type(converted).__name__ == type(message).__name__
    assert type(converted).__module__.startswith("langchain_core.")
    for field in message._fields:
        assert getattr(converted, field) == getattr(message, field), field
    back = from_langchain(converted)
    assert type(back) is type(message)
    assert back == message


def test_langchain_chunks_keep_tool_call_chunks_and_add_up_the_same() -> None:
    a = lc.AIMessageChunk(
        content="", tool_call_chunks=[{"name": "f", "args": '{"x"', "id": "c", "index": 0}]
    )
    b = lc.AIMessageChunk(
        content="", tool_call_chunks=[{"name": None, "args": ": 1}", "id": None, "index": 0}]
    )
    ours = from_langchain(a) + from_langchain(b)
    assert (
        ours.tool_calls
        == (a + b).tool_calls
        == [{"name": "f", "args": {"x": 1}, "id": "c", "type": "tool_call"}]
    )


def test_prompt_values_generations_and_containers_convert() -> None:
    value = ChatPromptValue([HumanMessage("q")])
    lc_value = to_langchain(value)
    assert isinstance(lc_value, LCChatPromptValue)
    assert lc_value.to_messages() == [lc.HumanMessage("q")]
    assert from_langchain(lc_value) == value
    assert from_langchain(to_langchain(StringPromptValue("s"))) == StringPromptValue("s")
    gen = from_langchain(to_langchain(ChatGeneration(AIMessage("g"), {"i": 1})))
    assert gen == ChatGeneration(AIMessage("g"), {"i": 1})
    nested = {"a": [HumanMessage("x")], "b": (AIMessage("y"),), "n": 1}
    assert from_langchain(to_langchain(nested)) == nested


def test_documents_convert_both_ways_with_every_field() -> None:
    lc_doc = LCDocument(page_content="p", metadata={"k": [1, 2]}, id="d1")
    doc = from_langchain(lc_doc)
    assert type(doc) is Document
    assert (doc.page_content, doc.metadata, doc.id) == ("p", {"k": [1, 2]}, "d1")
    back = to_langchain(doc)
    assert type(back) is LCDocument
    assert back == lc_doc


def test_documents_convert_inside_lists_and_dicts_as_retrievers_return_them() -> None:
    docs = [Document("a", metadata={"s": 1}), Document("b", id="2")]
    nested = {"context": docs, "question": "q", "pair": (docs[0],)}
    lc_nested = to_langchain(nested)
    assert all(type(d) is LCDocument for d in lc_nested["context"])
    assert type(lc_nested["pair"][0]) is LCDocument
    assert [d.id for d in lc_nested["context"]] == [None, "2"]
    assert from_langchain(lc_nested) == nested
