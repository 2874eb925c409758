"""Handlers in a call's config see its runs as langchain-core reports them."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

import pytest

from runnables import RunnableLambda
from runnables.callbacks import (
    AsyncCallbackHandler,
    BaseCallbackHandler,
    CallbackManager,
    StdOutCallbackHandler,
    atrace_as_chain_group,
    get_usage_metadata_callback,
    trace_as_chain_group,
)
from runnables.messages import AIMessage, AIMessageChunk
from runnables.models import ChatGenerationChunk, LLMResult
from runnables.models.fake import FakeListChatModel, GenericFakeChatModel
from runnables.output_parsers import StrOutputParser
from runnables.prompts import ChatPromptTemplate


class Recorder(BaseCallbackHandler):
    """Records every event with its run id and parent run id."""

    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []

    def _add(self, kind: str, value: Any, kw: dict[str, Any]) -> None:
        self.events.append((kind, value, kw.get("run_id"), kw.get("parent_run_id"), kw))

    def on_chain_start(self, serialized: Any, inputs: Any, **kw: Any) -> None:
        # trace_as_chain_group names its run in ``serialized`` only, as langchain-core does.
        self._add("chain_start", kw.get("name") or (serialized or {}).get("name"), kw)

    def on_chain_end(self, outputs: Any, **kw: Any) -> None:
        self._add("chain_end", outputs, kw)

    def on_chain_error(self, error: BaseException, **kw: Any) -> None:
        self._add("chain_error", error, kw)

    def on_chat_model_start(self, serialized: Any, messages: Any, **kw: Any) -> None:
        self._add("chat_model_start", messages, kw)

    def on_llm_new_token(self, token: str, **kw: Any) -> None:
        self._add("token", (token, kw.get("chunk")), kw)

    def on_llm_end(self, response: Any, **kw: Any) -> None:
        self._add("llm_end", response, kw)

    def on_llm_error(self, error: BaseException, **kw: Any) -> None:
        self._add("llm_error", error, kw)

    def on_custom_event(self, name: str, data: Any, **kw: Any) -> None:
        self._add("custom", (name, data), kw)

    def kinds(self) -> list[str]:
        return [e[0] for e in self.events]


def _chain() -> Any:
    prompt = ChatPromptTemplate.from_messages([("human", "{q}")])
    return prompt | FakeListChatModel(responses=["ab"]) | StrOutputParser()


def test_own_handlers_see_a_chat_model_as_a_chat_model_run() -> None:
    handler = Recorder()
    assert _chain().invoke({"q": "x"}, {"callbacks": [handler]}) == "ab"
    chat = next(e for e in handler.events if e[0] == "chat_model_start")
    messages = chat[1]
    assert len(messages) == 1 and messages[0][0].content == "x"
    end = next(e for e in handler.events if e[0] == "llm_end")
    result = end[1]
    assert isinstance(result, LLMResult)
    assert result.generations[0][0].message == AIMessage(
        "ab", id=result.generations[0][0].message.id
    )
    assert end[2] == chat[2]  # same run id
    root = handler.events[0]
    assert root[0] == "chain_start" and root[3] is None
    assert chat[3] == root[2]  # the model's parent is the sequence
    assert "token" not in handler.kinds()  # invoked: no tokens, as in langchain-core


async def test_streaming_reports_each_token_with_its_chunk() -> None:
    handler = Recorder()
    chunks = [c async for c in _chain().astream({"q": "x"}, {"callbacks": [handler]})]
    assert "".join(chunks) == "ab"
    tokens = [e[1] for e in handler.events if e[0] == "token"]
    assert [t for t, _ in tokens] == ["a", "b"]
    assert all(isinstance(c, ChatGenerationChunk) for _, c in tokens)
    assert isinstance(tokens[0][1].message, AIMessageChunk)


def test_a_callback_manager_as_callbacks_nests_runs_under_its_parent() -> None:
    handler = Recorder()
    with trace_as_chain_group("group", CallbackManager.configure([handler])) as manager:
        assert RunnableLambda[int, int](lambda x: x + 1).invoke(1, {"callbacks": manager}) == 2
    group_start, lambda_start = handler.events[0], handler.events[1]
    assert group_start[1] == "group"
    assert lambda_start[1] == "RunnableLambda"
    assert lambda_start[3] == group_start[2]
    assert handler.events[-1][0] == "chain_end" and handler.events[-1][1] == {}
    assert handler.events[-1][2] == group_start[2]


async def test_atrace_as_chain_group_ends_with_the_error_raised_in_it() -> None:
    from runnables.callbacks import AsyncCallbackManager

    handler = Recorder()
    given = AsyncCallbackManager.configure([handler])
    with pytest.raises(ValueError, match="bad"):
        async with atrace_as_chain_group("g", given, tags=["t"]) as manager:
            assert manager.tags == ["t"]
            raise ValueError("bad")
    assert handler.kinds() == ["chain_start", "chain_error"]
    assert handler.events[0][4]["tags"] == ["t"]


async def test_async_handlers_are_awaited_in_order_before_the_step_goes_on() -> None:
    order: list[str] = []

    class Slow(AsyncCallbackHandler):
        async def on_chain_start(self, serialized: Any, inputs: Any, **kw: Any) -> None:
            await asyncio.sleep(0)
            order.append(f"start {kw['name']}")

    def step(x: int) -> int:
        order.append("step ran")
        return x

    await RunnableLambda(step, name="s").ainvoke(1, {"callbacks": [Slow()]})
    assert order == ["start s", "step ran"]


def test_raise_error_fails_the_call_and_ignore_flags_are_honoured() -> None:
    class Strict(BaseCallbackHandler):
        raise_error = True

        def on_chain_start(self, serialized: Any, inputs: Any, **kw: Any) -> None:
            raise RuntimeError("handler says no")

    with pytest.raises(RuntimeError, match="handler says no"):
        RunnableLambda(lambda x: x).invoke(1, {"callbacks": [Strict()]})

    class NoChains(Recorder):
        @property
        def ignore_chain(self) -> bool:
            return True

    quiet = NoChains()
    _chain().invoke({"q": "x"}, {"callbacks": [quiet]})
    assert set(quiet.kinds()) == {"chat_model_start", "llm_end"}


def test_a_duck_typed_handler_gets_the_methods_it_has() -> None:
    class Duck:
        def __init__(self) -> None:
            self.names: list[str] = []

        def on_chain_start(self, serialized: Any, inputs: Any, **kw: Any) -> None:
            self.names.append(kw["name"])

    duck = Duck()
    _chain().invoke({"q": "x"}, {"callbacks": [duck]})
    assert duck.names == ["RunnableSequence", "ChatPromptTemplate", "StrOutputParser"]


def test_custom_events_reach_handlers_with_the_step_run_id() -> None:
    from runnables.callbacks import dispatch_custom_event

    def step(x: int) -> int:
        dispatch_custom_event("progress", {"x": x})
        return x

    handler = Recorder()
    RunnableLambda(step).invoke(3, {"callbacks": [handler]})
    custom = next(e for e in handler.events if e[0] == "custom")
    assert custom[1] == ("progress", {"x": 3})
    assert custom[2] == handler.events[0][2]


def test_stdout_handler_prints_chain_starts_and_ends(capsys: pytest.CaptureFixture[str]) -> None:
    RunnableLambda(lambda x: x, name="echo").invoke(1, {"callbacks": [StdOutCallbackHandler()]})
    out = capsys.readouterr().out
    assert "> Entering new echo chain..." in out
    assert "> Finished chain." in out


def test_usage_callback_adds_up_usage_per_model() -> None:
    message = AIMessage(
        "hi",
        usage_metadata={"input_tokens": 1, "output_tokens": 2, "total_tokens": 3},
        response_metadata={"model_name": "m"},
    )
    model = GenericFakeChatModel(messages=iter([message, message]))
    with get_usage_metadata_callback() as cb:
        model.invoke("a")
        model.invoke("b")
    assert cb.usage_metadata == {"m": {"input_tokens": 2, "output_tokens": 4, "total_tokens": 6}}
    model2 = GenericFakeChatModel(messages=iter([message]))
    model2.invoke("c")  # outside the block: not counted
    assert cb.usage_metadata["m"]["total_tokens"] == 6


def test_a_model_error_is_reported_as_llm_error() -> None:
    from runnables.models.fake import FakeListChatModelError

    handler = Recorder()
    model = FakeListChatModel(responses=["abc"], error_on_chunk_number=1)
    with pytest.raises(FakeListChatModelError):
        list(model.stream("x", {"callbacks": [handler]}))
    assert handler.kinds()[-1] == "llm_error"
    assert isinstance(handler.events[-1][2], UUID)


def test_a_step_passing_its_config_on_reports_the_nested_run_once_under_it() -> None:
    handler = Recorder()
    inner = RunnableLambda(lambda x: x, name="inner")

    def outer(x: int, config: Any) -> Any:
        return inner.invoke(x, config)

    RunnableLambda(outer, name="outer").invoke(1, {"callbacks": [handler]})
    starts = [e for e in handler.events if e[0] == "chain_start"]
    assert [e[1] for e in starts] == ["outer", "inner"]
    assert starts[1][3] == starts[0][2]


def test_config_helpers_give_a_manager_with_the_config_handlers_tags_and_metadata() -> None:
    from runnables.core.config import (
        get_async_callback_manager_for_config,
        get_callback_manager_for_config,
    )

    handler = Recorder()
    config: Any = {"callbacks": [handler], "tags": ["t"], "metadata": {"k": 1}}
    manager = get_callback_manager_for_config(config)
    assert manager.handlers == [handler]
    assert (manager.tags, manager.metadata) == (["t"], {"k": 1})
    assert get_async_callback_manager_for_config(config).is_async


def test_a_tool_function_declaring_callbacks_gets_the_call_callbacks() -> None:
    from runnables.tools import tool

    handler = Recorder()
    inner = RunnableLambda[str, str](lambda x: x, name="inner")

    @tool
    def lookup(query: str, callbacks: Any) -> str:
        """Look the query up."""
        return inner.invoke(query, {"callbacks": callbacks})

    assert lookup.invoke({"query": "q"}, {"callbacks": [handler]}) == "q"
    starts = [e for e in handler.events if e[0] == "chain_start"]
    assert [e[1] for e in starts] == ["inner"]  # reported once, under the tool's run
    assert starts[0][3] is not None


class ToolStarts(BaseCallbackHandler):
    """Records what each on_tool_start receives."""

    def __init__(self) -> None:
        self.starts: list[tuple[str, Any, Any]] = []

    def on_tool_start(self, serialized: Any, input_str: str, **kw: Any) -> None:
        self.starts.append((input_str, kw.get("inputs"), kw.get("tool_call_id", "missing")))


@pytest.mark.parametrize("call_id", ["call-1", ""])
async def test_on_tool_start_gets_the_tool_call_id_and_its_arguments(call_id: str) -> None:
    from runnables.tools import tool

    @tool
    def echo(query: str) -> str:
        """Echo the query."""
        return query

    handler = ToolStarts()
    call = {"name": "echo", "args": {"query": "q"}, "id": call_id, "type": "tool_call"}
    echo.invoke(call, {"callbacks": [handler]})
    await echo.ainvoke(call, {"callbacks": [handler]})
    echo.run({"query": "q"}, callbacks=[handler], tool_call_id=call_id)
    echo.invoke({"query": "q"}, {"callbacks": [handler]})
    # An empty id is an id (langchain-core passes it as given); a plain dict has none.
    assert handler.starts == [("{'query': 'q'}", {"query": "q"}, call_id)] * 3 + [
        ("{'query': 'q'}", {"query": "q"}, None)
    ]


async def test_tool_run_passes_its_extra_keyword_arguments_to_on_tool_start_only() -> None:
    from runnables.tools import tool

    class Extras(BaseCallbackHandler):
        def __init__(self) -> None:
            self.seen: list[tuple[Any, Any]] = []

        def on_tool_start(self, serialized: Any, input_str: str, **kw: Any) -> None:
            self.seen.append((kw["name"], kw.get("color")))

    handler = Extras()

    @tool
    def inner(query: str) -> str:
        """Inner."""
        return query

    @tool
    def outer(query: str) -> str:
        """Outer: calls inner, which reports under this run."""
        return str(inner.invoke({"query": query}))

    @tool
    async def later(query: str) -> str:
        """Async-only."""
        return query

    assert outer.run({"query": "q"}, callbacks=[handler], color="red") == "q"
    assert await later.arun({"query": "q"}, callbacks=[handler], color="blue") == "q"
    await asyncio.to_thread(later.run, {"query": "q"}, callbacks=[handler], color="green")
    # As langchain-core: the run's own start gets them; a tool its function calls does not.
    assert handler.seen == [
        ("outer", "red"),
        ("inner", None),
        ("later", "blue"),
        ("later", "green"),
    ]


def test_a_tool_function_declaring_callbacks_gets_a_manager_without_handlers() -> None:
    from runnables.callbacks import CallbackManager
    from runnables.tools import tool

    @tool
    def lookup(query: str, callbacks: Any = None) -> str:
        """Look the query up."""
        assert isinstance(callbacks, CallbackManager)
        return query

    assert lookup.invoke({"query": "q"}) == "q"
    assert lookup.run("q", run_manager=None) == "q"
