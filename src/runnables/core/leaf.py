"""The leaf scope: how a step runs a child step, decided in one place.

A container (sequence, parallel, branch, binding, retry...) never runs a child by hand,
and a leaf (a function, a model, a tool, a remote call) never takes the budget by hand:
each calls one function of this module, and this module alone decides

- tracing: :func:`call` and :func:`call_transform` add a run record only when someone
  listens (``ctx.tracers``); :func:`traced` and :func:`traced_transform` always do, with
  the container's tag (``seq:step:N``, ``map:key:K``);
- the plain path: :func:`run_in_turn` and :func:`call_plain` call a leaf's plain
  function (its :class:`LeafHooks` hooks) directly, and :func:`timed` measures a sync
  function's time on the event loop for the offload policy (three paths too hot for a
  call write it out, and say so);
- the concurrency budget: :func:`run_leaf` takes a slot for an invoked leaf and marks it
  held (``HOLDING``), so a nested call made by the leaf's code lends it to its children
  (:func:`lend_slot`, :func:`reclaim_slot`); :func:`run_plain_leaf` does the same in
  one frame for a plain async function, and a batch's worker that runs only such a
  function keeps the held mark between its inputs (:func:`plain_leaf`,
  :func:`mark_worker`, :func:`run_marked_leaf`); a streaming leaf holds its slot only while
  its own code runs (:func:`pull_in_step`), or for the whole stream when the stream is one
  request that is in flight until it ends (:func:`hold_stream`: models, remote calls);
- the deadline's bookkeeping: the running leaf is named in ``ctx.running`` for a
  timeout's error, and a sync drive checks the deadline after each leaf;
- tracing: a traced child goes through ``tracing.traced_ainvoke``/``traced_atransform``
  (:func:`call`, :func:`traced`), and only there; the OpenTelemetry context per step
  is made current by tracing's ``enter_run``/``in_run_scope`` (its ``OTEL HOOK``
  section) while the step's own code runs; ``runnables.otel`` sets that scope in its
  tracer's ``on_start``.

Nothing here costs a call that does not use it: each function tests ``ctx.tracers``,
``ctx.limiter`` and ``ctx.running`` once and takes the plain path when they are empty.
This module sits under ``base.py`` (it imports no step class), so every layer above it
can use it.
"""

from __future__ import annotations

import contextvars
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from time import perf_counter
from typing import TYPE_CHECKING, Any, TypeVar

from runnables.core import offload as _offload
from runnables.core.config import CURRENT, Context
from runnables.core.deadline import check_after_sync_step
from runnables.core.limiter import HOLDING, Limiter
from runnables.core.notes import note_step
from runnables.core.tasks import aclose
from runnables.core.tracing import traced_ainvoke, traced_atransform

if TYPE_CHECKING:
    from runnables.core.base import Runnable

T = TypeVar("T")

__all__ = [
    "LeafHooks",
    "LendingInput",
    "Slot",
    "call",
    "call_plain",
    "call_transform",
    "hold_stream",
    "holds",
    "lend_slot",
    "mark_worker",
    "plain_function",
    "plain_leaf",
    "pull_in_step",
    "reclaim_slot",
    "run_in_turn",
    "run_leaf",
    "run_marked_leaf",
    "run_plain_leaf",
    "run_returned",
    "timed",
    "traced",
    "traced_transform",
    "unmark_worker",
    "wait_without_slot",
]


