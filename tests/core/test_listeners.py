"""with_listeners, callback handlers in the config, and the cost of nobody listening."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any
from uuid import UUID

import pytest

from engine_testing import other_tasks
from runnables import Run, RunnableConfig, RunnableLambda, RunnableParallel
from runnables.core import tracing


def _times_ok(run: Run) -> None:
    assert run.end_time is not None
    assert run.start_time <= run.end_time
    assert run.duration is not None and run.duration >= 0


async def test_with_listeners_receives_run_records_with_times() -> None:
    started: list[Run] = []
    ended: list[Run] = []

    def on_start(run: Run) -> None:
        assert run.end_time is None
        started.append(run)

    step = RunnableLambda[int, int](lambda x: x + 1, name="inc").with_listeners(
        on_start=on_start, on_end=ended.append
    )
    assert await step.ainvoke(1) == 2
    assert step.invoke(2) == 3
    assert [r.name for r in started] == ["inc", "inc"]
    assert [(r.inputs, r.outputs) for r in ended] == [
        ({"input": 1}, {"output": 2}),
        ({"input": 2}, {"output": 3}),
    ]
    assert started[0] is ended[0]
    assert isinstance(ended[0].id, UUID)
    for run in ended:
        _times_ok(run)


async def test_with_listeners_on_error_gets_the_error_and_it_still_raises() -> None:
    errors: list[Run] = []
    ended: list[Run] = []
    boom = RuntimeError("quota exceeded for 'k'")

    async def fail(x: Any) -> Any:
        raise boom

    step = RunnableLambda(fail).with_listeners(on_end=ended.append, on_error=errors.append)
    with pytest.raises(RuntimeError) as info:
        await step.ainvoke(1)
    assert info.value is boom
    assert ended == []
    assert errors[0].exception is boom
    assert errors[0].outputs == {}
    _times_ok(errors[0])


async def test_run_error_is_a_string_with_repr_and_traceback_as_in_langchain_core() -> None:
    errors: list[Run] = []

    def fail(x: Any) -> Any:
        raise ValueError("bad 1")

    step = RunnableLambda(fail, name="f").with_listeners(on_error=errors.append)
    with pytest.raises(ValueError):
        await step.ainvoke(1)
    error = errors[0].error
    assert isinstance(error, str)
    # langchain-core's format: repr(exc) followed by the formatted traceback.
    assert error.startswith("ValueError('bad 1')Traceback (most recent call last):")
    assert 'raise ValueError("bad 1")' in error
    assert isinstance(errors[0].exception, ValueError)


async def test_run_outputs_are_empty_until_the_end_as_in_langchain_core() -> None:
    seen: list[tuple[str, Any, Any]] = []
    step = RunnableLambda[int, dict[str, int]](lambda x: {"a": x}, name="d").with_listeners(
        on_start=lambda run: seen.append(("start", run.outputs, run.error)),
        on_end=lambda run: seen.append(("end", run.outputs, run.error)),
    )
    await step.ainvoke(1)
    # Recorded from langchain-core 1.8.3 with the same listeners.
    assert seen == [("start", {}, None), ("end", {"a": 1}, None)]


async def test_callback_on_chain_error_receives_the_exception_itself() -> None:
    handler = Handler()
    boom = ValueError("nope")

    def fail(x: Any) -> Any:
        raise boom

    with pytest.raises(ValueError):
        await RunnableLambda(fail).ainvoke(1, {"callbacks": [handler]})
    assert [c[1] for c in handler.calls if c[0] == "error"] == [boom]


async def test_async_listeners_are_awaited_and_may_take_the_config() -> None:
    seen: list[tuple[str, list[str]]] = []

    async def on_end(run: Run, config: RunnableConfig) -> None:
        await asyncio.sleep(0)
        seen.append((run.name, config.get("tags", [])))

    step = RunnableLambda(lambda x: x, name="same").with_listeners(on_end=on_end)
    await step.ainvoke(1, {"tags": ["t1"]})
    await asyncio.to_thread(step.invoke, 1)
    assert seen == [("same", ["t1"]), ("same", [])]


async def test_with_listeners_on_a_stream_records_the_added_up_output() -> None:
    ended: list[Run] = []

    def letters(x: str) -> Iterator[str]:
        yield from x

    step = RunnableLambda(letters).with_listeners(on_end=ended.append)
    assert [c async for c in step.astream("abc")] == ["a", "b", "c"]
    assert ended[0].output == "abc"


async def test_listener_on_a_step_inside_a_chain_sees_its_parent() -> None:
    ended: list[Run] = []
    inner = RunnableLambda[int, int](lambda x: x * 2, name="inner").with_listeners(
        on_end=ended.append
    )
    chain = RunnableLambda[int, int](lambda x: x + 1) | inner
    assert await chain.ainvoke(1) == 4
    assert ended[0].name == "inner"
    assert ended[0].input == 2


class Handler:
    """A langchain-style callback handler recording what it is told."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any, dict[str, Any]]] = []

    def on_chain_start(self, serialized: Any, inputs: Any, **kw: Any) -> None:
        self.calls.append(("start", inputs, kw))

    def on_chain_end(self, outputs: Any, **kw: Any) -> None:
        self.calls.append(("end", outputs, kw))

    def on_chain_error(self, error: BaseException, **kw: Any) -> None:
        self.calls.append(("error", error, kw))


