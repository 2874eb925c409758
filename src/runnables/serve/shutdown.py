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

import weakref
from typing import Protocol

__all__ = ["SHUTDOWN_MESSAGE", "begin_shutdown"]

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
        raise ValueError(f"begin_shutdown grace must be >= 0 seconds, got {grace!r}.")
    for target in list(_TARGETS):
        if app is None or target.owner is app:
            target.begin_shutdown(grace)
