"""Run records and the observers of a call: events, callbacks and listeners.

When anything observes a call (``astream_events``, ``callbacks`` in the config, or a
step's ``with_listeners``), the context carries one or more *tracers*, and containers
run each child through :func:`traced_ainvoke` / :func:`traced_atransform`, which make a
:class:`Run` record and tell every tracer about its start, stream chunks and end.
When nothing observes, ``ctx.tracers`` is empty and none of this code runs.
"""

from __future__ import annotations

import inspect
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

from runnables.core._util import ListIter, add, gather_input

if TYPE_CHECKING:
    from runnables.core.base import Runnable
    from runnables.core.config import Context

__all__ = ["Run", "Tracer", "traced_ainvoke", "traced_atransform"]


def _now() -> datetime:
    return datetime.now(UTC)


_MISSING: Any = object()


@dataclass(slots=True, eq=False)
class Run:
    """The record of one step's execution, as listeners and callbacks see it."""

    id: UUID
    name: str
    run_type: str
    parent_run_id: UUID | None
    parent_ids: list[str]
    tags: list[str]
    metadata: dict[str, Any]
    start_time: datetime = field(default_factory=_now)
    end_time: datetime | None = None
    input: Any = _MISSING
    output: Any = _MISSING
    #: The exception the step raised (the object itself, for ``raise`` or ``isinstance``).
    exception: BaseException | None = None

    @property
    def inputs(self) -> dict[str, Any]:
        """The input as langchain-core's run records hold it: a dict."""
        if self.input is _MISSING:
            return {}
        return self.input if isinstance(self.input, dict) else {"input": self.input}

    @property
    def outputs(self) -> dict[str, Any]:
        """The output as a dict; ``{}`` while running or after an error, as in
        langchain-core's run records."""
        if self.output is _MISSING:
            return {}
        return self.output if isinstance(self.output, dict) else {"output": self.output}

    @property
    def error(self) -> str | None:
        """The error as langchain-core's run records hold it: a string, the exception's
        ``repr`` and its traceback (``None`` unless the step failed). The exception
        itself is :attr:`exception`. Formatted when read, so failures cost nothing extra.
        """
        exc = self.exception
        if exc is None:
            return None
        msg = repr(exc)
        try:
            return (msg + "\n\n".join(traceback.format_exception(exc))).strip()
        except Exception:
            return msg

    @property
    def trace_id(self) -> UUID:
        return UUID(self.parent_ids[0]) if self.parent_ids else self.id

    @property
    def duration(self) -> float | None:
        """Seconds from start to end, once ended."""
        if self.end_time is None:
            return None
        return (self.end_time - self.start_time).total_seconds()


class Tracer:
    """An observer of runs. Methods are called synchronously, in run order.

    A tracer that buffers for a slower consumer sets ``full``; streaming steps then
    await ``drained()`` before producing their next chunk.
    """

    full: bool = False
    #: Awaitables the last notification produced (async callback handlers). The traced
    #: step awaits them before it goes on, so no handler outlives the call that made it
    #: (structured concurrency). ``None`` for tracers that never produce any.
    pending: list[Awaitable[Any]] | None = None

    async def drained(self) -> None:
        pass

    def on_start(self, run: Run) -> None:
        pass

    def on_stream(self, run: Run, chunk: Any) -> None:
        pass

    def on_end(self, run: Run) -> None:
        pass

    def on_error(self, run: Run) -> None:
        pass


def start_run(step: Runnable[Any, Any], ctx: Context, tag: str | None, input: Any) -> Run:
    parent = ctx.run
    # The step's own tag ("seq:step:1", "map:key:a") comes first, as in langchain-core.
    tags = list(ctx.config.get("tags", ())) if tag is None else [tag, *ctx.config.get("tags", ())]
    run = Run(
        id=ctx.run_id or uuid4(),
        name=ctx.run_name or step.get_name(),
        run_type=step._run_type,
        parent_run_id=parent.id if parent is not None else None,
        parent_ids=[*parent.parent_ids, str(parent.id)] if parent is not None else [],
        tags=tags,
        metadata=dict(ctx.config.get("metadata", {})),
        input=input,
    )
    for tracer in ctx.tracers:
        tracer.on_start(run)
    return run


