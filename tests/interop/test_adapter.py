"""runnables chains inside LangChain through ``as_langchain()`` (issue #9, part 2)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Annotated, Any, TypedDict
from uuid import UUID

import uvicorn
from fastapi import FastAPI
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.chat_history import InMemoryChatMessageHistory
from langchain_core.messages import AIMessage as LCAIMessage
from langchain_core.messages import AIMessageChunk as LCAIMessageChunk
from langchain_core.messages import BaseMessage as LCBaseMessage
from langchain_core.messages import HumanMessage as LCHumanMessage
from langchain_core.runnables import RunnableConfig as LCConfig
from langchain_core.runnables import RunnableLambda as LCLambda
from langchain_core.runnables.history import RunnableWithMessageHistory
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langserve import RemoteRunnable, add_routes

from runnables import RunnableLambda
from runnables.core.base import coerce_to_runnable
from runnables.models.fake import FakeListChatModel
from runnables.output_parsers import StrOutputParser
from runnables.prompts import ChatPromptTemplate, MessagesPlaceholder


def test_as_langchain_delegates_and_composes_with_langchain_core_steps() -> None:
    chain = RunnableLambda(str.strip) | RunnableLambda(str.upper)
    lc = chain.as_langchain()
    assert lc.invoke(" a ") == "A"
    assert lc.batch([" a ", "b "]) == ["A", "B"]
    assert list(lc.stream(" ab ")) == ["AB"]
    mixed = LCLambda(lambda s: s + " ") | lc | LCLambda(lambda s: s + "!")
    assert mixed.invoke("x") == "X!"
    # Coming back into runnables gives the chain itself: no double crossing.
    assert coerce_to_runnable(lc) is chain


async def test_as_langchain_converts_messages_at_the_boundary() -> None:
    model = FakeListChatModel(responses=["hello there"])
    lc = model.as_langchain()
    out = await lc.ainvoke([LCHumanMessage("hi")])
    assert isinstance(out, LCAIMessage) and out.content == "hello there"
    chunks = [c async for c in lc.astream("hi")]
    assert all(isinstance(c, LCAIMessageChunk) for c in chunks)
    assert "".join(c.text for c in chunks) == "hello there"


class _Recorder(BaseCallbackHandler):
    def __init__(self) -> None:
        self.events: list[tuple[str, Any, UUID | None]] = []
        self.ids: dict[str, UUID] = {}

    def on_chain_start(
        self,
        serialized: Any,
        inputs: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kw: Any,
    ) -> None:
        self.events.append(("chain_start", kw.get("name"), parent_run_id))
        self.ids[str(kw.get("name"))] = run_id

    def on_chat_model_start(
        self,
        serialized: Any,
        messages: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kw: Any,
    ) -> None:
        assert isinstance(messages[0][0], LCBaseMessage)
        self.events.append(("chat_model_start", kw.get("name"), parent_run_id))
        self.ids["model"] = run_id

    def on_llm_new_token(self, token: Any, *, run_id: UUID, **kw: Any) -> None:
        self.events.append(("token", token, run_id))

    def on_llm_end(self, response: Any, *, run_id: UUID, **kw: Any) -> None:
        self.events.append(("llm_end", response.generations[0][0].message.content, run_id))

    def on_chain_end(self, outputs: Any, *, run_id: UUID, **kw: Any) -> None:
        self.events.append(("chain_end", outputs, run_id))


async def test_langchain_callbacks_see_chat_model_runs_and_tokens() -> None:
    chain = (
        ChatPromptTemplate.from_messages([("human", "{q}")])
        | FakeListChatModel(responses=["ab"])
        | StrOutputParser()
    )
    handler = _Recorder()
    chunks = [c async for c in chain.as_langchain().astream({"q": "x"}, {"callbacks": [handler]})]
    assert "".join(chunks) == "ab"
    kinds = [e[0] for e in handler.events]
    assert kinds[0] == "chain_start" and kinds.count("chat_model_start") == 1
    tokens = [e[1] for e in handler.events if e[0] == "token"]
    assert "".join(tokens) == "ab" and len([t for t in tokens if t]) == 2
    start = next(e for e in handler.events if e[0] == "chat_model_start")
    assert start[2] == handler.ids["RunnableSequence"]
    assert ("llm_end", "ab", handler.ids["model"]) in handler.events


# ---------------------------------------------------------------------- LangGraph


class _State(TypedDict):
    messages: Annotated[list[Any], add_messages]


def _graph() -> Any:
    model = FakeListChatModel(responses=["one two three"])
    respond = (
        RunnableLambda[dict[str, Any], list[Any]](lambda state: state["messages"])
        | model
        | RunnableLambda(lambda message: {"messages": [message]})
    )
    builder = StateGraph(_State)
    builder.add_node("respond", respond.as_langchain())
    builder.add_edge(START, "respond")
    builder.add_edge("respond", END)
    return builder.compile()


async def test_langgraph_messages_mode_gets_runnables_tokens_one_by_one() -> None:
    graph = _graph()
    pieces: list[tuple[Any, dict[str, Any]]] = [
        item
        async for item in graph.astream({"messages": [("human", "hi")]}, stream_mode="messages")
    ]
    texts: list[str] = []
    for m, _ in pieces:
        if isinstance(m, LCAIMessageChunk) and m.content:
            assert isinstance(m.content, str)  # text chunks, not content blocks
            texts.append(m.content)
    assert "".join(texts) == "one two three"
    assert len(texts) == len("one two three")  # one chunk per character: token by token
    assert all(meta["langgraph_node"] == "respond" for _, meta in pieces)
    final = await graph.ainvoke({"messages": [("human", "hi")]})
    assert final["messages"][-1].content == "one two three"
    assert isinstance(final["messages"][-1], LCAIMessage)


def test_langgraph_sync_stream_messages_mode() -> None:
    pieces = list(_graph().stream({"messages": [("human", "hi")]}, stream_mode="messages"))
    texts = [m.content for m, _ in pieces if m.content]
    assert "".join(texts) == "one two three" and len(texts) > 1


# ---------------------------------------------------------------------- history


def test_runnable_with_message_history_wraps_a_runnables_chain() -> None:
    prompt = ChatPromptTemplate.from_messages(
        [MessagesPlaceholder("history"), ("human", "{question}")]
    )
    seen: list[int] = []

    def answer(messages: Any) -> str:
        seen.append(len(messages.to_messages()))
        return "ok"

    chain = prompt | RunnableLambda(answer) | RunnableLambda(lambda s: LCAIMessage(s))
    store: dict[str, InMemoryChatMessageHistory] = {}

    def history(session_id: str) -> InMemoryChatMessageHistory:
        return store.setdefault(session_id, InMemoryChatMessageHistory())

    with_history = RunnableWithMessageHistory(
        chain.as_langchain(),
        history,
        input_messages_key="question",
        history_messages_key="history",
    )
    config: LCConfig = {"configurable": {"session_id": "s1"}}
    first = with_history.invoke({"question": "hi"}, config)
    assert isinstance(first, LCAIMessage) and first.content == "ok"
    with_history.invoke({"question": "again"}, config)
    assert seen == [1, 3]
    assert [m.content for m in store["s1"].messages] == ["hi", "ok", "again", "ok"]


# ---------------------------------------------------------------------- LangServe


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:
        pass


def _serve(app: FastAPI) -> Iterator[str]:
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning")
    server = _Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(1000):
            if server.started:
                break
            threading.Event().wait(0.01)
        assert server.started, "uvicorn did not start"
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_langserve_add_routes_serves_as_langchain() -> None:
    chain = (
        ChatPromptTemplate.from_messages([("human", "Say {word}")])
        | FakeListChatModel(responses=["hello world"])
        | StrOutputParser()
    )
    app = FastAPI()
    add_routes(app, chain.as_langchain(), path="/chain")
    for url in _serve(app):
        remote: RemoteRunnable[dict[str, str], str] = RemoteRunnable(f"{url}/chain/")
        assert remote.invoke({"word": "hi"}) == "hello world"
        assert remote.batch([{"word": "a"}, {"word": "b"}]) == ["hello world"] * 2
        chunks = list(remote.stream({"word": "hi"}))
        assert "".join(chunks) == "hello world" and len(chunks) > 1


async def test_a_langchain_tracing_handler_sees_the_run_tree() -> None:
    from langchain_core.tracers.context import collect_runs

    chain = (
        ChatPromptTemplate.from_messages([("human", "{q}")])
        | FakeListChatModel(responses=["ab"])
        | StrOutputParser()
    )
    outer = LCLambda(lambda x: x) | chain.as_langchain()
    with collect_runs() as collector:
        assert await outer.ainvoke({"q": "x"}) == "ab"
    (root,) = collector.traced_runs
    (_, inner) = root.child_runs
    assert [(r.name, r.run_type) for r in inner.child_runs] == [
        ("ChatPromptTemplate", "prompt"),
        ("FakeListChatModel", "llm"),
        ("StrOutputParser", "parser"),
    ]
    model_run = inner.child_runs[1]
    assert model_run.outputs is not None
    assert model_run.outputs["generations"][0][0]["text"] == "ab"
    assert inner.outputs == {"output": "ab"}


async def test_langchain_astream_events_of_as_langchain() -> None:
    chain = (
        ChatPromptTemplate.from_messages([("human", "{q}")])
        | FakeListChatModel(responses=["ab"])
        | StrOutputParser()
    )
    events = [e async for e in chain.as_langchain().astream_events({"q": "x"}, version="v2")]
    kinds = [e["event"] for e in events]
    assert kinds[0] == "on_chain_start" and kinds[-1] == "on_chain_end"
    tokens = [e["data"]["chunk"] for e in events if e["event"] == "on_chat_model_stream"]
    assert [t.content for t in tokens if t.content] == ["a", "b"]
    assert all(isinstance(t, LCAIMessageChunk) for t in tokens)
    assert events[-1]["data"]["output"] == "ab"
