"""Callback managers and run managers: langchain-core's interface, runnables' handlers."""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID, uuid4

import pytest

from runnables.callbacks import (
    AsyncCallbackHandler,
    AsyncCallbackManager,
    BaseCallbackHandler,
    CallbackManager,
    CallbackManagerForChainRun,
)


class Recorder(BaseCallbackHandler):
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any, dict[str, Any]]] = []

    def on_chain_start(self, serialized: Any, inputs: Any, **kw: Any) -> None:
        self.calls.append(("chain_start", inputs, kw))

    def on_chain_end(self, outputs: Any, **kw: Any) -> None:
        self.calls.append(("chain_end", outputs, kw))

    def on_llm_start(self, serialized: Any, prompts: Any, **kw: Any) -> None:
        self.calls.append(("llm_start", prompts, kw))


def test_on_chain_start_calls_handlers_and_returns_a_run_manager_with_the_ids() -> None:
    handler = Recorder()
    parent = uuid4()
    manager = CallbackManager([handler], [handler], parent, tags=["t"], metadata={"k": 1})
    run = manager.on_chain_start({"name": "x"}, {"q": 1}, name="x")
    assert isinstance(run, CallbackManagerForChainRun)
    kind, inputs, kw = handler.calls[0]
    assert (kind, inputs) == ("chain_start", {"q": 1})
    assert kw["run_id"] == run.run_id
    assert kw["parent_run_id"] == parent
    assert kw["tags"] == ["t"]
    assert kw["metadata"] == {"k": 1}
    assert kw["name"] == "x"
    run.on_chain_end({"a": 1})
    assert handler.calls[1][0] == "chain_end"
    assert handler.calls[1][2]["run_id"] == run.run_id


def test_get_child_passes_inheritable_handlers_tags_and_metadata_only() -> None:
    inherited, local = Recorder(), Recorder()
    manager = CallbackManager.configure(
        [inherited],
        [local],
        inheritable_tags=["outer"],
        local_tags=["mine"],
        inheritable_metadata={"a": 1},
        local_metadata={"b": 2},
    )
    assert manager.handlers == [inherited, local]
    assert manager.tags == ["outer", "mine"]
    assert manager.metadata == {"a": 1, "b": 2}
    run = manager.on_chain_start(None, {})
    child = run.get_child("seq:step:1")
    assert child.parent_run_id == run.run_id
    assert child.handlers == [inherited]
    assert child.tags == ["outer", "seq:step:1"]
    assert child.inheritable_tags == ["outer"]
    assert child.metadata == {"a": 1}


def test_configure_from_a_manager_keeps_its_parent_run() -> None:
    handler = Recorder()
    parent_run = CallbackManager([handler], [handler]).on_chain_start(None, {})
    configured = CallbackManager.configure(parent_run.get_child())
    configured.on_chain_start(None, 1)
    assert handler.calls[-1][2]["parent_run_id"] == parent_run.run_id


def test_configure_rejects_a_single_handler_with_a_sentence() -> None:
    with pytest.raises(TypeError, match=r"Pass \[handler\]"):
        CallbackManager.configure(Recorder())  # type: ignore[arg-type]


def test_ignore_flags_leave_a_handler_out_of_those_runs() -> None:
    class NoChains(Recorder):
        @property
        def ignore_chain(self) -> bool:
            return True

    handler = NoChains()
    CallbackManager([handler]).on_chain_start(None, {})
    assert handler.calls == []


def test_a_failing_handler_is_logged_unless_it_asks_to_raise(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Fails(BaseCallbackHandler):
        def on_chain_start(self, serialized: Any, inputs: Any, **kw: Any) -> None:
            raise RuntimeError("boom")

    after = Recorder()
    with caplog.at_level(logging.WARNING, logger="runnables"):
        CallbackManager([Fails(), after]).on_chain_start(None, {})
    assert "Error in Fails.on_chain_start callback" in caplog.text
    assert after.calls  # the next handler still ran

    strict = Fails()
    strict.raise_error = True
    with pytest.raises(RuntimeError, match="boom"):
        CallbackManager([strict]).on_chain_start(None, {})


def test_a_handler_without_chat_model_start_gets_llm_start_with_the_text() -> None:
    from runnables.messages import HumanMessage

    class LLMOnly(Recorder):
        def on_chat_model_start(self, serialized: Any, messages: Any, **kw: Any) -> None:
            raise NotImplementedError

    handler = LLMOnly()
    (run,) = CallbackManager([handler]).on_chat_model_start(None, [[HumanMessage("hi")]])
    kind, prompts, kw = handler.calls[0]
    assert (kind, prompts) == ("llm_start", ["Human: hi"])
    assert kw["run_id"] == run.run_id


async def test_async_manager_awaits_async_handlers_in_order() -> None:
    order: list[str] = []

    class Slow(AsyncCallbackHandler):
        def __init__(self, name: str) -> None:
            self.name = name

        async def on_chain_start(self, serialized: Any, inputs: Any, **kw: Any) -> None:
            import asyncio

            await asyncio.sleep(0)
            order.append(self.name)

    class Sync(BaseCallbackHandler):
        def on_chain_start(self, serialized: Any, inputs: Any, **kw: Any) -> None:
            order.append("sync")

    manager = AsyncCallbackManager([Slow("a"), Sync(), Slow("b")])
    run = await manager.on_chain_start(None, {})
    assert order == ["a", "sync", "b"]
    assert isinstance(run.run_id, UUID)
    assert run.get_sync().run_id == run.run_id


def test_sync_manager_runs_an_async_handler_to_its_end() -> None:
    seen: list[Any] = []

    class Async(AsyncCallbackHandler):
        async def on_chain_start(self, serialized: Any, inputs: Any, **kw: Any) -> None:
            seen.append(inputs)

    CallbackManager([Async()]).on_chain_start(None, 7)
    assert seen == [7]


def test_merge_and_copy_keep_handlers_tags_and_metadata() -> None:
    h1, h2 = Recorder(), Recorder()
    a = CallbackManager([h1], [h1], tags=["a"], inheritable_tags=["a"], metadata={"x": 1})
    b = CallbackManager([h2], [], tags=["b"], metadata={"y": 2})
    merged = a.merge(b)
    assert merged.handlers == [h1, h2]
    assert merged.inheritable_handlers == [h1]
    assert merged.tags == ["a", "b"]
    assert merged.metadata == {"x": 1, "y": 2}
    copy = a.copy()
    copy.add_tags(["c"])
    assert a.tags == ["a"]


def test_a_chain_group_manager_copies_and_merges_under_its_group_run() -> None:
    from runnables import merge_configs
    from runnables.callbacks import CallbackManager, StdOutCallbackHandler, trace_as_chain_group

    handler = StdOutCallbackHandler()
    with trace_as_chain_group("group") as group:
        for merged in (
            merge_configs({"callbacks": group}, {"callbacks": [handler]})["callbacks"],
            merge_configs({"callbacks": [handler]}, {"callbacks": group})["callbacks"],
            merge_configs({"callbacks": group}, {"callbacks": CallbackManager([handler])})[
                "callbacks"
            ],
        ):
            assert type(merged) is type(group)
            assert merged.parent_run_manager is group.parent_run_manager
            assert merged.handlers[-1] is handler