def end_run(ctx: Context, run: Run, output: Any) -> None:
    run.output = output
    run.end_time = _now()
    for tracer in ctx.tracers:
        tracer.on_end(run)


def fail_run(ctx: Context, run: Run, exc: BaseException) -> None:
    run.exception = exc
    run.end_time = _now()
    for tracer in ctx.tracers:
        tracer.on_error(run)


def has_pending(ctx: Context) -> bool:
    """Whether a tracer's last notification left awaitables (checked without a coroutine,
    so tracers that never produce any, like astream_events', cost one loop)."""
    return any(tracer.pending for tracer in ctx.tracers)


async def settle(ctx: Context) -> None:
    """Await what the tracers' last notifications left pending (async handlers)."""
    for tracer in ctx.tracers:
        if tracer.pending:
            await _settle(tracer.pending, ctx)


async def _settle(pending: list[Awaitable[Any]], ctx: Context) -> None:
    # Taken off the list before awaiting: a concurrent branch may add its own meanwhile,
    # and it awaits those itself.
    awaitables = pending[:]
    pending.clear()
    if ctx.sync:
        # Driven inline without a loop, an await that suspends cannot be resumed: run the
        # handlers on a loop of their own, as langchain-core's sync callback manager does.
        _run_blocking(awaitables)
        return
    for i, awaitable in enumerate(awaitables):
        try:
            await awaitable
        except BaseException:
            _close(awaitables[i + 1 :])
            raise


def _run_blocking(awaitables: list[Awaitable[Any]]) -> None:
    import asyncio

    async def run_all() -> None:
        for i, awaitable in enumerate(awaitables):
            try:
                await awaitable
            except BaseException:
                _close(awaitables[i + 1 :])
                raise

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(run_all())
        return
    # A sync call made inside a coroutine: that thread's loop is busy running us.
    import concurrent.futures
    import contextvars

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(contextvars.copy_context().run, asyncio.run, run_all()).result()


def _close(awaitables: list[Awaitable[Any]]) -> None:
    for awaitable in awaitables:
        close = getattr(awaitable, "close", None)
        if close is not None:
            close()


def _through_binding(step: Runnable[Any, Any], ctx: Context) -> tuple[Runnable[Any, Any], Context]:
    """Let a plain binding's config apply to the run of the step it wraps.

    As in langchain-core, ``with_config``/``bind`` add no run of their own: otherwise
    ``chain.with_config(run_name="x")`` would report two nested runs named ``x``, and the
    outer one would lack the binding's tags. Bindings that add listeners or a deadline
    keep running themselves, since they do work around the call.
    """
    from runnables.core.binding import RunnableBinding

    while (
        type(step) is RunnableBinding
        and step.listeners is None
        and step.config.get("timeout") is None
    ):
        inner = step._ctx(ctx)
        if inner is ctx:
            tags = ctx.config.get("tags")
            if tags and (ordered := sorted(tags, key=str)) != list(tags):
                # A binding without config (bind(...) only) still sorts the tags in
                # langchain-core, which merges every binding's config into the call's.
                inner = ctx.replace(config={**ctx.config, "tags": ordered})
        elif ctx.run_name is not None or ctx.run_id is not None:
            # The caller's run_name/run_id name this run and win over the binding's,
            # as langchain-core merges the call's config over the bound one.
            inner = inner.replace(
                run_name=ctx.run_name or inner.run_name, run_id=ctx.run_id or inner.run_id
            )
        step, ctx = step._target, inner
    return step, ctx


async def traced_ainvoke(
    step: Runnable[Any, Any], input: Any, ctx: Context, tag: str | None = None
) -> Any:
    """Run a step with a run record around it."""
    step, ctx = _through_binding(step, ctx)
    run = start_run(step, ctx, tag, input)
    if has_pending(ctx):
        await settle(ctx)
    child = ctx.replace(run=run, run_name=None, run_id=None)
    try:
        output = await step._ainvoke(input, child)
    except BaseException as exc:
        fail_run(ctx, run, exc)
        if has_pending(ctx):
            await settle(ctx)
        raise
    end_run(ctx, run, output)
    if has_pending(ctx):
        await settle(ctx)
    return output


