"""``astream_events``: the events of a run, in langchain-core's v2 format.

Each event is a dict with ``event`` (``on_{run_type}_{start|stream|end}``, for example
``on_chain_start``), ``name``, ``run_id``, ``parent_ids`` (root first), ``tags``,
``metadata`` and ``data``, exactly as langchain-core 1.8 fills it: the root's start has
the call's ``input`` and its end only ``output``; a nested step's start has ``input``
only when the step was invoked (a streamed step does not know its input yet), and its
end has ``output`` and ``input``; a stream event has ``chunk``. An error ends the
iteration with the exception.

The run executes in a task of its own, so events from concurrent branches arrive as
they happen rather than when the root produces output; leaving the iteration early
cancels that task and everything under it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from runnables.core.base import transform_root
from runnables.core.chunks import ListIter
from runnables.core.config import RunnableConfig, make_context
from runnables.core.tasks import cancel_and_wait
from runnables.core.tracing import _MISSING, Run, Tracer

if TYPE_CHECKING:
    from runnables.core.base import Runnable

__all__ = ["EventFilter", "stream_events"]


class EventFilter:
    """langchain-core's include/exclude rules for names, run types and tags."""

    def __init__(
        self,
        include_names: Sequence[str] | None = None,
        include_types: Sequence[str] | None = None,
        include_tags: Sequence[str] | None = None,
        exclude_names: Sequence[str] | None = None,
        exclude_types: Sequence[str] | None = None,
        exclude_tags: Sequence[str] | None = None,
    ) -> None:
        self.include_names = include_names
        self.include_types = include_types
        self.include_tags = include_tags
        self.exclude_names = exclude_names
        self.exclude_types = exclude_types
        self.exclude_tags = exclude_tags
        self.everything = all(
            f is None
            for f in (
                include_names,
                include_types,
                include_tags,
                exclude_names,
                exclude_types,
                exclude_tags,
            )
        )

    def __call__(self, run: Run) -> bool:
        if self.everything:
            return True
        inc = (
            self.include_names is None and self.include_types is None and self.include_tags is None
        )
        if self.include_names is not None:
            inc = inc or run.name in self.include_names
        if self.include_types is not None:
            inc = inc or run.run_type in self.include_types
        if self.include_tags is not None:
            inc = inc or any(t in self.include_tags for t in run.tags)
        if self.exclude_names is not None:
            inc = inc and run.name not in self.exclude_names
        if self.exclude_types is not None:
            inc = inc and run.run_type not in self.exclude_types
        if self.exclude_tags is not None:
            inc = inc and all(t not in self.exclude_tags for t in run.tags)
        return inc


class _ForeignRun(NamedTuple):
    """What the filters look at, for an event that has no local :class:`Run`."""

    name: str
    run_type: str
    tags: list[str]


#: Stream chunks wait (backpressure) while this many events are queued, until the
#: consumer has taken the queue down to LOW_WATER: the run stays a bounded distance
#: ahead of the consumer, and leaving early saves the work not yet done.
HIGH_WATER = 256
LOW_WATER = 64


