"""astream_events in langchain-core's v2 format."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from engine_testing import other_tasks
from runnables import PromptTemplate, Runnable, RunnableLambda, RunnablePassthrough


def add1(x: int) -> int:
    return x + 1


async def dbl(x: int) -> int:
    return x * 2


def _small_chain() -> Runnable[int, int]:
    return (
        RunnableLambda(add1)
        | {"a": RunnableLambda(dbl), "b": RunnablePassthrough()}
        | RunnableLambda(lambda d: d["a"] + d["b"], name="total")
    ).with_config(run_name="top", tags=["T"], metadata={"user": "u1"})


async def _events(runnable: Runnable[Any, Any], input: Any, **kw: Any) -> list[dict[str, Any]]:
    return [e async for e in runnable.astream_events(input, version="v2", **kw)]


async def test_events_of_a_small_chain_match_langchain_cores_runs_and_tags() -> None:
    events = await _events(_small_chain(), 1)
    assert events[0]["event"] == "on_chain_start"
    assert events[0]["name"] == "top"
    assert events[0]["data"] == {"input": 1}
    assert events[-1]["event"] == "on_chain_end"
    assert events[-1]["name"] == "top"
    assert events[-1]["data"]["output"] == 6

    runs: dict[str, list[dict[str, Any]]] = {}
    for e in events:
        assert set(e) >= {"event", "name", "run_id", "parent_ids", "tags", "metadata", "data"}
        runs.setdefault(e["run_id"], []).append(e)
    by_name = {evs[0]["name"]: evs for evs in runs.values()}
    # with_config adds no run of its own: its name, tags and metadata go to the chain's run.
    assert sorted(by_name) == [
        "RunnableParallel<a,b>",
        "RunnablePassthrough",
        "add1",
        "dbl",
        "top",
        "total",
    ]
    tags = {name: sorted(evs[0]["tags"]) for name, evs in by_name.items()}
    assert tags == {
        "top": ["T"],
        "add1": ["T", "seq:step:1"],
        "RunnableParallel<a,b>": ["T", "seq:step:2"],
        "dbl": ["T", "map:key:a"],
        "RunnablePassthrough": ["T", "map:key:b"],
        "total": ["T", "seq:step:3"],
    }
    for evs in by_name.values():
        kinds = [e["event"] for e in evs]
        assert kinds[0] == "on_chain_start"
        assert kinds[-1] == "on_chain_end"
        assert set(kinds[1:-1]) <= {"on_chain_stream"}
        assert all(e["metadata"] == {"user": "u1"} for e in evs)
    assert [e["data"]["chunk"] for e in by_name["top"] if e["event"] == "on_chain_stream"] == [6]
    assert by_name["total"][-1]["data"] == {"output": 6, "input": {"a": 4, "b": 2}}


async def test_parent_ids_are_root_first_and_parents_enclose_children() -> None:
    events = await _events(_small_chain(), 1)
    ids = {e["name"]: e["run_id"] for e in events}
    parents = {e["name"]: e["parent_ids"] for e in events}
    assert parents["top"] == []
    assert parents["add1"] == [ids["top"]]
    assert parents["dbl"] == [ids["top"], ids["RunnableParallel<a,b>"]]
    position = {(e["event"], e["run_id"]): i for i, e in enumerate(events)}
    for e in events:
        if e["event"] != "on_chain_start" or not e["parent_ids"]:
            continue
        parent = e["parent_ids"][-1]
        assert position[("on_chain_start", parent)] < position[("on_chain_start", e["run_id"])]
        assert position[("on_chain_end", e["run_id"])] < position[("on_chain_end", parent)]


async def test_run_name_and_run_id_in_the_call_config_name_the_root_run() -> None:
    from uuid import uuid4

    rid = uuid4()
    events = await _events(_small_chain(), 1, config={"run_name": "mine", "run_id": rid})
    assert events[0]["name"] == "mine"
    assert events[0]["run_id"] == str(rid)
    assert sum(1 for e in events if e["parent_ids"] == []) == 3  # start, stream, end


async def test_nested_ainvoke_inside_a_step_is_a_child_run() -> None:
    inner = RunnableLambda(dbl, name="inner")

    async def outer(x: int) -> int:
        return await inner.ainvoke(x)

    events = await _events(RunnableLambda(outer), 1)
    assert [(e["event"], e["name"]) for e in events] == [
        ("on_chain_start", "outer"),
        ("on_chain_start", "inner"),
        ("on_chain_end", "inner"),
        ("on_chain_stream", "outer"),
        ("on_chain_end", "outer"),
    ]
    assert events[1]["parent_ids"] == [events[0]["run_id"]]


async def test_generator_chunks_are_stream_events_as_they_happen() -> None:
    async def tokens(x: str) -> AsyncIterator[str]:
        for t in x.split():
            yield t

    events = await _events(RunnableLambda(tokens, name="tokens"), "a b c")
    chunks = [e["data"]["chunk"] for e in events if e["event"] == "on_chain_stream"]
    assert chunks == ["a", "b", "c"]
    assert events[-1]["data"]["output"] == "abc"


async def test_include_and_exclude_filters() -> None:
    chain = _small_chain()

    async def names(**kw: Any) -> set[str]:
        return {e["name"] for e in await _events(chain, 1, **kw)}

    assert await names(include_names=["dbl"]) == {"dbl"}
    assert await names(include_tags=["seq:step:1"]) == {"add1"}
    assert await names(include_types=["chain"]) == {
        "top",
        "add1",
        "RunnableParallel<a,b>",
        "dbl",
        "RunnablePassthrough",
        "total",
    }
    assert await names(include_types=["llm"]) == set()
    assert "dbl" not in await names(exclude_names=["dbl"])
    excluded = await names(exclude_tags=["seq:step:2"])
    assert "RunnableParallel<a,b>" not in excluded
    assert "dbl" in excluded  # tags of a child are its own, as in langchain-core
    assert await names(include_names=["add1", "dbl"], exclude_names=["dbl"]) == {"add1"}


async def test_an_error_ends_the_events_with_the_original_exception() -> None:
    boom = ValueError("bad value 3")

    def fail(x: int) -> int:
        raise boom

    seen: list[str] = []
    with pytest.raises(ValueError) as info:
        async for e in (RunnableLambda(add1) | RunnableLambda(fail)).astream_events(
            1, version="v2"
        ):
            seen.append(e["event"])
    assert info.value is boom
    assert seen[0] == "on_chain_start"


async def test_leaving_astream_events_early_cancels_the_run() -> None:
    cleaned = asyncio.Event()

    async def forever(x: int) -> AsyncIterator[int]:
        try:
            while True:
                yield x
                await asyncio.sleep(0)
        finally:
            cleaned.set()

    before = other_tasks()
    stream = RunnableLambda(forever).astream_events(1, version="v2")
    async for e in stream:
        if e["event"] == "on_chain_stream":
            break
    await stream.aclose()  # type: ignore[attr-defined]
    assert cleaned.is_set()
    assert other_tasks() <= before


def _compact(events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Events with run ids replaced by their order of first appearance."""
    ids: dict[str, int] = {}
    out = []
    for e in events:
        run = ids.setdefault(e["run_id"], len(ids))
        parents = [ids[p] for p in e["parent_ids"]]
        out.append((e["event"], e["name"], run, parents, e["tags"], e["data"]))
    return out


