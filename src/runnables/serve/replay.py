"""Resumable streams: each run's SSE events kept in a bounded buffer, so a client that
lost its connection can reconnect with ``Last-Event-ID`` and get the rest without the
chain running again.

How a resumable stream runs:

- The chain runs in a background task (a :class:`BufferedRun`), not in the request's
  task; the connection only reads the run's buffer. Event ids are ``"{run_id}:{seq}"``
  (``seq`` counts from 0, the ``metadata`` event).
- **Reconnecting**: ``GET {path}/stream/{run_id}`` (or ``{path}/stream_events/{run_id}``)
  with the header ``Last-Event-ID: {run_id}:{seq}`` (or ``?last_event_id=``), or the
  original ``POST {path}/stream`` with that header (the id names the run, so the body is
  not looked at). Without an id the run is replayed from its first event. An unknown or
  expired run is 404; a position the buffer has already dropped is 410.
- **Opting in**: only a stream whose request asked for it is resumable: the client
  sends ``Resume-Grace: <seconds>`` (the route's ``resume_grace`` caps it). Without the
  header a stream is not buffered at all: a disconnect cancels its run at once, and
  there is nothing to resume, so its events carry no ids.
- **The disconnect rule**: when the last connection of an unfinished run goes away, the
  run keeps going for its grace; if nobody reconnects in that time it is cancelled and
  its events are dropped (nobody is left to read them).
- **Retention**: a finished run's events stay ``retention`` seconds, then are dropped.
  At most ``max_runs`` runs are held: past it, the oldest finished run is dropped first.
- **Bounds** (the buffer-size rule): at most ``max_events`` events per run are held,
  and at most ``max_bytes`` bytes of them (the frames as written), whichever is reached
  first; one event larger than ``max_bytes`` is still held, alone, so a run never
  stalls on it. An event counts as delivered once it has been written to *some*
  connection's socket (the server cannot see what the client really received).
  Delivered events are dropped oldest first to make room; if the oldest held event has
  not been written yet, the run waits (back-pressure) instead of growing the buffer.
  So a reconnect can always resume from any event still within both bounds of the
  newest one written; from further back it is answered 410, whose body's
  ``first_event_id`` names the oldest event held.
- **No gaps**: a reader gets every event in order or an explicit error, never a gap.
  When two connections read one run (the client's old, half-open one still attached
  and its reconnect), the faster one can make the buffer drop events the slower one
  has not had yet; the slower one then gets an ``error`` event (``status_code`` 410,
  ``first_event_id``) and its stream ends, rather than skipping ahead.
- **Shutdown**: :meth:`RunStore.aclose` waits up to a grace period for the runs still
  going, then cancels them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Callable

from runnables.core.tasks import aclose
from runnables.errors import InvalidArgumentError, RunnablesError
from runnables.serve.sse import dumps, frame

__all__ = ["DEFAULT_MAX_BYTES", "BufferedRun", "ReplayGoneError", "RunStore", "parse_event_id"]

#: The default of ``replay_max_bytes``: 16 MiB of frames held per resumable stream.
DEFAULT_MAX_BYTES = 16 * 1024 * 1024
_CANCELLED = "The run was cancelled."
_OVERTIME = (
    "The stream was still going {:g} s after it started, past this server's limit; it was stopped."
)


class ReplayGoneError(RunnablesError):
    """The events after the requested position are no longer in the buffer."""


def parse_event_id(value: str | None) -> tuple[str, int] | None:
    """``"{run_id}:{seq}"`` as ``(run_id, seq)``; ``None`` for anything else."""
    if not value:
        return None
    run_id, sep, seq = value.strip().rpartition(":")
    if not sep or not run_id or not seq.isdigit():
        return None
    return run_id, int(seq)


class BufferedRun:
    """One run's events, written by its producer task and read by any connections."""

    __slots__ = (
        "_grace_handle",
        "_space",
        "_waiters",
        "attached",
        "delivered",
        "done",
        "frames",
        "grace",
        "held_bytes",
        "max_bytes",
        "max_events",
        "next_seq",
        "run_id",
        "stop_message",
        "stop_status",
        "store",
        "task",
    )

    def __init__(
        self,
        store: RunStore,
        run_id: str,
        max_events: int,
        grace: float,
        max_bytes: int | None = None,
    ) -> None:
        self.store = store
        self.run_id = run_id
        self.max_events = max_events
        self.max_bytes = max_bytes  # None: events are counted, not their size
        self.held_bytes = 0  # the size of the frames held
        self.grace = grace  # seconds the run outlives its last reader, for a reconnect
        self.stop_message: str | None = None  # why the run was stopped, if it was
        self.stop_status = 503
        self.frames: deque[bytes] = deque()
        self.next_seq = 0  # the seq the next event will get
        self.delivered = -1  # the highest seq written to some client
        self.done = False
        self.attached = 0
        self.task: asyncio.Task[None] | None = None
        # One future per waiting reader, all woken by the next frame: a reader that is
        # cancelled cancels only its own (one shared future would need asyncio.shield,
        # two more objects and two callbacks per frame and reader).
        self._waiters: list[asyncio.Future[None]] = []
        self._space: asyncio.Future[None] | None = None  # the producer waits on it
        self._grace_handle: asyncio.TimerHandle | None = None

    @property
    def first_seq(self) -> int:
        """The seq of the oldest event still held."""
        return self.next_seq - len(self.frames)

    def _full(self, size: int) -> bool:
        """Whether one more frame of ``size`` bytes would pass a bound."""
        if len(self.frames) >= self.max_events:
            return True
        limit = self.max_bytes
        # An empty buffer always takes the frame: a frame larger than the cap is held
        # alone rather than stalling the run for good.
        return limit is not None and bool(self.frames) and self.held_bytes + size > limit

    async def _make_room(self, size: int) -> None:
        """Drop delivered frames, or wait for a reader to take some, until a frame of
        ``size`` bytes fits."""
        while self._full(size):
            if self.first_seq <= self.delivered:
                self.held_bytes -= len(self.frames.popleft())
            else:
                self._space = asyncio.get_running_loop().create_future()
                await self._space

    def _append(self, chunk: bytes) -> None:
        self.frames.append(chunk)
        self.held_bytes += len(chunk)
        self.next_seq += 1
        self._wake()

    def _wake(self) -> None:
        waiters = self._waiters
        if waiters:
            self._waiters = []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

    async def produce(self, events: AsyncIterator[tuple[str, str | None]]) -> None:
        """Run ``events`` to its end, buffering each one (the body of the run's task)."""
        try:
            async for event, data in events:
                chunk = frame(event, data, f"{self.run_id}:{self.next_seq}")
                # Awaited only when the buffer is full: a coroutine per event would be
                # one more object per chunk living while the run waits for its next.
                if self._full(len(chunk)):
                    await self._make_room(len(chunk))
                self._append(chunk)
        except asyncio.CancelledError:
            # A reader still attached (at shutdown) learns why the stream stops here.
            message = dumps(
                {"status_code": self.stop_status, "message": self.stop_message or _CANCELLED}
            )
            chunk = frame("error", message, f"{self.run_id}:{self.next_seq}")
            self.frames.append(chunk)
            self.held_bytes += len(chunk)
            self.next_seq += 1
            raise
        finally:
            await aclose(events)
            self.done = True
            self._wake()
            self.store._finished(self)

    def first_event_id(self) -> str:
        """The id of the oldest event still held: where a client can resume from."""
        return f"{self.run_id}:{self.first_seq}"

    def gone(self, after: int) -> dict[str, object]:
        """The 410 answer for a reader that asked for the events after seq ``after``
        once the buffer had dropped some of them."""
        return {
            "status_code": 410,
            "message": f"The events after {self.run_id}:{after} are no longer buffered "
            f"(another connection of this run already received them, or nobody read them "
            f"within the buffer of {self.max_events} events{self._bytes_bound()}); the "
            f"oldest held is "
            f"{self.first_event_id()}. Resume from there with Last-Event-ID, accepting the "
            "gap, or start a new run.",
            "first_event_id": self.first_event_id(),
        }

    def _bytes_bound(self) -> str:
        return "" if self.max_bytes is None else f" or {self.max_bytes} bytes"

    async def read(self, after: int) -> AsyncGenerator[bytes, None]:
        """The frames after seq ``after`` (``-1``: all), following the run until it ends.

        Every frame comes in order with none missing: if the buffer drops frames this
        reader has not had yet (another reader let them go), the reader gets an
        ``error`` event with status 410 and ``first_event_id``, and ends.
        """
        seq = after + 1
        if seq < self.first_seq:
            raise ReplayGoneError(str(self.gone(after)["message"]))
        self._attach()
        try:
            while True:
                first = self.first_seq
                if seq < first:
                    # Another reader (typically the client's old, half-open connection)
                    # let these go while this one lagged. Skipping ahead would be a
                    # silent gap, so the stream ends here with an explicit 410 instead;
                    # the error has no id, so the client's Last-Event-ID stays on the
                    # last event it did get.
                    yield frame("error", dumps(self.gone(seq - 1)))
                    return
                if seq < self.next_seq:
                    chunk = self.frames[seq - first]
                    yield chunk
                    if seq > self.delivered:
                        self.delivered = seq
                        space = self._space
                        if space is not None and not space.done():
                            self._space = None
                            space.set_result(None)
                    seq += 1
                    continue
                if self.done:
                    return
                waiter = asyncio.get_running_loop().create_future()
                self._waiters.append(waiter)
                await waiter
        finally:
            self._detach()

    def _attach(self) -> None:
        self.attached += 1
        if self._grace_handle is not None:
            self._grace_handle.cancel()
            self._grace_handle = None

    def _detach(self) -> None:
        self.attached -= 1
        if self.attached or self.done or self.task is None:
            return
        if self.grace <= 0:
            self._abandon()
        else:
            self._grace_handle = asyncio.get_running_loop().call_later(self.grace, self._abandon)

    def _abandon(self) -> None:
        self._grace_handle = None
        if not self.attached and self.task is not None:
            # Nobody reads this run any more: its events are of no use to anyone.
            self.store.runs.pop(self.run_id, None)
            self.task.cancel()

    def stop(self, message: str, status: int = 503) -> None:
        """Cancel the run; attached readers get an ``error`` event (``status``, default
        503) with ``message``."""
        if self.task is not None and not self.task.done():
            self.stop_message = message
            self.stop_status = status
            self.task.cancel()


