"""Graceful shutdown: telling the routes that the server is stopping.

uvicorn's own graceful shutdown waits for open connections to close and only then runs
the app's lifespan shutdown, so an app cannot tell from its lifespan that a stream with
a client still attached should wrap up. :func:`begin_shutdown` is that signal. When it
is called, every route made by ``add_routes`` in the process (or on one app):

- answers new runs 503 with ``Retry-After`` (resuming a stream still works);
- lets open streams go on for their ``shutdown_grace`` seconds; those that finish in
  time end as usual (``end``);
- then cancels the runs still going (and their model calls): each of their streams
  gets a last ``event: error`` with ``{"status_code": 503, "message": ...}`` saying the
  server is shutting down, and ends cleanly.

``runnables serve`` calls it when uvicorn starts to shut down (Ctrl-C, SIGTERM), and
sets uvicorn's ``timeout_graceful_shutdown`` a little above the grace as a backstop.
Running uvicorn yourself, call it the same way, for example::

    import uvicorn
    from runnables.serve.shutdown import begin_shutdown

    class Server(uvicorn.Server):
        async def shutdown(self, sockets=None):
            begin_shutdown()  # streams get their grace, then an error event
            await super().shutdown(sockets)

    Server(uvicorn.Config(app, timeout_graceful_shutdown=12)).run()

Without it, shutdown still works, as uvicorn's: streams run until they end or until
``timeout_graceful_shutdown`` cuts them off, and the lifespan's end gives detached
resumable runs their grace.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import TYPE_CHECKING, Any, Protocol

from runnables.errors import InvalidArgumentError

if TYPE_CHECKING:
    from runnables.serve.guards import InFlight
    from runnables.serve.replay import RunStore

__all__ = ["SHUTDOWN_MESSAGE", "StreamShutdown", "begin_shutdown"]

#: The ``message`` of the ``error`` event a stream cut short by shutdown ends with.
SHUTDOWN_MESSAGE = (
    "The server is shutting down and stopped this run; send the request again to run it "
    "on a server that is up."
)


class _Target(Protocol):
    owner: object

    def begin_shutdown(self, grace: float | None) -> None: ...


_TARGETS: weakref.WeakSet[_Target] = weakref.WeakSet()  # type: ignore[type-var]


def register(target: _Target) -> None:
    """Have ``target.begin_shutdown(grace)`` called by :func:`begin_shutdown`."""
    _TARGETS.add(target)


def begin_shutdown(app: object | None = None, *, grace: float | None = None) -> None:
    """Tell the routes that the server is shutting down (see the module docstring).

    ``app``: only the routes added to this app or router (default: every route in the
    process). ``grace``: seconds open streams get to finish, instead of each route's
    ``shutdown_grace``. Safe to call from any thread, and more than once (later calls do
    nothing).
    """
    if grace is not None and not grace >= 0:
        raise InvalidArgumentError(f"begin_shutdown grace must be >= 0 seconds, got {grace!r}.")
    for target in list(_TARGETS):
        if app is None or target.owner is app:
            target.begin_shutdown(grace)


class StreamShutdown:
    """One route's part in a shutdown: no new runs once it begins, and the streams still
    open stopped after the grace (with an ``error`` event naming the reason).

    The route's stream tasks add themselves to ``streams`` while they run; those this
    stops are in ``stopped``, so a stream tells a shutdown from its client leaving.
    """

    def __init__(
        self,
        *,
        owner: object,
        in_flight: InFlight,
        store: RunStore | None,
        shutdown_grace: float,
    ) -> None:
        if not shutdown_grace >= 0:
            raise InvalidArgumentError(
                f"shutdown_grace must be >= 0 seconds, got {shutdown_grace!r}."
            )
        self.owner = owner
        self.in_flight = in_flight
        self.store = store
        self.shutdown_grace = shutdown_grace
        self.streams: set[asyncio.Task[Any]] = set()
        self.stopped: set[asyncio.Task[Any]] = set()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.closing = False
        self.deadline: float | None = None
        register(self)

    def begin_shutdown(self, grace: float | None) -> None:
        """No new runs from now on; open streams are stopped after ``grace`` seconds
        (default ``shutdown_grace``). Safe to call from any thread."""
        if self.closing:
            return
        self.closing = True
        self.in_flight.closing = True
        loop = self.loop
        if loop is None or loop.is_closed():
            return  # nothing was ever served: no stream to stop
        seconds = self.shutdown_grace if grace is None else grace
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._arm(seconds)
        else:
            loop.call_soon_threadsafe(self._arm, seconds)

    def _arm(self, grace: float) -> None:
        loop = asyncio.get_running_loop()
        self.deadline = loop.time() + grace
        loop.call_later(grace, self._stop_streams)

    def _stop_streams(self) -> None:
        if self.store is not None:
            for run in self.store.runs.values():
                if not run.done:
                    run.stop_message = SHUTDOWN_MESSAGE
        for task in list(self.streams):
            if not task.done():
                self.stopped.add(task)
                task.cancel()

    async def drain(self) -> None:
        """At the lifespan's end: let the streams still going have the rest of the grace."""
        left = self.shutdown_grace
        if self.deadline is not None:
            left = max(0.0, self.deadline - asyncio.get_running_loop().time())
        if self.store is not None:
            await self.store.aclose(left, SHUTDOWN_MESSAGE)
        if self.streams:
            # Stopped by _stop_streams when the grace runs out; the margin lets them end.
            await asyncio.wait(list(self.streams), timeout=left + 1.0)