async def test_callback_handlers_in_config_see_every_run() -> None:
    handler = Handler()
    chain = RunnableLambda[int, int](lambda x: x + 1, name="inc") | RunnableParallel(
        a=RunnableLambda(lambda x: x, name="a")
    )
    assert await chain.ainvoke(1, {"callbacks": [handler], "tags": ["t"]}) == {"a": 2}
    kinds = [c[0] for c in handler.calls]
    assert kinds.count("start") == kinds.count("end") == 4  # chain, inc, parallel, a
    root_start = handler.calls[0]
    # The input as it is, as langchain-core's on_chain_start receives it.
    assert root_start[1] == 1
    assert root_start[2]["parent_run_id"] is None
    assert "t" in root_start[2]["tags"]
    names = [c[2]["name"] for c in handler.calls if c[0] == "start"]
    assert names[:2] == ["RunnableSequence", "inc"]
    root_id = root_start[2]["run_id"]
    # A dict output is the outputs dict itself, as langchain-core reports it.
    assert handler.calls[-1][:2] == ("end", {"a": 2})
    assert handler.calls[-1][2]["run_id"] == root_id
    child_starts = [c for c in handler.calls[1:] if c[0] == "start"]
    assert child_starts[0][2]["parent_run_id"] == root_id


def test_callback_handlers_in_sync_invoke_and_errors() -> None:
    handler = Handler()
    boom = ValueError("nope")

    def fail(x: Any) -> Any:
        raise boom

    with pytest.raises(ValueError):
        (RunnableLambda(lambda x: x) | RunnableLambda(fail, name="fail")).invoke(
            1, {"callbacks": [handler]}
        )
    errors = [c for c in handler.calls if c[0] == "error"]
    assert [e[1] for e in errors] == [boom, boom]  # the step and the chain around it


async def test_nested_call_inside_a_step_reports_to_the_callers_handlers() -> None:
    handler = Handler()
    inner = RunnableLambda(lambda x: x, name="inner")

    async def outer(x: Any) -> Any:
        return await inner.ainvoke(x)

    await RunnableLambda(outer, name="outer").ainvoke(1, {"callbacks": [handler]})
    starts = [c for c in handler.calls if c[0] == "start"]
    assert [s[2]["name"] for s in starts] == ["outer", "inner"]
    assert starts[1][2]["parent_run_id"] == starts[0][2]["run_id"]


