"""Helpers shared by the engine tests (imported as ``engine_testing``: a module named
``conftest`` would clash with the other conftest files pytest loads)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from typing import TypeVar

T = TypeVar("T")


class Overlap:
    """Counts how many callers are inside a region at once and remembers the peak."""

    def __init__(self) -> None:
        self.now = 0
        self.peak = 0
        self.entered = 0

    def enter(self) -> None:
        self.now += 1
        self.entered += 1
        self.peak = max(self.peak, self.now)

    def leave(self) -> None:
        self.now -= 1


def other_tasks() -> set[asyncio.Task[object]]:
    """Every task on the running loop except the current one."""
    me = asyncio.current_task()
    return {t for t in asyncio.all_tasks() if t is not me}


async def settle(rounds: int = 3) -> None:
    """Let the loop run callbacks already scheduled (finalizers, cancellations)."""
    for _ in range(rounds):
        await asyncio.sleep(0)


def closable(stream: AsyncIterator[T]) -> AsyncGenerator[T, None]:
    """The stream as the async generator ``astream`` documents, so a test can ``aclose`` it.

    ``astream`` is typed ``AsyncIterator`` (as langchain-core's, so subclasses may return
    any async iterator); runnables' own return async generators, and this checks it.
    """
    assert isinstance(stream, AsyncGenerator), f"expected an async generator, got {stream!r}"
    return stream