class RunStore:
    """The buffered runs of one ``add_routes`` call, by run id.

    ``resume_grace`` is the most a request may ask for with ``Resume-Grace``;
    ``max_runs`` the most runs held at once (``None``: no cap); ``max_events`` and
    ``max_bytes`` the most events, and bytes of them, held per run (``max_bytes=None``:
    no byte cap).
    """

    def __init__(
        self,
        *,
        max_events: int = 10_000,
        max_bytes: int | None = DEFAULT_MAX_BYTES,
        retention: float = 60.0,
        resume_grace: float = 5.0,
        max_runs: int | None = 1_000,
    ) -> None:
        if max_events < 2:
            raise InvalidArgumentError(f"replay_max_events must be at least 2, got {max_events!r}.")
        if max_bytes is not None and (isinstance(max_bytes, bool) or max_bytes < 1):
            raise InvalidArgumentError(
                f"replay_max_bytes must be a number of bytes >= 1 or None, got {max_bytes!r}; "
                f"the default is {DEFAULT_MAX_BYTES} (16 MiB per stream)."
            )
        if max_runs is not None and max_runs < 1:
            raise InvalidArgumentError(
                f"replay_max_runs must be at least 1 or None, got {max_runs!r}."
            )
        if retention < 0 or resume_grace < 0:
            raise InvalidArgumentError(
                f"replay_retention and resume_grace must be >= 0 seconds, got {retention!r} "
                f"and {resume_grace!r}."
            )
        self.max_events = max_events
        self.max_bytes = max_bytes
        self.retention = retention
        self.resume_grace = resume_grace
        self.max_runs = max_runs
        # Insertion order is start order, so the first finished run found is the oldest.
        self.runs: dict[str, BufferedRun] = {}
        self._on_finish: dict[str, Callable[[], None]] = {}
        self._closing = False

    def start(
        self,
        run_id: str,
        events: AsyncIterator[tuple[str, str | None]],
        on_finish: Callable[[], None] | None = None,
        *,
        grace: float | None = None,
        deadline: float | None = None,
    ) -> BufferedRun:
        """Start running ``events`` in the background and buffer what it yields.

        ``grace``: how long the run outlives its last reader (default and cap: the
        store's ``resume_grace``). ``deadline``: seconds after which a run still going
        is stopped (504), even one held up by a reader that does not read.
        """
        grace = self.resume_grace if grace is None else min(grace, self.resume_grace)
        if self.max_runs is not None and len(self.runs) >= self.max_runs:
            self._evict()
        run = BufferedRun(self, run_id, self.max_events, grace, self.max_bytes)
        self.runs[run_id] = run
        if on_finish is not None:
            self._on_finish[run_id] = on_finish
        loop = asyncio.get_running_loop()
        run.task = loop.create_task(run.produce(events))
        if deadline is not None:
            timer = loop.call_later(deadline, run.stop, _OVERTIME.format(deadline), 504)
            run.task.add_done_callback(lambda _: timer.cancel())
        return run

    def get(self, run_id: str) -> BufferedRun | None:
        """The run with this id, if its events are still held."""
        return self.runs.get(run_id)

    def _evict(self) -> None:
        # The oldest finished run goes first; runs still going are never dropped here
        # (the in-flight cap bounds those), so the store may briefly exceed max_runs.
        for run_id, run in self.runs.items():
            if run.done:
                del self.runs[run_id]
                return

    def _finished(self, run: BufferedRun) -> None:
        callback = self._on_finish.pop(run.run_id, None)
        if callback is not None:
            callback()
        if self.retention <= 0 or self._closing:
            self.runs.pop(run.run_id, None)
        elif self.runs.get(run.run_id) is run:
            asyncio.get_running_loop().call_later(self.retention, self._expire, run)

    def _expire(self, run: BufferedRun) -> None:
        if self.runs.get(run.run_id) is run:
            del self.runs[run.run_id]

    async def aclose(self, grace: float, message: str = _CANCELLED) -> None:
        """Let the runs still going finish for up to ``grace`` seconds, then stop them
        (readers still attached get an ``error`` event with ``message``)."""
        self._closing = True
        runs = [r for r in self.runs.values() if r.task is not None and not r.task.done()]
        if runs:
            tasks = [r.task for r in runs if r.task is not None]
            _, pending = await asyncio.wait(tasks, timeout=max(0.0, grace))
            for run in runs:
                if run.task in pending:
                    run.stop(message)
            with contextlib.suppress(Exception):
                await asyncio.gather(*pending, return_exceptions=True)
        self.runs.clear()