class LeafHooks:
    """What a step tells the leaf scope about how it runs (``Runnable`` inherits these).

    Only this module reads them: a container asks :func:`run_in_turn` or
    :func:`call_plain` to run a child, never the hooks themselves.
    """

    #: Whether this step does work of its own (takes a concurrency slot, is timed).
    _is_leaf: bool = False
    #: A plain sync function equivalent to this step, if it has one: the plain path calls
    #: it directly (no coroutine) when nothing observes or limits the call. It must be
    #: cheap to look up, and it is timed under the offload policy.
    _inline: Callable[[Any], Any] | None = None
    #: Likewise, a plain async function equivalent to this step.
    _ainline: Callable[[Any], Awaitable[Any]] | None = None

    def _found_blocking(self, spent: float, in_loop: bool = True) -> None:
        """Called when this step's ``_inline`` function took ``spent`` s (over the
        threshold); ``in_loop`` says whether it blocked an event loop doing so."""

    async def _run_returned(self, runnable: Runnable[Any, Any], input: Any, ctx: Context) -> Any:
        """What to do when this step's ``_inline`` function returned a runnable.

        Only functions (``RunnableLambda``) run it; other steps pass it on as a value.
        """
        return runnable


# ---------------------------------------------------------------------- running a child


def call(
    step: Runnable[Any, Any], input: Any, ctx: Context, tag: str | None = None
) -> Awaitable[Any]:
    """How a step runs a child: traced when someone listens (its run tagged ``tag``, if
    given), plain otherwise."""
    if ctx.tracers:
        return traced_ainvoke(step, input, ctx, tag)
    return step._ainvoke(input, ctx)


def call_transform(
    step: Runnable[Any, Any], inputs: AsyncIterator[Any], ctx: Context, tag: str | None = None
) -> AsyncIterator[Any]:
    """How a step streams through a child: traced when someone listens (its run tagged
    ``tag``, if given), plain otherwise."""
    if ctx.tracers:
        return traced_atransform(step, inputs, ctx, tag)
    return step._atransform(inputs, ctx)


def traced(
    step: Runnable[Any, Any], input: Any, ctx: Context, tag: str | None = None
) -> Awaitable[Any]:
    """Run a step with a run record (tagged ``tag``, if given), whether or not
    ``ctx.tracers`` is set: a container calls this when a child has listeners of its
    own, a binding with listeners for its own run."""
    return traced_ainvoke(step, input, ctx, tag)


def traced_transform(
    step: Runnable[Any, Any], inputs: AsyncIterator[Any], ctx: Context, tag: str | None = None
) -> AsyncIterator[Any]:
    """Stream through a child with a run record tagged ``tag`` (see :func:`traced`)."""
    return traced_atransform(step, inputs, ctx, tag)


def timed(
    step: Runnable[Any, Any], fn: Callable[..., Any], start: float, in_loop: bool, *args: Any
) -> Any:
    """Call a leaf's sync function ``fn(*args)`` inline; tell the step if it took more
    than the offload threshold since ``start`` (a ``perf_counter()`` reading).

    ``in_loop``: whether the call blocked an event loop (a sync drive blocks none). A
    user's exception gets the step's note and is re-raised unchanged.

    Three paths too hot for a call write it out, each saying so: :func:`run_in_turn`,
    ``RunnableLambda``'s plain ``ainvoke`` and its pull of a sync generator's chunk.
    """
    try:
        out = fn(*args)
    except BaseException as exc:
        note_step(exc, step.get_name())
        raise
    spent = perf_counter() - start
    if spent > _offload.THRESHOLD:
        step._found_blocking(spent, in_loop)
    return out


def plain_function(step: Runnable[Any, Any]) -> Callable[[Any], Any] | None:
    """``step``'s plain sync function, for :func:`call_plain` (``None`` if it has none:
    run it with :func:`call`)."""
    return step._inline


def call_plain(
    step: Runnable[Any, Any], input: Any, start: float, in_loop: bool
) -> tuple[Any, float]:
    """Call ``step``'s plain sync function (see :func:`plain_function`) on ``input``,
    timed from ``start`` as :func:`timed` does; its output and the seconds since
    ``start``."""
    out = timed(step, step._inline, start, in_loop, input)  # type: ignore[arg-type]
    return out, perf_counter() - start


def run_returned(
    step: Runnable[Any, Any], out: Runnable[Any, Any], input: Any, ctx: Context
) -> Awaitable[Any]:
    """Run the runnable that ``step``'s plain function returned for ``input`` (only a
    function runs it; any other step passes it on as a value)."""
    return step._run_returned(out, input, ctx)


