"""langchain-core callback handlers given straight in a runnables config (issue #9)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from langchain_core.callbacks import AsyncCallbackHandler, BaseCallbackHandler, CallbackManager
from langchain_core.messages import BaseMessage as LCBaseMessage
from langchain_core.outputs import ChatGenerationChunk

from runnables.models.fake import FakeListChatModel
from runnables.output_parsers import StrOutputParser
from runnables.prompts import ChatPromptTemplate


class _Recorder(BaseCallbackHandler):
    """Records what langchain-core would report: kind, name, parent, tags, metadata."""

    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []
        self.ids: dict[str, UUID] = {}

    def on_chain_start(
        self,
        serialized: Any,
        inputs: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kw: Any,
    ) -> None:
        self.events.append(("chain_start", kw.get("name"), parent_run_id))
        self.ids[str(kw.get("name"))] = run_id
        self.events.append(("meta", kw.get("name"), sorted(tags or []), dict(metadata or {})))

    def on_chat_model_start(
        self,
        serialized: Any,
        messages: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kw: Any,
    ) -> None:
        assert isinstance(messages[0][0], LCBaseMessage)
        self.events.append(("chat_model_start", kw.get("name"), parent_run_id))
        self.events.append(("meta", "model", sorted(tags or []), dict(metadata or {})))
        self.ids["model"] = run_id

    def on_llm_new_token(self, token: Any, *, run_id: UUID, **kw: Any) -> None:
        assert isinstance(kw.get("chunk"), ChatGenerationChunk)
        self.events.append(("token", token, run_id))

    def on_llm_end(self, response: Any, *, run_id: UUID, **kw: Any) -> None:
        self.events.append(("llm_end", response.generations[0][0].message.content, run_id))

    def on_chain_end(self, outputs: Any, *, run_id: UUID, **kw: Any) -> None:
        self.events.append(("chain_end", outputs, run_id))


class _AsyncRecorder(AsyncCallbackHandler):
    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    async def on_chat_model_start(self, serialized: Any, messages: Any, **kw: Any) -> None:
        self.events.append(("chat_model_start", kw.get("name")))

    async def on_llm_new_token(self, token: str | list[str | dict[str, Any]], **kw: Any) -> None:
        self.events.append(("token", token))

    async def on_llm_end(self, response: Any, **kw: Any) -> None:
        self.events.append(("llm_end", response.generations[0][0].message.content))


def _chain() -> Any:
    return (
        ChatPromptTemplate.from_messages([("human", "{q}")])
        | FakeListChatModel(responses=["ab"])
        | StrOutputParser()
    )


def _check_streamed(handler: _Recorder) -> None:
    kinds = [e[0] for e in handler.events if e[0] != "meta"]
    assert kinds[0] == "chain_start" and kinds.count("chat_model_start") == 1
    assert "chain_start" not in [e[0] for e in handler.events if e[1] == "FakeListChatModel"]
    tokens = [e[1] for e in handler.events if e[0] == "token"]
    assert [t for t in tokens if t] == ["a", "b"]
    assert all(e[2] == handler.ids["model"] for e in handler.events if e[0] == "token")
    start = next(e for e in handler.events if e[0] == "chat_model_start")
    assert start[2] == handler.ids["RunnableSequence"]
    assert ("llm_end", "ab", handler.ids["model"]) in handler.events
    assert ("chain_end", "ab", handler.ids["RunnableSequence"]) in handler.events


async def test_langchain_handler_in_a_runnables_config_sees_chat_model_runs_and_tokens() -> None:
    handler = _Recorder()
    chunks = [c async for c in _chain().astream({"q": "x"}, {"callbacks": [handler]})]
    assert "".join(chunks) == "ab"
    _check_streamed(handler)


def test_langchain_handler_in_a_sync_stream_sees_tokens() -> None:
    handler = _Recorder()
    assert "".join(_chain().stream({"q": "x"}, {"callbacks": [handler]})) == "ab"
    _check_streamed(handler)


def test_invoke_reports_the_chat_model_run_without_tokens_as_langchain_core_does() -> None:
    handler = _Recorder()
    assert _chain().invoke({"q": "x"}, {"callbacks": [handler]}) == "ab"
    assert [e[0] for e in handler.events if e[0] in ("chat_model_start", "llm_end")] == [
        "chat_model_start",
        "llm_end",
    ]
    # A plain handler does not make an invoked model stream (langchain-core's rule).
    assert not [e for e in handler.events if e[0] == "token"]


def test_tags_and_metadata_of_the_config_reach_every_run() -> None:
    handler = _Recorder()
    config: Any = {"callbacks": [handler], "tags": ["t1"], "metadata": {"user": "u"}}
    _chain().invoke({"q": "x"}, config)
    metas = [e for e in handler.events if e[0] == "meta"]
    assert {e[1] for e in metas} == {
        "RunnableSequence",
        "ChatPromptTemplate",
        "model",
        "StrOutputParser",
    }
    for _, _, tags, metadata in metas:
        assert "t1" in tags and metadata["user"] == "u"


async def test_an_async_langchain_handler_is_awaited_in_order() -> None:
    handler = _AsyncRecorder()
    chunks = [c async for c in _chain().astream({"q": "x"}, {"callbacks": [handler]})]
    assert "".join(chunks) == "ab"
    assert handler.events[0] == ("chat_model_start", "FakeListChatModel")
    assert [t for k, t in handler.events if k == "token" and t] == ["a", "b"]
    assert handler.events[-1] == ("llm_end", "ab")


async def test_a_langchain_callback_manager_as_callbacks() -> None:
    handler = _Recorder()
    manager = CallbackManager(handlers=[handler], inheritable_handlers=[handler])
    chunks = [c async for c in _chain().astream({"q": "x"}, {"callbacks": manager})]
    assert "".join(chunks) == "ab"
    _check_streamed(handler)


def test_other_handlers_next_to_langchain_ones_see_runs_as_langchain_reports_them() -> None:
    # One mapping for every handler: a duck-typed one sees the chat model as a chat-model
    # run, as the langchain-core handler next to it does, not as a chain.
    class Plain:
        def __init__(self) -> None:
            self.chains: list[str] = []
            self.chat_models: list[str] = []

        def on_chain_start(self, serialized: Any, inputs: Any, **kw: Any) -> None:
            self.chains.append(kw["name"])

        def on_chat_model_start(self, serialized: Any, messages: Any, **kw: Any) -> None:
            self.chat_models.append(kw["name"])

    plain, handler = Plain(), _Recorder()
    _chain().invoke({"q": "x"}, {"callbacks": [plain, handler]})
    assert plain.chat_models == ["FakeListChatModel"]
    assert "FakeListChatModel" not in plain.chains
    assert "RunnableSequence" in plain.chains
    assert any(e[0] == "chat_model_start" for e in handler.events)


async def test_custom_events_reach_langchain_handlers_with_the_step_run_id() -> None:
    from runnables import RunnableLambda, adispatch_custom_event

    class Custom(AsyncCallbackHandler):
        def __init__(self) -> None:
            self.seen: list[tuple[str, Any, UUID]] = []
            self.starts: dict[str, UUID] = {}

        async def on_chain_start(self, serialized: Any, inputs: Any, **kw: Any) -> None:
            self.starts[kw["name"]] = kw["run_id"]

        async def on_custom_event(self, name: str, data: Any, *, run_id: UUID, **kw: Any) -> None:
            self.seen.append((name, data, run_id))

    async def step(x: int) -> int:
        await adispatch_custom_event("progress", {"x": x})
        return x + 1

    handler = Custom()
    chain = RunnableLambda(step, name="step") | RunnableLambda(lambda x: x * 2)
    assert await chain.ainvoke(1, {"callbacks": [handler]}) == 4
    assert handler.seen == [("progress", {"x": 1}, handler.starts["step"])]


async def test_a_langchain_chat_model_step_is_a_chat_model_run_with_its_messages() -> None:
    from langchain_core.language_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage as LCAIMessage

    from runnables import RunnableLambda

    model = GenericFakeChatModel(messages=iter([LCAIMessage("hello big world")]))
    chain = (
        ChatPromptTemplate.from_messages([("human", "{q}")])
        | model
        | RunnableLambda(lambda m: m.content)
    )
    seen: list[Any] = []

    class Handler(BaseCallbackHandler):
        def on_chat_model_start(self, serialized: Any, messages: Any, **kw: Any) -> None:
            seen.append(("start", [m.content for m in messages[0]], kw["metadata"]))

        def on_llm_new_token(self, token: str | list[str | dict[str, Any]], **kw: Any) -> None:
            seen.append(("token", token))

        def on_llm_end(self, response: Any, **kw: Any) -> None:
            seen.append(("end", response.generations[0][0].message.content))

    chunks = [c async for c in chain.astream({"q": "hi"}, {"callbacks": [Handler()]})]
    assert "".join(chunks) == "hello big world"
    assert seen[0][:2] == ("start", ["hi"])
    assert seen[0][2]["ls_model_type"] == "chat"
    assert "".join(e[1] for e in seen if e[0] == "token") == "hello big world"
    assert seen[-1] == ("end", "hello big world")


def test_a_langchain_tracer_in_the_config_records_the_run_tree() -> None:
    from langchain_core.tracers.run_collector import RunCollectorCallbackHandler

    collector = RunCollectorCallbackHandler()
    assert _chain().invoke({"q": "x"}, {"callbacks": [collector]}) == "ab"
    (root,) = collector.traced_runs
    assert (root.name, root.run_type, root.outputs) == (
        "RunnableSequence",
        "chain",
        {"output": "ab"},
    )
    assert [(r.name, r.run_type) for r in root.child_runs] == [
        ("ChatPromptTemplate", "prompt"),
        ("FakeListChatModel", "llm"),
        ("StrOutputParser", "parser"),
    ]
    model_run = root.child_runs[1]
    # langchain-core's base tracers record a chat model's start as a prompt (their own
    # fallback from on_chat_model_start), as for an all-langchain-core chain.
    assert model_run.inputs == {"prompts": ["Human: x"]}
    assert model_run.outputs is not None
    assert model_run.outputs["generations"][0][0]["text"] == "ab"


async def test_a_bound_langchain_chat_model_step_is_a_chat_model_run_in_events() -> None:
    from langchain_core.language_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage as LCAIMessage

    from runnables import RunnableLambda

    # bind(), as bind_tools() does: langchain-core reports the model's run, not a chain.
    model = GenericFakeChatModel(messages=iter([LCAIMessage("hi there")])).bind(stop=["zz"])
    chain = RunnableLambda(lambda x: x) | model
    events = [e async for e in chain.astream_events("q", version="v2")]
    start = next(e for e in events if e["name"] == "GenericFakeChatModel")
    assert start["event"] == "on_chat_model_start"
    assert start["metadata"]["ls_stop"] == ["zz"]
    assert [m.content for m in start["data"]["input"]["messages"][0]] == ["q"]
    tokens = [e["data"]["chunk"].content for e in events if e["event"] == "on_chat_model_stream"]
    assert "".join(tokens) == "hi there"
