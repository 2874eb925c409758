"""Where a sync function runs when it is called from async code.

The policy, in order:

1. ``offload="always"`` on a step: always on a worker thread.
2. ``offload="never"``: always inline on the event loop (you promise it is cheap).
3. ``offload="auto"`` (the default): run inline and time it. A cheap function pays no
   thread hop, which is what makes a chain of small functions close to hand-written
   asyncio. If one call blocks the loop longer than the threshold (default 20 ms), the
   step is marked *blocking*: a :class:`~runnables.errors.BlockingStepWarning` names it
   and suggests an async function, and every later call of that step runs on a worker
   thread, so the loop stays free. The call that was measured has already blocked once;
   mark known-slow functions with ``offload="always"`` to avoid even that.
   A step marked this way is not marked for good: one call (of a plain function or a
   generator's ``next()``) :data:`RECHECK_AFTER` seconds later runs inline and timed
   again, and a fast one unmarks the step (a brief CPU stall, such as throttling, can
   make a trivial step look slow once). A step still slow waits twice as long for its
   next re-check, up to an hour, so a really blocking step costs the loop one call per
   hour at most.

Steps driven synchronously (``invoke`` with no event loop) always run inline: the
caller is waiting anyway. They are timed too: a step found slow there is marked
(without a warning), so a sync ``batch`` moves its remaining inputs to the bridge loop,
where the slow step runs on worker threads and the inputs overlap, as they do with
langchain-core's thread-pool ``batch``. Tune the default with :func:`set_offload_policy` or the
environment variables ``RUNNABLES_OFFLOAD_THRESHOLD`` (seconds) and
``RUNNABLES_OFFLOAD_WARN`` (``0`` to silence the warning).
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from typing import Literal

from runnables.errors import BlockingStepWarning, ConfigError

__all__ = ["OffloadMode", "OffloadPolicy", "get_offload_policy", "set_offload_policy"]

OffloadMode = Literal["auto", "always", "never"]
OFFLOAD_MODES: tuple[str, ...] = ("auto", "always", "never")


@dataclass(frozen=True)
class OffloadPolicy:
    """The process-wide defaults for ``offload="auto"`` steps."""

    threshold: float = 0.02
    """Seconds a sync call may hold the event loop before its step is moved to a thread."""
    warn: bool = True
    """Whether to emit a BlockingStepWarning when a step is moved."""


def _from_env() -> OffloadPolicy:
    raw = os.environ.get("RUNNABLES_OFFLOAD_THRESHOLD")
    threshold = 0.02
    if raw:
        try:
            threshold = float(raw)
        except ValueError:
            raise ConfigError(
                f"RUNNABLES_OFFLOAD_THRESHOLD must be a number of seconds, got {raw!r}."
            ) from None
    return OffloadPolicy(threshold, os.environ.get("RUNNABLES_OFFLOAD_WARN", "1") != "0")


_policy = _from_env()
#: Read on the hot path; a module global is the cheapest lookup.
THRESHOLD = _policy.threshold
#: Bumped whenever a step is found blocking (or cheap again), so cached "needs a loop"
#: answers refresh.
generation = 0
#: Seconds after which a step marked blocking is timed inline again (see the docstring).
RECHECK_AFTER = 60.0
#: The longest wait between two re-checks of a step that stays slow.
RECHECK_MAX = 3600.0


def get_offload_policy() -> OffloadPolicy:
    """The policy in force."""
    return _policy


def set_offload_policy(*, threshold: float | None = None, warn: bool | None = None) -> None:
    """Change the process-wide policy for ``offload="auto"`` steps.

    >>> set_offload_policy(threshold=0.05)   # allow 50 ms on the loop before moving a step
    """
    global _policy, THRESHOLD
    if threshold is not None and (not isinstance(threshold, (int, float)) or threshold <= 0):
        raise ConfigError(f"threshold must be a number of seconds above 0, got {threshold!r}.")
    _policy = OffloadPolicy(
        threshold=_policy.threshold if threshold is None else float(threshold),
        warn=_policy.warn if warn is None else warn,
    )
    THRESHOLD = _policy.threshold


def check_mode(mode: str) -> None:
    if mode not in OFFLOAD_MODES:
        raise ConfigError(f"offload must be one of {OFFLOAD_MODES!r}, got {mode!r}.")


def found_cheap() -> None:
    """Record that a step marked blocking was fast when re-checked, and is unmarked."""
    global generation
    generation += 1


def found_blocking(step_name: str, seconds: float, in_loop: bool = True) -> None:
    """Record that a step is slow; warn once for it if it blocked an event loop.

    A step found slow in a synchronous drive blocked no loop (the caller was waiting
    anyway), so it is marked silently: later async calls offload it, and sync ``batch``
    moves the rest of its inputs to the bridge loop, where they overlap on threads.
    """
    global generation
    generation += 1
    if _policy.warn and in_loop:
        warnings.warn(
            f"Step {step_name!r} is a sync function that blocked the event loop for "
            f"{seconds * 1000:.0f} ms (threshold {_policy.threshold * 1000:.0f} ms); its later "
            "calls will run on a worker thread. Make it an async function, or pass "
            "offload='always' to RunnableLambda to move it from the first call.",
            BlockingStepWarning,
            stacklevel=2,
        )
