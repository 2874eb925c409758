"""Deadlines: one time budget for a whole call, shared by nested steps and retries.

A deadline is an absolute ``time.monotonic()`` value in the call's context. The call
that sets it runs under a timer; when the timer fires it records which leaf steps are
running and cancels the work, and the call raises
:class:`~runnables.errors.StepTimeoutError` naming them. Nested steps see the same
deadline (a nested ``with_timeout`` can only shorten it), and retries stop waiting
when it has passed.

Driven synchronously (``invoke`` with no event loop) a sync function cannot be
interrupted; the deadline is checked after each step and the error names the step
that overran.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from runnables.core.config import Context
from runnables.core.tasks import aclose
from runnables.errors import StepTimeoutError

__all__ = [
    "check_after_sync_step",
    "deadline_stream",
    "next_with_deadline",
    "remaining",
    "run_with_deadline",
]

T = TypeVar("T")


def remaining(ctx: Context) -> float | None:
    """Seconds left before the call's deadline (None: no deadline)."""
    if ctx.deadline is None:
        return None
    return ctx.deadline - time.monotonic()


def _error(ctx: Context, running: tuple[str, ...]) -> StepTimeoutError:
    return StepTimeoutError(ctx.timeout or 0.0, running[-1] if running else None, running)


async def run_with_deadline(make: Callable[[], Awaitable[T]], ctx: Context) -> T:
    """Await ``make()`` and raise StepTimeoutError if the deadline passes first."""
    left = remaining(ctx)
    assert left is not None
    if left <= 0:
        raise _error(ctx, tuple(ctx.running or ()))
    task = asyncio.current_task()
    assert task is not None
    fired: list[tuple[str, ...]] = []

    def expire() -> None:
        fired.append(tuple(ctx.running or ()))
        task.cancel()

    handle = asyncio.get_running_loop().call_later(left, expire)
    try:
        return await make()
    except asyncio.CancelledError:
        if fired and task.uncancel() == 0:
            raise _error(ctx, fired[0]) from None
        raise
    finally:
        handle.cancel()


async def next_with_deadline(agen: AsyncIterator[T], ctx: Context) -> T:
    """The next item of a stream, under the call's deadline."""
    return await run_with_deadline(agen.__anext__, ctx)


async def deadline_stream(agen: AsyncIterator[T], ctx: Context) -> AsyncGenerator[T, None]:
    """``agen``'s items, each pulled under the call's deadline; ``agen`` closed at the end."""
    try:
        while True:
            try:
                chunk = await next_with_deadline(agen, ctx)
            except StopAsyncIteration:
                return
            yield chunk
    finally:
        await aclose(agen)


def check_after_sync_step(ctx: Context, step: str) -> None:
    """In a synchronous drive, raise if the step just run overran the deadline."""
    if ctx.deadline is not None and time.monotonic() > ctx.deadline:
        raise StepTimeoutError(ctx.timeout or 0.0, step, (step,))


_ = Any
