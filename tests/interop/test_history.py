"""langchain-core's RunnableWithMessageHistory wrapping a runnables chain directly."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.chat_history import InMemoryChatMessageHistory
from langchain_core.messages import AIMessage as LCAIMessage
from langchain_core.messages import AIMessageChunk as LCAIMessageChunk
from langchain_core.runnables.history import RunnableWithMessageHistory

from runnables import RunnableLambda
from runnables.core.binding import RunnableBinding
from runnables.core.tracing import Run
from runnables.models.fake import FunctionChatModel
from runnables.prompts import ChatPromptTemplate, MessagesPlaceholder

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _answer_by_history_length(messages: list[Any]) -> str:
    # 1, 3, 5 messages in: the answer tells how much history reached the model.
    return ["one", "two", "three"][len(messages) // 2]


def _with_history(store: dict[str, InMemoryChatMessageHistory]) -> Any:
    chain = ChatPromptTemplate.from_messages(
        [MessagesPlaceholder("history"), ("human", "{question}")]
    ) | FunctionChatModel(_answer_by_history_length)

    def history(session_id: str) -> InMemoryChatMessageHistory:
        return store.setdefault(session_id, InMemoryChatMessageHistory())

    # The runnables chain itself, not chain.as_langchain().
    return RunnableWithMessageHistory(
        chain,  # type: ignore[arg-type]  # langchain-core's own type where runnables' is named: the interop under test
        history,
        input_messages_key="question",
        history_messages_key="history",
    )


async def test_wrapping_a_runnables_chain_directly_returns_messages_and_keeps_history() -> None:
    store: dict[str, InMemoryChatMessageHistory] = {}
    with_history = _with_history(store)
    config: Any = {"configurable": {"session_id": "s1"}}
    first = with_history.invoke({"question": "hi"}, config)
    assert type(first) is LCAIMessage and first.content == "one"
    second = await with_history.ainvoke({"question": "again"}, config)
    assert type(second) is LCAIMessage and second.content == "two"
    chunks = [c async for c in with_history.astream({"question": "more"}, config)]
    assert all(isinstance(c, LCAIMessageChunk) for c in chunks)
    assert "".join(c.text for c in chunks) == "three"
    assert [m.text for m in store["s1"].messages] == [
        "hi",
        "one",
        "again",
        "two",
        "more",
        "three",
    ]


def test_runnables_listeners_still_get_runnables_runs() -> None:
    runs: list[Any] = []
    bound = RunnableLambda(str.upper).with_listeners(on_end=runs.append)
    assert isinstance(bound, RunnableBinding)
    assert bound.invoke("a") == "A"
    assert type(runs[0]) is Run and runs[0].outputs == {"output": "A"}