async def run_in_turn(steps: Sequence[Runnable[Any, Any]], input: Any, ctx: Context) -> Any:
    """Run ``steps`` one after another on the plain path (nothing traces, limits or
    times out the call): each step's plain function is called directly, one clock read
    per step.

    Each sync step is timed from the previous clock read, so a step that blocks the loop
    is still found (see ``offload``) without paying for two clock reads. The timing is
    :func:`timed`'s, written out here because this loop is the hottest in the library.
    """
    in_loop = not ctx.sync
    token = None if ctx.is_root else CURRENT.set(ctx)
    try:
        start = perf_counter()
        for step in steps:
            inline = step._inline
            if inline is not None:
                prev = input
                try:
                    input = inline(input)
                except BaseException as exc:
                    note_step(exc, step.get_name())
                    raise
                now = perf_counter()
                if now - start > _offload.THRESHOLD:
                    step._found_blocking(now - start, in_loop)
                start = now
                if isinstance(input, LeafHooks):  # a runnable (every Runnable is one)
                    input = await step._run_returned(input, prev, ctx)  # type: ignore[arg-type]
                continue
            ainline = step._ainline
            if ainline is not None and not ctx.sync:
                try:
                    input = await ainline(input)
                except BaseException as exc:
                    note_step(exc, step.get_name())
                    raise
            else:
                input = await step._ainvoke(input, ctx)
            start = perf_counter()
        return input
    finally:
        if token is not None:
            CURRENT.reset(token)


# ---------------------------------------------------------------------- the budget


async def run_leaf(
    step: Runnable[Any, Any], ctx: Context, work: Callable[[], Awaitable[Any]]
) -> Any:
    """Run a leaf's work under the call's concurrency budget and deadline bookkeeping.

    Leaves call this only when ``ctx.limiter`` or ``ctx.running`` is set; the plain path
    calls ``work()`` directly. The slot is marked held while the work runs, so a nested
    call made by the leaf's code lends it to its own children.
    """
    limiter = ctx.limiter
    running = ctx.running
    name = step.get_name() if running is not None else ""
    if limiter is not None:
        await limiter.acquire()
        token = HOLDING.set(limiter)
    if running is not None:
        running.append(name)
    try:
        out = await work()
    finally:
        if running is not None:
            running.remove(name)
        if limiter is not None:
            HOLDING.reset(token)
            limiter.release()
    if ctx.sync and ctx.deadline is not None:
        check_after_sync_step(ctx, name)
    return out


async def run_plain_leaf(
    step: Runnable[Any, Any], ctx: Context, fn: Callable[[Any], Awaitable[Any]], input: Any
) -> Any:
    """:func:`run_leaf` for a leaf whose work is ``await fn(input)``, a plain async
    function (its ``_ainline``), under a budget and no deadline (``ctx.running`` is None).

    The same slot, ``HOLDING`` and ``CURRENT`` as :func:`run_leaf` around the leaf's own
    ``_run``, and the step's note on a user's exception, in one frame where those take
    three, a closure and a coroutine for a free slot: an async function under
    ``max_concurrency`` is what ``abatch`` and every batch-job row run (W4, W17).
    """
    limiter = ctx.limiter
    assert limiter is not None and ctx.running is None
    if not limiter.try_acquire():
        await limiter.acquire()
    holding = HOLDING.set(limiter)
    current = CURRENT.set(ctx)
    try:
        return await fn(input)
    except BaseException as exc:
        note_step(exc, step.get_name())
        raise
    finally:
        CURRENT.reset(current)
        HOLDING.reset(holding)
        limiter.release()