class AsyncHandler:
    """A callback handler whose methods are coroutines that suspend."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    async def on_chain_start(self, serialized: Any, inputs: Any, **kw: Any) -> None:
        await asyncio.sleep(0)
        self.calls.append(("start", kw["name"]))

    async def on_chain_end(self, outputs: Any, **kw: Any) -> None:
        await asyncio.sleep(0)
        self.calls.append(("end", str(kw["run_id"])))

    async def on_chain_error(self, error: BaseException, **kw: Any) -> None:
        await asyncio.sleep(0)
        self.calls.append(("error", repr(error)))


async def test_async_callback_handlers_are_awaited_before_the_call_returns() -> None:
    handler = AsyncHandler()
    before = other_tasks()
    chain = RunnableLambda[int, int](lambda x: x + 1, name="inc") | RunnableLambda(
        lambda x: x * 2, name="double"
    )
    assert await chain.ainvoke(1, {"callbacks": [handler]}) == 4
    # No task was left behind to run the handlers later: they all ran already.
    assert other_tasks() - before == set()
    assert [c[0] for c in handler.calls] == ["start", "start", "end", "start", "end", "end"]
    assert [c[1] for c in handler.calls if c[0] == "start"] == ["RunnableSequence", "inc", "double"]


async def test_async_callback_handler_runs_before_the_step_it_announces() -> None:
    handler = AsyncHandler()
    order: list[str] = []

    def step(x: int) -> int:
        order.append(f"step after {len(handler.calls)} calls")
        return x

    await RunnableLambda(step, name="s").ainvoke(1, {"callbacks": [handler]})
    assert order == ["step after 1 calls"]  # on_chain_start had finished


async def test_async_callback_handlers_on_errors_and_streams_leave_no_task() -> None:
    handler = AsyncHandler()
    before = other_tasks()

    def fail(x: Any) -> Any:
        raise ValueError("nope")

    with pytest.raises(ValueError):
        await RunnableLambda(fail, name="fail").ainvoke(1, {"callbacks": [handler]})

    def letters(x: str) -> Iterator[str]:
        yield from x

    chunks = [c async for c in RunnableLambda(letters).astream("ab", {"callbacks": [handler]})]
    assert chunks == ["a", "b"]
    assert other_tasks() - before == set()
    assert [c[0] for c in handler.calls] == ["start", "error", "start", "end"]


def test_async_callback_handlers_run_in_sync_invoke_too() -> None:
    handler = AsyncHandler()
    # A sync chain is driven inline, without an event loop; the handlers still run.
    assert (RunnableLambda[int, int](lambda x: x + 1) | RunnableLambda(lambda x: x)).invoke(
        1, {"callbacks": [handler]}
    ) == 2
    assert [c[0] for c in handler.calls] == ["start", "start", "end", "start", "end", "end"]


async def test_async_callback_handlers_in_sync_invoke_inside_a_coroutine() -> None:
    handler = AsyncHandler()
    before = other_tasks()
    # A sync chain is driven inline in this thread, whose loop is busy running this test.
    assert RunnableLambda(lambda x: x, name="s").invoke(1, {"callbacks": [handler]}) == 1
    assert [c[0] for c in handler.calls] == ["start", "end"]
    assert other_tasks() - before == set()


@pytest.fixture
def no_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail if anything makes a run record."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a Run was constructed although nothing listens")

    monkeypatch.setattr(tracing, "start_run", refuse)
    monkeypatch.setattr(tracing, "Run", refuse)


@pytest.mark.usefixtures("no_runs")
async def test_with_nothing_listening_no_run_is_constructed() -> None:
    async def agen(x: int) -> AsyncIterator[int]:
        yield x

    async def nested(x: int) -> Any:
        return await RunnableLambda(lambda y: y).ainvoke(x)

    chain = (
        RunnableLambda[int, int](lambda x: x + 1)
        | {"a": RunnableLambda(agen), "b": RunnableLambda(nested)}
        | RunnableLambda(lambda d: d["a"] + d["b"])
    ).with_config(tags=["t"], metadata={"k": 1})
    assert await chain.ainvoke(1) == 4
    assert await chain.abatch([1, 2], {"max_concurrency": 1, "timeout": 30}) == [4, 6]
    assert [c async for c in chain.astream(1, {"tags": ["x"]})] == [4]


@pytest.mark.usefixtures("no_runs")
def test_with_nothing_listening_sync_calls_construct_no_run() -> None:
    chain = (RunnableLambda[int, int](lambda x: x + 1) | {"a": lambda x: x}).with_config(tags=["t"])
    assert chain.invoke(1) == {"a": 2}
    assert list(chain.stream(1)) == [{"a": 2}]
    assert chain.batch([1, 2], {"max_concurrency": 1}) == [{"a": 2}, {"a": 3}]


async def _agen_letters(x: str) -> AsyncIterator[str]:
    for c in x:
        yield c


async def test_a_listened_step_in_a_traced_chain_is_one_run_with_its_step_tag() -> None:
    # langchain-core 1.8.3: the listener sees the step's own run, tags ['seq:step:2', 't'],
    # and the events show that run once (no second run for the binding).
    seen: list[tuple[str, Run]] = []
    step = RunnableLambda(_agen_letters, name="b").with_listeners(
        on_start=lambda r: seen.append(("start", r)), on_end=lambda r: seen.append(("end", r))
    )
    chain = RunnableLambda(lambda x: x, name="a") | step
    events = [e async for e in chain.astream_events("xy", {"tags": ["t"]}, version="v2")]
    b_starts = [e for e in events if e["event"] == "on_chain_start" and e["name"] == "b"]
    assert len(b_starts) == 1
    assert [kind for kind, _ in seen] == ["start", "end"]
    run = seen[0][1]
    assert run is seen[1][1]
    assert str(run.id) == b_starts[0]["run_id"]
    assert run.tags == ["seq:step:2", "t"]
    assert run.inputs == {"input": "xy"}
    assert run.outputs == {"output": "xy"}


async def test_a_streamed_listener_run_starts_with_input_empty_string_as_in_langchain_core() -> (
    None
):
    at_start: list[dict[str, Any]] = []
    ended: list[Run] = []
    step = RunnableLambda(_agen_letters).with_listeners(
        on_start=lambda r: at_start.append(dict(r.inputs)), on_end=ended.append
    )
    assert [c async for c in step.astream("xy")] == ["x", "y"]
    assert at_start == [{"input": ""}]
    assert ended[0].inputs == {"input": "xy"}


async def test_a_listener_on_a_step_with_a_timeout_still_runs_once() -> None:
    ended: list[Run] = []
    step = (
        RunnableLambda[int, int](lambda x: x + 1, name="inc")
        .with_listeners(on_end=ended.append)
        .with_config(timeout=5)
    )
    assert await step.ainvoke(1) == 2
    assert [(r.name, r.outputs) for r in ended] == [("inc", {"output": 2})]


async def test_a_listener_that_raises_is_logged_and_the_call_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(run: Run) -> None:
        raise ValueError("listener bug")

    step = RunnableLambda[int, int](lambda x: x + 1, name="inc").with_listeners(on_end=broken)
    with caplog.at_level("WARNING", logger="runnables"):
        assert await step.ainvoke(1) == 2
    assert "on_end listener" in caplog.text
    assert "broken" in caplog.text
    assert "listener bug" in caplog.text


class _Broken(Handler):
    def on_chain_start(self, serialized: Any, inputs: Any, **kw: Any) -> None:
        raise RuntimeError("handler bug")


async def test_a_callback_handler_that_raises_is_logged_and_the_call_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    broken, after = _Broken(), Handler()
    chain = RunnableLambda[int, int](lambda x: x + 1) | RunnableLambda[int, int](lambda x: x * 2)
    with caplog.at_level("WARNING", logger="runnables"):
        assert await chain.ainvoke(1, {"callbacks": [broken, after]}) == 4
    assert "Error in _Broken.on_chain_start callback: RuntimeError('handler bug')" in caplog.text
    # The other handlers still hear every event, the broken one its other events.
    assert [c[0] for c in after.calls].count("start") == 3
    assert [c[0] for c in broken.calls].count("end") == 3


async def test_a_callback_handler_with_raise_error_fails_the_call() -> None:
    broken = _Broken()
    broken.raise_error = True  # type: ignore[attr-defined]
    with pytest.raises(RuntimeError, match="handler bug"):
        await RunnableLambda(lambda x: x).ainvoke(1, {"callbacks": [broken]})


async def test_an_async_callback_handler_that_raises_is_logged_and_the_call_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class AsyncBroken:
        async def on_chain_end(self, outputs: Any, **kw: Any) -> None:
            await asyncio.sleep(0)
            raise KeyError("async bug")

    with caplog.at_level("WARNING", logger="runnables"):
        assert await RunnableLambda(lambda x: x).ainvoke(1, {"callbacks": [AsyncBroken()]}) == 1
    assert "Error in AsyncBroken.on_chain_end callback: KeyError('async bug')" in caplog.text
    assert other_tasks() == set()


def test_a_listened_step_in_a_sequence_has_its_step_tag_without_other_tracing() -> None:
    tags: list[list[str]] = []
    listened = RunnableLambda[int, int](lambda x: x + 1).with_listeners(
        on_end=lambda run: tags.append(list(run.tags))
    )
    chain = RunnableLambda[int, int](lambda x: x * 2) | listened

    assert chain.invoke(1, {"tags": ["t"]}) == 3
    assert list(chain.stream(1, {"tags": ["t"]})) == [3]

    # langchain-core 1.8.3 gives the same tags, the step's own first.
    assert tags == [["seq:step:2", "t"], ["seq:step:2", "t"]]


async def test_a_listened_branch_of_a_parallel_has_its_key_tag_without_other_tracing() -> None:
    tags: list[list[str]] = []
    listened = RunnableLambda[int, int](lambda x: x + 1).with_listeners(
        on_end=lambda run: tags.append(list(run.tags))
    )
    par = RunnableParallel(a=listened, c=lambda x: x)

    assert await par.ainvoke(1, {"tags": ["t"]}) == {"a": 2, "c": 1}
    assert [chunk async for chunk in par.astream(1, {"tags": ["t"]})] in (
        [{"a": 2}, {"c": 1}],
        [{"c": 1}, {"a": 2}],
    )

    assert tags == [["map:key:a", "t"], ["map:key:a", "t"]]