class _Recorder(AsyncIterator[Any]):
    """Passes input chunks through and keeps their sum, for the run's recorded input."""

    __slots__ = ("_source", "got", "value")

    def __init__(self, source: AsyncIterator[Any]) -> None:
        self._source = source
        self.value: Any = None
        self.got = False

    def __aiter__(self) -> _Recorder:
        return self

    async def __anext__(self) -> Any:
        chunk = await self._source.__anext__()
        self.value = chunk if not self.got else add(self.value, chunk)
        self.got = True
        return chunk


async def traced_atransform(
    step: Runnable[Any, Any], inputs: AsyncIterator[Any], ctx: Context, tag: str | None = None
) -> AsyncIterator[Any]:
    """Stream a step with a run record around it, reporting each output chunk.

    The run starts when the step's first input chunk arrives (not when the stream is
    set up), so start times and event order show when each step really began.
    """
    step, ctx = _through_binding(step, ctx)
    from runnables.core.base import Runnable

    if type(step)._atransform is Runnable._atransform:
        # A step without a streaming implementation gathers all its input, then runs
        # once. As in langchain-core, its run is an invoked one: it starts when the input
        # is complete, its start event has the input, and it has no stream events.
        yield await traced_ainvoke(step, await gather_input(inputs), ctx, tag)
        return
    recorder: _Recorder | None = None
    known = type(inputs) is ListIter and len(inputs.items) == 1
    if not known:
        recorder = _Recorder(inputs)
        try:
            first = await recorder.__anext__()
        except StopAsyncIteration:
            first = _MISSING
        inputs = _prepend(first, recorder)
    # As in langchain-core, a streaming step's start does not know its input (no "input"
    # in its start event), even when it is one value given up front; the run holds it
    # from just after the start on, and its end reports it.
    run = start_run(step, ctx, tag, _MISSING)
    if known:
        run.input = inputs.items[0]  # type: ignore[attr-defined]
    if has_pending(ctx):
        await settle(ctx)
    child = ctx.replace(run=run, run_name=None, run_id=None)
    output: Any = None
    got = False
    agen = step._atransform(inputs, child)
    tracers = ctx.tracers
    try:
        async for chunk in agen:
            for tracer in tracers:
                tracer.on_stream(run, chunk)
                if tracer.pending:
                    await _settle(tracer.pending, ctx)
                if tracer.full:
                    await tracer.drained()
            output = chunk if not got else add(output, chunk)
            got = True
            yield chunk
    except BaseException as exc:
        fail_run(ctx, run, exc)
        if has_pending(ctx):
            await settle(ctx)
        raise
    finally:
        aclose = getattr(agen, "aclose", None)
        if aclose is not None:
            await aclose()
    if recorder is not None and recorder.got:
        run.input = recorder.value
    end_run(ctx, run, output)
    if has_pending(ctx):
        await settle(ctx)


async def _prepend(first: Any, rest: AsyncIterator[Any]) -> AsyncIterator[Any]:
    if first is _MISSING:
        return
    yield first
    async for chunk in rest:
        yield chunk


# ---------------------------------------------------------------------- callbacks


class CallbackTracer(Tracer):
    """Adapts langchain-style callback handlers (``on_chain_start`` and friends)."""

    def __init__(self, handlers: list[Any]) -> None:
        self.handlers = handlers
        self._queue: list[Awaitable[Any]] = []
        self.pending = self._queue

    def _each(self, method: str, *args: Any, **kwargs: Any) -> None:
        for handler in self.handlers:
            fn = getattr(handler, method, None)
            if fn is None:
                continue
            result = fn(*args, **kwargs)
            if inspect.isawaitable(result):
                # Awaited by the traced step right after this notification, in handler
                # order, before the step goes on (as langchain-core awaits async handlers).
                self._queue.append(result)

    def on_start(self, run: Run) -> None:
        self._each(
            f"on_{run.run_type}_start"
            if run.run_type in ("chain", "tool", "retriever")
            else "on_chain_start",
            {"name": run.name},
            run.inputs,
            run_id=run.id,
            parent_run_id=run.parent_run_id,
            tags=run.tags,
            metadata=run.metadata,
            name=run.name,
        )

    def on_end(self, run: Run) -> None:
        self._each("on_chain_end", run.outputs, run_id=run.id, parent_run_id=run.parent_run_id)

    def on_error(self, run: Run) -> None:
        self._each("on_chain_error", run.exception, run_id=run.id, parent_run_id=run.parent_run_id)