def mark_worker(ctx: Context) -> None:
    """Mark the running task as running ``ctx``'s leaves, until it ends: ``HOLDING`` and
    ``CURRENT`` set once, for :func:`run_marked_leaf`.

    For a batch's worker task, which runs nothing else (its inputs are read in a context
    of their own): two context-variable sets and two resets a leaf less. Called before
    each leaf, it sets only what a leaf's own code changed (a lend not reclaimed).
    """
    limiter = ctx.limiter
    if HOLDING.get() is not limiter:
        HOLDING.set(limiter)
    if CURRENT.get() is not ctx:
        CURRENT.set(ctx)


def unmark_worker(before: contextvars.Context) -> None:
    """Undo :func:`mark_worker`: ``HOLDING`` and ``CURRENT`` as they are in ``before``
    (the worker's context from before it was marked)."""
    HOLDING.set(before.get(HOLDING))
    CURRENT.set(before.get(CURRENT))


async def run_marked_leaf(
    step: Runnable[Any, Any], ctx: Context, fn: Callable[[Any], Awaitable[Any]], input: Any
) -> Any:
    """:func:`run_plain_leaf` in a task marked by :func:`mark_worker`: the slot is taken
    and given back around ``await fn(input)``, and a user's exception noted."""
    limiter = ctx.limiter
    assert limiter is not None and ctx.running is None
    if not limiter.try_acquire():
        await limiter.acquire()
    try:
        return await fn(input)
    except BaseException as exc:
        note_step(exc, step.get_name())
        raise
    finally:
        limiter.release()


def plain_leaf(step: Runnable[Any, Any], ctx: Context) -> Callable[[Any], Awaitable[Any]] | None:
    """The plain async function :func:`call` would run ``step``'s work as under ``ctx``
    with :func:`run_plain_leaf` (a budget, no listeners, no deadline), or None.

    For a batch's workers, which run one step on input after input: they look it up
    once and call ``run_plain_leaf`` themselves (then :func:`run_returned` if it returns
    a runnable), where ``call`` would decide the same again for every input.
    """
    if ctx.tracers or ctx.limiter is None or ctx.running is not None:
        return None
    return step._ainline


def lend_slot(ctx: Context) -> Limiter | None:
    """A nested call made by a leaf that holds a slot lends that slot to its children:
    release it now and return it, for :func:`reclaim_slot` when the nested call ends."""
    if ctx.limiter is None:
        return None
    held = HOLDING.get()
    if held is None:
        return None
    HOLDING.set(None)
    held.release()
    return held


async def reclaim_slot(lent: Limiter) -> None:
    """Take back the slot :func:`lend_slot` lent, and mark it held again."""
    await lent.acquire()
    HOLDING.set(lent)


def _take_unconditionally(limiter: Limiter) -> None:
    # The caller (run_leaf) will release this slot in its finally; if we were cancelled
    # while waiting to get it back, take it anyway so that release balances. The budget
    # is exceeded by one only while the cancelled call unwinds.
    node: Limiter | None = limiter
    while node is not None:
        node.in_use += 1
        node = node.parent


async def wait_without_slot(wait: Callable[[], Awaitable[T]]) -> T:
    """Await ``wait()`` with the leaf's held concurrency slot given back meanwhile.

    A leaf running under ``max_concurrency`` holds one slot; a wait that is not work
    (a rate limit, an endpoint's concurrency limit) should not keep other steps out.
    The slot is taken back before returning (or raising).
    """
    held = HOLDING.get()
    if held is None:
        return await wait()
    held.release()
    try:
        return await wait()
    finally:
        try:
            await held.acquire()
        except BaseException:
            _take_unconditionally(held)
            raise


class Slot:
    """The budget slot of a streaming leaf, held only while the leaf's own code runs."""

    __slots__ = ("held", "limiter")

    def __init__(self, limiter: Limiter) -> None:
        self.limiter = limiter
        self.held = False

    async def take(self) -> None:
        await self.limiter.acquire()
        self.held = True

    def give_back(self) -> None:
        if self.held:
            self.held = False
            self.limiter.release()


