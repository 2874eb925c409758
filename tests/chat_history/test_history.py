"""Chat histories and RunnableWithMessageHistory."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import pytest

from runnables import FakeListChatModel, RunnableLambda
from runnables.chat_history import (
    BaseChatMessageHistory,
    InMemoryChatMessageHistory,
    RunnableWithMessageHistory,
)
from runnables.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage


def test_in_memory_history_stores_adds_and_clears() -> None:
    history = InMemoryChatMessageHistory()
    history.add_user_message("hi")
    history.add_ai_message(AIMessage("hello"))
    history.add_messages([HumanMessage("more")])
    assert history.messages == [HumanMessage("hi"), AIMessage("hello"), HumanMessage("more")]
    assert str(history) == "Human: hi\nAI: hello\nHuman: more"
    history.clear()
    assert history.messages == []


async def test_in_memory_history_async_methods() -> None:
    history = InMemoryChatMessageHistory(messages=[HumanMessage("a")])
    await history.aadd_messages([AIMessage("b")])
    assert await history.aget_messages() == [HumanMessage("a"), AIMessage("b")]
    await history.aclear()
    assert history.messages == []


class _SyncStore(BaseChatMessageHistory):
    """A history with only sync methods, recording the thread each one ran on."""

    def __init__(self) -> None:
        self.messages: list[BaseMessage] = []
        self.threads: list[int] = []

    def add_messages(self, messages: Sequence[BaseMessage]) -> None:
        self.threads.append(threading.get_ident())
        self.messages.extend(messages)

    def clear(self) -> None:
        self.messages = []


def test_a_history_implementing_only_add_messages_gets_the_helpers() -> None:
    store = _SyncStore()
    store.add_user_message("x")
    store.add_message(AIMessage("y"))
    assert store.messages == [HumanMessage("x"), AIMessage("y")]


async def test_a_sync_only_history_runs_off_the_event_loop_in_async_code() -> None:
    store = _SyncStore()
    await store.aadd_messages([HumanMessage("x")])
    assert store.threads and threading.get_ident() not in store.threads


def _sessions() -> tuple[dict[str, InMemoryChatMessageHistory], Any]:
    store: dict[str, InMemoryChatMessageHistory] = {}

    def get(session_id: str) -> InMemoryChatMessageHistory:
        return store.setdefault(session_id, InMemoryChatMessageHistory())

    return store, get


def _cfg(session: str) -> Any:
    return {"configurable": {"session_id": session}}


def test_history_is_read_before_and_appended_after_each_call_per_session() -> None:
    store, get = _sessions()
    seen: list[list[str]] = []

    def reply(messages: list[BaseMessage]) -> str:
        seen.append([m.text for m in messages])
        return f"you said {messages[-1].text}"

    chat = RunnableWithMessageHistory(RunnableLambda(reply), get)
    assert chat.invoke("hi", _cfg("a")) == "you said hi"
    assert chat.invoke([HumanMessage("again")], _cfg("a")) == "you said again"
    assert chat.invoke("other", _cfg("b")) == "you said other"
    assert seen == [["hi"], ["hi", "you said hi", "again"], ["other"]]
    assert store["a"].messages == [
        HumanMessage("hi"),
        AIMessage("you said hi"),
        HumanMessage("again"),
        AIMessage("you said again"),
    ]


async def test_dict_input_with_input_and_history_keys() -> None:
    store, get = _sessions()
    store["s"] = InMemoryChatMessageHistory(messages=[SystemMessage("be brief")])

    def answer(d: dict[str, Any]) -> dict[str, Any]:
        return {"answer": AIMessage(f"{len(d['history'])} before {d['question']}"), "n": 1}

    chat = RunnableWithMessageHistory(
        RunnableLambda(answer),
        get,
        input_messages_key="question",
        history_messages_key="history",
        output_messages_key="answer",
    )
    out = await chat.ainvoke({"question": "why?"}, _cfg("s"))
    assert out["answer"] == AIMessage("1 before why?")
    assert store["s"].messages[1:] == [HumanMessage("why?"), AIMessage("1 before why?")]


def test_streaming_records_the_whole_reply_once_the_stream_ends() -> None:
    store, get = _sessions()
    chat = RunnableWithMessageHistory(FakeListChatModel(responses=["hello there"]), get)
    chunks = list(chat.stream("hi", _cfg("a")))
    assert "".join(c.text for c in chunks) == "hello there"
    assert [type(m) for m in store["a"].messages] == [HumanMessage, AIMessage]
    assert store["a"].messages[1].text == "hello there"


def test_a_failed_call_records_nothing() -> None:
    store, get = _sessions()

    def boom(messages: list[BaseMessage]) -> str:
        raise RuntimeError("down")

    chat = RunnableWithMessageHistory(RunnableLambda(boom), get)
    with pytest.raises(RuntimeError, match="down"):
        chat.invoke("hi", _cfg("a"))
    assert store["a"].messages == []


def test_a_missing_session_id_is_an_error_showing_the_config_to_pass() -> None:
    _, get = _sessions()
    chat = RunnableWithMessageHistory(RunnableLambda(lambda m: "x"), get)
    with pytest.raises(ValueError, match=r"Missing keys \['session_id'\]"):
        chat.invoke("hi")


def test_custom_history_factory_config_passes_keys_by_name() -> None:
    from runnables import ConfigurableFieldSpec

    histories: dict[tuple[str, str], InMemoryChatMessageHistory] = {}

    def get(user_id: str, conversation_id: str) -> InMemoryChatMessageHistory:
        return histories.setdefault((user_id, conversation_id), InMemoryChatMessageHistory())

    chat = RunnableWithMessageHistory(
        RunnableLambda(lambda m: "ok"),
        get,
        history_factory_config=[
            ConfigurableFieldSpec(id="user_id", annotation=str),
            ConfigurableFieldSpec(id="conversation_id", annotation=str),
        ],
    )
    chat.invoke("hi", {"configurable": {"user_id": "u", "conversation_id": "c"}})
    assert histories[("u", "c")].messages == [HumanMessage("hi"), AIMessage("ok")]
    assert {s.id for s in chat.config_specs} == {"user_id", "conversation_id"}


def test_input_schema_names_the_messages_key_as_langchain_core_does() -> None:
    _, get = _sessions()
    keyed = RunnableWithMessageHistory(
        RunnableLambda(lambda d: "x"), get, input_messages_key="question"
    )
    schema = keyed.get_input_schema().model_json_schema()
    assert schema["title"] == "RunnableWithChatHistoryInput"
    assert schema["required"] == ["question"]
    plain = RunnableWithMessageHistory(RunnableLambda(lambda m: "x"), get)
    assert plain.get_input_schema().model_json_schema()["type"] == "array"


def test_a_reply_that_is_not_messages_is_an_error_saying_what_is_expected() -> None:
    _, get = _sessions()
    chat = RunnableWithMessageHistory(RunnableLambda(lambda m: 123), get)
    with pytest.raises(ValueError, match=r"Expected str, BaseMessage.*Got 123"):
        chat.invoke("hi", _cfg("a"))


def test_bound_takes_the_history_from_the_config_as_langchain_core() -> None:
    history = InMemoryChatMessageHistory()
    chat = RunnableWithMessageHistory(
        RunnableLambda(lambda msgs: f"seen {len(msgs)}"), lambda session_id: history
    )
    other = InMemoryChatMessageHistory()
    config: Any = {"configurable": {"session_id": "1", "message_history": other}}
    assert chat.bound.invoke([HumanMessage("hi")], config) == "seen 1"
    assert other.messages == [HumanMessage("hi"), AIMessage("seen 1")]
    assert history.messages == []
    with pytest.raises(ValueError, match=r"needs the chat history in config\['configurable'\]"):
        chat.bound.invoke([HumanMessage("hi")], {"configurable": {"session_id": "1"}})


def test_output_messages_are_read_through_an_overridable_method() -> None:
    seen: list[Any] = []
    chat = RunnableWithMessageHistory(
        RunnableLambda(lambda msgs: "ok"), lambda: InMemoryChatMessageHistory()
    )
    original = chat._get_output_messages

    def spy(value: Any) -> list[BaseMessage]:
        seen.append(value)
        return original(value)

    chat.__dict__["_get_output_messages"] = spy
    chat.invoke("hi")
    assert seen == ["ok"]


def test_output_schema_is_langchain_cores() -> None:
    plain = RunnableWithMessageHistory(RunnableLambda(lambda m: m), lambda: None)  # type: ignore[arg-type,return-value]
    keyed = RunnableWithMessageHistory(
        RunnableLambda(lambda d: d),
        lambda: None,  # type: ignore[arg-type,return-value]
        input_messages_key="input",
        history_messages_key="history",
    )
    assert keyed.get_output_schema().model_json_schema() == {
        "additionalProperties": True,
        "title": "RunnableWithChatHistoryOutput",
        "type": "object",
    }
    plain_schema = plain.get_output_schema().model_json_schema()
    assert plain_schema["title"] == "RunnableWithChatHistoryOutput"
    assert plain_schema["type"] == "array"


def test_chat_history_classes_say_langchain_core_deprecated_them() -> None:
    for cls in (BaseChatMessageHistory, InMemoryChatMessageHistory):
        assert "deprecated" in (cls.__doc__ or "")
        assert "https://docs.langchain.com/oss/python/langchain/short-term-memory" in (
            cls.__doc__ or ""
        )