async def test_events_match_langchain_core_field_for_field() -> None:
    inner = RunnableLambda(dbl, name="inner")

    async def outer(x: int) -> int:
        return await inner.ainvoke(x, {"tags": ["b", "a"]})

    chain = (
        RunnableLambda(add1) | RunnableLambda(outer, name="outer").with_config(tags=["z", "m"])
    ).with_config(run_name="top")
    events = [e async for e in chain.astream_events(1, {"tags": ["t", "c"]}, version="v2")]
    # Recorded from langchain-core 1.8.3 running the same chain: the step's own tag comes
    # first; a binding leaves the tags sorted; a streamed step's start has no input, an
    # invoked one's has; nested ends have input and output, the root's end only output.
    assert _compact(events) == [
        ("on_chain_start", "top", 0, [], ["c", "t"], {"input": 1}),
        ("on_chain_start", "add1", 1, [0], ["seq:step:1", "c", "t"], {}),
        ("on_chain_stream", "add1", 1, [0], ["seq:step:1", "c", "t"], {"chunk": 2}),
        ("on_chain_start", "outer", 2, [0], ["seq:step:2", "c", "m", "t", "z"], {}),
        ("on_chain_end", "add1", 1, [0], ["seq:step:1", "c", "t"], {"input": 1, "output": 2}),
        ("on_chain_start", "inner", 3, [0, 2], ["c", "m", "t", "z", "b", "a"], {"input": 2}),
        (
            "on_chain_end",
            "inner",
            3,
            [0, 2],
            ["c", "m", "t", "z", "b", "a"],
            {"input": 2, "output": 4},
        ),
        ("on_chain_stream", "outer", 2, [0], ["seq:step:2", "c", "m", "t", "z"], {"chunk": 4}),
        ("on_chain_stream", "top", 0, [], ["c", "t"], {"chunk": 4}),
        (
            "on_chain_end",
            "outer",
            2,
            [0],
            ["seq:step:2", "c", "m", "t", "z"],
            {"input": 2, "output": 4},
        ),
        ("on_chain_end", "top", 0, [], ["c", "t"], {"output": 4}),
    ]


