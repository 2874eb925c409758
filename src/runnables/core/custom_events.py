"""Custom events: user code reports progress into ``astream_events`` and callbacks.

``dispatch_custom_event("progress", {"done": 3})`` inside a step's function emits an
``on_custom_event`` event (langchain-core's v2 shape: ``name``, ``data``, and the
``run_id``/``parent_ids``/``tags``/``metadata`` of the step that dispatched it) and calls
callback handlers' ``on_custom_event``. When nothing observes the call (no
``astream_events``, no callbacks, no listeners) it does nothing and costs one lookup.
"""

from __future__ import annotations

from typing import Any

from runnables.core.config import CURRENT, RunnableConfig
from runnables.errors import InvalidArgumentError

__all__ = ["adispatch_custom_event", "dispatch_custom_event"]


def _notify(name: str, data: Any) -> list[Any]:
    ctx = CURRENT.get()
    if ctx is None or not ctx.tracers or ctx.run is None:
        return []
    if not isinstance(name, str) or not name:
        raise InvalidArgumentError(
            f"A custom event needs a name (a non-empty string), got {name!r}."
        )
    pending: list[Any] = []
    for tracer in ctx.tracers:
        tracer.on_custom_event(name, data, ctx.run)
        queued = tracer.pending
        if queued:
            pending.extend(queued)
            del queued[:]
    return pending


def dispatch_custom_event(name: str, data: Any, *, config: RunnableConfig | None = None) -> None:
    """Emit a custom event from inside a step's function (see the module docstring).

    ``config`` is accepted for langchain-core compatibility; the step's run is found from
    the call the function runs in. Async callback handlers are awaited by the step.

    >>> from runnables import RunnableLambda
    >>> def work(x):
    ...     dispatch_custom_event("progress", {"step": 1})
    ...     return x
    >>> RunnableLambda(work).invoke(1)  # nobody listens: no event, no cost
    1
    """
    pending = _notify(name, data)
    if pending:
        ctx = CURRENT.get()
        # Handed back to the running step, which awaits them before it goes on.
        for tracer in ctx.tracers if ctx is not None else ():
            if tracer.pending is not None:
                tracer.pending.extend(pending)
                break


async def adispatch_custom_event(
    name: str, data: Any, *, config: RunnableConfig | None = None
) -> None:
    """Emit a custom event from async code in a step, awaiting async callback handlers."""
    for awaitable in _notify(name, data):
        await awaitable
