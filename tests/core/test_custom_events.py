"""dispatch_custom_event: on_custom_event in astream_events and callback handlers."""

from __future__ import annotations

from typing import Any

from runnables import (
    RunnableLambda,
    adispatch_custom_event,
    dispatch_custom_event,
)


def _work(x: int) -> int:
    dispatch_custom_event("progress", {"n": x})
    return x + 1


async def _awork(x: int) -> int:
    await adispatch_custom_event("aprogress", {"n": x})
    return x


async def test_custom_events_appear_in_astream_events_with_the_steps_run() -> None:
    chain = RunnableLambda(_work) | RunnableLambda(_awork)
    events = [e async for e in chain.astream_events(1)]
    starts = {e["name"]: e for e in events if e["event"] == "on_chain_start"}
    custom = [e for e in events if e["event"] == "on_custom_event"]
    assert [(e["name"], e["data"]) for e in custom] == [
        ("progress", {"n": 1}),
        ("aprogress", {"n": 2}),
    ]
    assert custom[0]["run_id"] == starts["_work"]["run_id"]
    assert custom[1]["run_id"] == starts["_awork"]["run_id"]
    assert custom[0]["parent_ids"] == starts["_work"]["parent_ids"]


async def test_custom_events_can_be_filtered_out_by_name() -> None:
    events = [e async for e in RunnableLambda(_work).astream_events(1, exclude_names=["progress"])]
    assert not [e for e in events if e["event"] == "on_custom_event"]


def test_without_observers_dispatch_does_nothing() -> None:
    assert RunnableLambda(_work).invoke(1) == 2


def test_callback_handlers_receive_on_custom_event() -> None:
    seen: list[tuple[str, Any]] = []

    class Handler:
        def on_custom_event(self, name: str, data: Any, **kwargs: Any) -> None:
            seen.append((name, data))
            assert kwargs["run_id"] is not None

    assert RunnableLambda(_work).invoke(3, {"callbacks": [Handler()]}) == 4
    assert seen == [("progress", {"n": 3})]


def test_sync_stream_events_bridges_astream_events() -> None:
    events = list(RunnableLambda(_work).stream_events(5))
    assert [e["event"] for e in events] == [
        "on_chain_start",
        "on_custom_event",
        "on_chain_stream",
        "on_chain_end",
    ]