async def test_root_end_event_has_only_the_output_and_nested_ends_have_the_input() -> None:
    events = await _events(RunnableLambda(add1, name="s"), 1)
    assert [(e["event"], e["data"]) for e in events] == [
        ("on_chain_start", {"input": 1}),
        ("on_chain_stream", {"chunk": 2}),
        ("on_chain_end", {"output": 2}),
    ]
    zero = await _events(RunnableLambda(lambda _: 0, name="z") | RunnableLambda(add1), 5)
    # langchain-core reports a falsy input as {} (``inputs or run_info["inputs"] or {}``).
    assert zero[-2]["name"] == "add1"
    assert zero[-2]["data"] == {"output": 1, "input": {}}


@pytest.mark.parametrize("version", ["v1", "v3"])
def test_astream_events_other_than_v2_is_not_implemented_and_says_so(version: str) -> None:
    with pytest.raises(NotImplementedError, match=rf"only version='v2'.*version='{version}'"):
        RunnableLambda(add1).astream_events(1, version=version)  # type: ignore[arg-type]


async def test_a_step_without_streaming_is_an_invoked_run_with_its_input_on_start() -> None:
    chain = RunnableLambda[str, dict[str, str]](
        lambda x: {"q": x}, name="mk"
    ) | PromptTemplate.from_template("{q}!")
    events = await _events(chain, "hi")
    compact = [
        (kind, name, run, tags, {k: getattr(v, "text", v) for k, v in data.items()})
        for kind, name, run, _, tags, data in _compact(events)
    ]
    # Recorded from langchain-core 1.8.3: the prompt (invoke only) starts once its input
    # is complete, with that input, and has no stream events of its own.
    assert compact == [
        ("on_chain_start", "RunnableSequence", 0, [], {"input": "hi"}),
        ("on_chain_start", "mk", 1, ["seq:step:1"], {}),
        ("on_chain_stream", "mk", 1, ["seq:step:1"], {"chunk": {"q": "hi"}}),
        ("on_chain_end", "mk", 1, ["seq:step:1"], {"output": {"q": "hi"}, "input": "hi"}),
        ("on_prompt_start", "PromptTemplate", 2, ["seq:step:2"], {"input": {"q": "hi"}}),
        (
            "on_prompt_end",
            "PromptTemplate",
            2,
            ["seq:step:2"],
            {"output": "hi!", "input": {"q": "hi"}},
        ),
        ("on_chain_stream", "RunnableSequence", 0, [], {"chunk": "hi!"}),
        ("on_chain_end", "RunnableSequence", 0, [], {"output": "hi!"}),
    ]