class LendingInput(AsyncIterator[Any]):
    """Input chunks of a streaming leaf: waiting for the upstream step gives the slot back,
    so the upstream step can run even under ``max_concurrency=1``."""

    __slots__ = ("_slot", "_source")

    def __init__(self, source: AsyncIterator[Any], slot: Slot) -> None:
        self._source = source
        self._slot = slot

    def __aiter__(self) -> LendingInput:
        return self

    async def __anext__(self) -> Any:
        slot = self._slot
        if not slot.held:
            return await self._source.__anext__()
        slot.give_back()
        token = HOLDING.set(None)
        try:
            return await self._source.__anext__()
        finally:
            HOLDING.reset(token)
            await slot.take()


def pull_in_step(
    step: Runnable[Any, Any], chunks: AsyncIterator[Any], ctx: Context, slot: Slot | None
) -> AsyncIterator[Any]:
    """``chunks`` (a user generator's) pulled with the step's context, budget slot and
    deadline bookkeeping in effect only while its code runs; ``chunks`` itself when
    there is nothing to set."""
    if slot is None and ctx.is_root and ctx.running is None:
        return chunks
    return _pull_in_step(step, chunks, ctx, slot)


async def _pull_in_step(
    step: Runnable[Any, Any], chunks: AsyncIterator[Any], ctx: Context, slot: Slot | None
) -> AsyncIterator[Any]:
    # Between chunks the consumer's code runs in the same context (async generators share
    # their caller's), so setting CURRENT across a ``yield`` would leak this step's config
    # into the consumer, and a slot held across a ``yield`` would be held by a step that
    # only waits for the next step, deadlocking a budget of 1.
    running = ctx.running
    name = step.get_name() if running is not None else ""
    root = ctx.is_root  # read once: this loop runs once per chunk
    pull = chunks.__anext__
    while True:
        if slot is not None:
            await slot.take()
            held = HOLDING.set(slot.limiter)
        token = None if root else CURRENT.set(ctx)
        if running is not None:
            running.append(name)
        try:
            chunk = await pull()
        except StopAsyncIteration:
            return
        finally:
            if running is not None:
                running.remove(name)
            if token is not None:
                CURRENT.reset(token)
            if slot is not None:
                HOLDING.reset(held)
                slot.give_back()
        yield chunk


async def hold_stream(
    step: Runnable[Any, Any], ctx: Context, agen: AsyncIterator[Any]
) -> AsyncIterator[Any]:
    """Stream ``agen``, the work of a leaf whose stream is one request (a model's, a
    remote call's): it takes one slot for the whole stream and is named in
    ``ctx.running`` until the stream ends.

    The step's context and the held slot are in effect only while ``agen``'s code runs:
    between chunks the consumer's code runs in this same task, and must neither see this
    step's config nor lend its slot away. ``agen`` is closed at the end. The caller
    passes ``agen`` itself when there is nothing to hold (see :func:`holds`).
    """
    limiter = ctx.limiter
    running = ctx.running
    name = step.get_name() if running is not None else ""
    if limiter is not None:
        await limiter.acquire()
    if running is not None:
        running.append(name)
    root = ctx.is_root
    pull = agen.__anext__
    try:
        while True:
            token = None if root else CURRENT.set(ctx)
            held = HOLDING.set(limiter) if limiter is not None else None
            try:
                chunk = await pull()
            except StopAsyncIteration:
                break
            finally:
                if held is not None:
                    HOLDING.reset(held)
                if token is not None:
                    CURRENT.reset(token)
            yield chunk
    finally:
        try:
            await aclose(agen)  # a LangChain step's stream may be any async iterator
        finally:
            if running is not None:
                running.remove(name)
            if limiter is not None:
                limiter.release()


def holds(ctx: Context) -> bool:
    """Whether a leaf's work must run in the leaf scope (:func:`run_leaf`,
    :func:`hold_stream`): the call has a budget, deadline bookkeeping or a config to
    carry down."""
    return ctx.limiter is not None or ctx.running is not None or not ctx.is_root