def tracers_for(callbacks: Any, existing: tuple[Tracer, ...]) -> tuple[Tracer, ...]:
    """The tracers for a config's ``callbacks`` value, added to those already active."""
    handlers = callbacks if isinstance(callbacks, (list, tuple)) else [callbacks]
    own = [h for h in handlers if isinstance(h, Tracer)]
    others = [h for h in handlers if not isinstance(h, Tracer)]
    added: list[Tracer] = own
    if others:
        added.append(CallbackTracer(others))
    return (*existing, *added)


# ---------------------------------------------------------------------- listeners


def _listener_call(fn: Callable[..., Any], run: Run, ctx: Context) -> Any:
    try:
        n = len(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        n = 1
    return fn(run, ctx.child_config()) if n >= 2 else fn(run)


class ListenerTracer:
    """Calls ``on_start``/``on_end``/``on_error`` with the run record of one step."""

    def __init__(
        self,
        on_start: Callable[..., Any] | None,
        on_end: Callable[..., Any] | None,
        on_error: Callable[..., Any] | None,
    ) -> None:
        self.on_start = on_start
        self.on_end = on_end
        self.on_error = on_error
        self.is_async = any(
            fn is not None and inspect.iscoroutinefunction(fn)
            for fn in (on_start, on_end, on_error)
        )

    async def _notify(self, fn: Callable[..., Any] | None, run: Run, ctx: Context) -> None:
        if fn is None:
            return
        result = _listener_call(fn, run, ctx)
        if inspect.isawaitable(result):
            await result

    def _run(self, step: Runnable[Any, Any], ctx: Context, input: Any) -> Run:
        parent = ctx.run
        return Run(
            id=ctx.run_id or uuid4(),
            name=ctx.run_name or step.get_name(),
            run_type=step._run_type,
            parent_run_id=parent.id if parent is not None else None,
            parent_ids=[*parent.parent_ids, str(parent.id)] if parent is not None else [],
            tags=list(ctx.config.get("tags", ())),
            metadata=dict(ctx.config.get("metadata", {})),
            input=input,
        )

    async def around(
        self,
        step: Runnable[Any, Any],
        input: Any,
        ctx: Context,
        fn: Callable[[Any, Context], Awaitable[Any]],
    ) -> Any:
        run = self._run(step, ctx, input)
        await self._notify(self.on_start, run, ctx)
        try:
            output = await fn(input, ctx)
        except BaseException as exc:
            run.exception = exc
            run.end_time = _now()
            await self._notify(self.on_error, run, ctx)
            raise
        run.output = output
        run.end_time = _now()
        await self._notify(self.on_end, run, ctx)
        return output

    async def around_stream(
        self,
        step: Runnable[Any, Any],
        inputs: AsyncIterator[Any],
        ctx: Context,
        target: Runnable[Any, Any],
    ) -> AsyncIterator[Any]:
        from runnables.core.base import call_transform

        known = type(inputs) is ListIter and len(inputs.items) == 1
        recorder = None if known else _Recorder(inputs)
        run = self._run(step, ctx, inputs.items[0] if known else _MISSING)  # type: ignore[attr-defined]
        await self._notify(self.on_start, run, ctx)
        output: Any = None
        got = False
        agen = call_transform(target, inputs if recorder is None else recorder, ctx)
        try:
            async for chunk in agen:
                output = chunk if not got else add(output, chunk)
                got = True
                yield chunk
        except BaseException as exc:
            run.exception = exc
            run.end_time = _now()
            await self._notify(self.on_error, run, ctx)
            raise
        finally:
            aclose = getattr(agen, "aclose", None)
            if aclose is not None:
                await aclose()
        if recorder is not None and recorder.got:
            run.input = recorder.value
        run.output = output
        run.end_time = _now()
        await self._notify(self.on_end, run, ctx)