async def test_a_binding_without_config_still_sorts_the_tags_as_langchain_core() -> None:
    def keep(x: int, k: int = 0) -> int:
        return x + k

    chain = RunnableLambda(keep, name="a").bind(k=1) | RunnableLambda(add1, name="b")
    events = [e async for e in chain.astream_events(1, {"tags": ["t", "c"]}, version="v2")]
    tags = {e["name"]: e["tags"] for e in events}
    # Recorded from langchain-core 1.8.3: the call's tags keep their order, a binding's
    # step sees them sorted, after its own step tag.
    assert tags == {
        "RunnableSequence": ["t", "c"],
        "a": ["seq:step:1", "c", "t"],
        "b": ["seq:step:2", "t", "c"],
    }


async def test_the_first_event_left_by_a_filter_carries_the_call_input() -> None:
    # langchain-core gives the first event the stream yields the call's input (here a
    # nested step's start, whose own input is not known yet) and drops it from its end.
    def reverse(s: str) -> str:
        return s[::-1]

    r = RunnableLambda(reverse)
    chain = r.with_config(run_name="1") | r.with_config(run_name="2")
    events = [e async for e in chain.astream_events("hello", include_names=["1"])]
    assert [(e["event"], e["name"], e["data"]) for e in events] == [
        ("on_chain_start", "1", {"input": "hello"}),
        ("on_chain_stream", "1", {"chunk": "olleh"}),
        ("on_chain_end", "1", {"output": "olleh"}),
    ]


async def test_a_failing_tool_has_an_error_event_with_its_call_id_as_langchain_core() -> None:
    from runnables.tools import tool

    @tool
    def failing(x: int) -> str:
        """Always fails."""
        raise ValueError("Tool execution failed")

    call = {"name": "failing", "args": {"x": 42}, "id": "call-1", "type": "tool_call"}
    for value, expected_id in ((call, "call-1"), ({"x": 42}, None)):
        events: list[dict[str, Any]] = []
        with pytest.raises(ValueError, match="Tool execution failed"):
            async for event in failing.astream_events(value):
                events.append(event)
        errors = [e for e in events if e["event"] == "on_tool_error"]
        assert len(errors) == 1
        assert errors[0]["name"] == "failing"
        assert errors[0]["data"]["input"] == {"x": 42}
        assert errors[0]["data"]["tool_call_id"] == expected_id
        assert isinstance(errors[0]["data"]["error"], ValueError)


async def test_a_child_reusing_its_parents_run_id_drops_the_clashing_runs_events() -> None:
    # langchain-core's run tree gets a cycle when a step passes its config's run_id on to
    # a child: the stream keeps the parent's start and loses the rest, without raising.
    import uuid

    @RunnableLambda
    async def child(x: str) -> str:
        return x

    @RunnableLambda
    async def parent(x: str, config: Any) -> str:
        config["run_id"] = uuid.UUID(int=7)
        return await child.ainvoke(x, config)

    events = [
        e async for e in parent.astream_events("hi", {"run_id": uuid.UUID(int=7)}, version="v2")
    ]
    assert [(e["event"], e["name"], e["run_id"]) for e in events] == [
        ("on_chain_start", "parent", str(uuid.UUID(int=7)))
    ]
    # A different id for the child keeps every event.
    other = [e["event"] async for e in parent.astream_events("hi", version="v2")]
    assert other == [
        "on_chain_start",
        "on_chain_start",
        "on_chain_end",
        "on_chain_stream",
        "on_chain_end",
    ]