class EventQueue(Tracer):
    """Turns run notifications into v2 event dicts and queues them for the consumer."""

    streams_tokens = True

    def __init__(self, keep: EventFilter, root_input: Any = None) -> None:
        self.keep = keep
        self.root_input = root_input
        self.root: Run | None = None
        self.first_id: str | None = None
        self.events: deque[dict[str, Any]] = deque()
        self.waiter: asyncio.Future[None] | None = None
        #: The consumer's loop. Events may also come from another thread: a sync call
        #: (``model.invoke(x, config)``) made inside a step runs on the bridge loop.
        self.loop: asyncio.AbstractEventLoop | None = None
        self._drain: asyncio.Future[None] | None = None
        # Per live run: (run id as a string, event name prefix), or None when filtered
        # out. Computed once per run, not once per event.
        self._runs: dict[int, tuple[str, str] | None] = {}

    def _push(self, run: Run, kind: str, data: dict[str, Any]) -> None:
        key = id(run)
        try:
            seen = self._runs[key]
        except KeyError:
            run_id = str(run.id)
            parents = run.parent_ids
            if run_id in parents or len(set(parents)) != len(parents):
                self._clash(run_id)
                seen = self._runs[key] = None
            else:
                seen = self._runs[key] = (run_id, f"on_{run.run_type}_") if self.keep(run) else None
        if seen is None:
            return
        if self.first_id is None:
            # As langchain-core: the first event the stream yields (after filtering) is
            # given the call's input, and the end of that run then has none.
            self.first_id = seen[0]
            data["input"] = self.root_input
        elif kind == "end" and seen[0] == self.first_id:
            data.pop("input", None)
        events = self.events
        events.append(
            {
                "event": seen[1] + kind,
                "name": run.name,
                "run_id": seen[0],
                "parent_ids": run.parent_ids,
                "tags": run.tags,
                "metadata": run.metadata,
                "data": data,
            }
        )
        if len(events) >= HIGH_WATER:
            self.full = True
        self._wake()

    def _clash(self, run_id: str) -> None:
        """A run reuses the id of a run it is nested in (a config's ``run_id`` passed on):
        as langchain-core, whose run tree then has a cycle, the stream has no further
        events of that run, its descendants or the run whose id it took. The run itself
        goes on; only its events are lost."""
        for key, seen in self._runs.items():
            if seen is not None and seen[0] == run_id:
                self._runs[key] = None

    def push_event(self, event: dict[str, Any]) -> None:
        """Queue an event made elsewhere (a remote server's run, already re-parented),
        if it passes this stream's filters. The caller awaits ``drained()`` when ``full``.
        """
        kind = str(event.get("event", ""))
        run_type = kind[3:].rpartition("_")[0] if kind.startswith("on_") else kind
        probe = _ForeignRun(event.get("name", ""), run_type, event.get("tags") or [])
        if not self.keep(probe):  # type: ignore[arg-type]
            return
        self.events.append(event)
        if len(self.events) >= HIGH_WATER:
            self.full = True
        self._wake()

    def _wake(self) -> None:
        """Wake the consumer if it waits for an event (from any thread)."""
        waiter = self.waiter
        if waiter is None or waiter.done():
            return
        if asyncio._get_running_loop() is self.loop or self.loop is None:
            waiter.set_result(None)
        else:
            self.loop.call_soon_threadsafe(self._wake)

    async def drained(self) -> None:
        """Wait until the consumer has taken the queue down to ``LOW_WATER``.

        Only a producer on the consumer's loop waits. One elsewhere (a sync call made by
        a step, run on the bridge loop) goes on: the consumer's loop may be the very one
        blocked until that call returns (a sync function run on it), and waiting for it
        would never end.
        """
        if self.loop is not None and asyncio._get_running_loop() is not self.loop:
            return
        if self._drain is None or self._drain.done():
            self._drain = asyncio.get_running_loop().create_future()
        await self._drain

    def taken(self) -> None:
        """The consumer took events: let a waiting producer go on once below low water."""
        if len(self.events) <= LOW_WATER:
            self.full = False
            drain = self._drain
            if drain is not None and not drain.done():
                drain.set_result(None)

    def on_start(self, run: Run) -> None:
        if self.root is None:
            # The root's start is the first event unless filtered out (see _push).
            self.root = run
            self._push(run, "start", {})
            return
        if run.input is _MISSING:
            self._push(run, "start", {})
        elif run.run_type == "tool":
            # langchain-core's tool runs record the tool's arguments (a call's args).
            self._push(run, "start", {"input": _tool_inputs(run.input)[0] or {}})
        elif run.run_type == "retriever":
            # langchain-core's retriever runs take a query: their input is {"query": q}.
            self._push(run, "start", {"input": {"query": run.input}})
        else:
            self._push(run, "start", {"input": run.input})

    def on_stream(self, run: Run, chunk: Any) -> None:
        self._push(run, "stream", {"chunk": chunk})

    def on_end(self, run: Run) -> None:
        if run is self.root:
            self._push(run, "end", {"output": run.output})
        else:
            # A nested end always has "input", {} when unknown or falsy: langchain-core
            # computes it as ``inputs or run_info.get("inputs") or {}``.
            value = run.input
            if run.run_type == "tool":
                data: dict[str, Any] = {"output": run.output, "input": _tool_inputs(value)[0]}
            else:
                if run.run_type == "retriever" and value is not _MISSING:
                    value = {"query": value}
                data = {"output": run.output, "input": _input_or_empty(value)}
            self._push(run, "end", data)
        self._runs.pop(id(run), None)

    def on_error(self, run: Run) -> None:
        if run.run_type == "tool":
            # langchain-core's v2 stream has one error event: a tool's (a chain's errors
            # end the stream by raising).
            inputs, tool_call_id = _tool_inputs(run.input)
            data = {"error": run.exception, "input": inputs, "tool_call_id": tool_call_id}
            self._push(run, "error", data)
        self._runs.pop(id(run), None)

    def on_custom_event(self, name: str, data: Any, run: Run) -> None:
        # Filtered as langchain-core filters them: by the event's name and the run's tags.
        if not self.keep(_ForeignRun(name, name, run.tags)):  # type: ignore[arg-type]
            return
        self.events.append(
            {
                "event": "on_custom_event",
                "run_id": str(run.id),
                "name": name,
                "tags": run.tags,
                "metadata": run.metadata,
                "data": data,
                "parent_ids": run.parent_ids,
            }
        )
        if len(self.events) >= HIGH_WATER:
            self.full = True
        self._wake()


def _tool_inputs(value: Any) -> tuple[dict[str, Any] | None, str | None]:
    """A tool run's inputs as langchain-core's tool callbacks get them: the arguments
    (a tool call's ``args``; ``None`` for a string input) and the tool call's id."""
    if isinstance(value, dict):
        if value.get("type") == "tool_call" and "args" in value:
            return value["args"], value.get("id")
        return value, None
    return None, None


def _input_or_empty(value: Any) -> Any:
    if value is _MISSING:
        return {}
    try:
        return value if value else {}
    except Exception:  # a value whose truth is ambiguous (an array) is kept as it is
        return value


async def stream_events(
    runnable: Runnable[Any, Any],
    input: Any,
    config: RunnableConfig | None,
    **filters: Sequence[str] | None,
) -> AsyncIterator[dict[str, Any]]:
    """Run ``runnable`` on ``input`` and yield its events as they happen."""
    queue = EventQueue(EventFilter(**filters), input)
    ctx = make_context(config)
    ctx = ctx.replace(tracers=(*ctx.tracers, queue))
    loop = queue.loop = asyncio.get_running_loop()

    async def drive() -> None:
        async for _ in transform_root(runnable, ListIter((input,)), ctx):
            pass

    task = loop.create_task(drive())
    events = queue.events

    def wake(_task: asyncio.Task[None]) -> None:
        waiter = queue.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    task.add_done_callback(wake)
    try:
        while True:
            while events:
                event = events.popleft()
                if queue.full:
                    queue.taken()
                yield event
            if task.done():
                break
            queue.waiter = loop.create_future()
            await queue.waiter
            queue.waiter = None
        while events:
            yield events.popleft()
        task.result()
    finally:
        await cancel_and_wait((task,))
