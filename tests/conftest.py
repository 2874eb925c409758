"""Shared fixtures for the engine tests."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from runnables import get_offload_policy, set_offload_policy


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


@pytest.fixture
def overlap() -> Overlap:
    """A fresh overlap counter."""
    return Overlap()


@pytest.fixture
def offload_policy() -> Iterator[None]:
    """Restore the process-wide offload policy after a test changes it."""
    before = get_offload_policy()
    try:
        yield
    finally:
        set_offload_policy(threshold=before.threshold, warn=before.warn)


def other_tasks() -> set[asyncio.Task[object]]:
    """Every task on the running loop except the current one."""
    me = asyncio.current_task()
    return {t for t in asyncio.all_tasks() if t is not me}


async def settle(rounds: int = 3) -> None:
    """Let the loop run callbacks already scheduled (finalizers, cancellations)."""
    for _ in range(rounds):
        await asyncio.sleep(0)
