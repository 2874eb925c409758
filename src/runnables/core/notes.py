"""The note that names the step where a user's exception happened.

A user's exception is re-raised unchanged; ``note_step`` adds one note naming the
innermost step (and marks the exception, so outer steps add none).
"""

from __future__ import annotations

import asyncio

__all__ = ["note_step"]

_NOTED = "__runnables_step__"


def note_step(exc: BaseException, step: str) -> None:
    """Add one note naming the innermost step where a user's exception happened."""
    if isinstance(exc, (asyncio.CancelledError, GeneratorExit, KeyboardInterrupt, SystemExit)):
        return
    if getattr(exc, _NOTED, None) is None:
        try:
            setattr(exc, _NOTED, step)
        except AttributeError:  # exceptions with __slots__: skip the marker, keep the note
            pass
        exc.add_note(f"(raised in runnables step {step!r})")
