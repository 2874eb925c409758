"""Run records and the observers of a call: events, callbacks and listeners.

When anything observes a call (``astream_events``, ``callbacks`` in the config, or a
step's ``with_listeners``), the context carries one or more *tracers*, and containers
run each child through :func:`traced_ainvoke` / :func:`traced_atransform`, which make a
:class:`Run` record and tell every tracer about its start, stream chunks and end.
When nothing observes, ``ctx.tracers`` is empty and none of this code runs.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import inspect
import logging
import sys
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast
from uuid import UUID, uuid4

from runnables.core.chunks import ListIter, add_to_record, gather_input
from runnables.core.tasks import aclose
from runnables.errors import UnsupportedError

if TYPE_CHECKING:
    from runnables.core.base import Runnable
    from runnables.core.binding import RunnableBinding
    from runnables.core.config import Context
    from runnables.core.configurable import RunnableConfigurableFields

__all__ = ["Run", "Scope", "Tracer", "traced_ainvoke", "traced_atransform"]


# ---------------------------------------------------------------------- OTEL HOOK
# The OpenTelemetry context per step hooks in here, and only here: a tracer's
# ``on_start`` may set ``Run.scope`` (runnables.otel: the run's span context), and the
# traced paths (``tracing.traced_ainvoke``/``traced_atransform``) make it current
# around the step's own code with these two, never around the consumer's.


def enter_run(run: Run) -> Any:
    """Make ``run``'s scope current; the token for :func:`exit_run` (``None`` if it has
    none)."""
    scope = run.scope
    return None if scope is None else scope.attach()


def exit_run(run: Run, token: Any) -> None:
    """Undo :func:`enter_run` (in the context it changed)."""
    if token is not None:
        run.scope.detach(token)  # type: ignore[union-attr]


def in_run_scope(run: Run, agen: AsyncIterator[Any]) -> AsyncIterator[Any]:
    """``agen``'s chunks, each pulled with ``run``'s scope current; ``agen`` itself when
    the run has no scope."""
    if run.scope is None:
        return agen
    return _in_scope(run, agen)


async def _in_scope(run: Run, agen: AsyncIterator[Any]) -> AsyncIterator[Any]:
    # Detached before each chunk is handed on: a scope held across the ``yield`` would be
    # in effect in the consumer's code, and the detach would happen in another context.
    scope = run.scope
    assert scope is not None
    pull = agen.__anext__
    try:
        while True:
            token = scope.attach()
            try:
                chunk = await pull()
            except StopAsyncIteration:
                return
            finally:
                scope.detach(token)
            yield chunk
    finally:
        aclose = getattr(agen, "aclose", None)
        if aclose is not None:
            token = scope.attach()
            try:
                await aclose()
            finally:
                scope.detach(token)


logger = logging.getLogger("runnables")


def _now() -> datetime:
    return datetime.now(UTC)


_MISSING: Any = object()
#: A recorder's held chunk after an empty input: the step's input stream has ended.
_END: Any = object()


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
    #: Set by a tracer's ``on_start`` to have the step's own code run inside a scope of
    #: its (OpenTelemetry: the run's span made current, so spans that user code or httpx
    #: open nest under it). See :class:`Scope`.
    scope: Scope | None = field(default=None, repr=False)

    @property
    def inputs(self) -> dict[str, Any]:
        """The input as langchain-core's run records hold it: a dict.

        A streamed step's input is not known until its input stream ends; until then
        (and when the stream was empty) this is ``{"input": ""}``, as in langchain-core.
        """
        if self.input is _MISSING:
            return {"input": ""}
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


class Scope:
    """What a tracer makes current while a step's code runs (see ``Run.scope``).

    The engine calls ``attach`` just before it runs or resumes the step and ``detach``
    with its token just after, in the same frame and never across a ``yield``, so a
    streamed step's scope is never in effect in its consumer's code and every detach
    happens in the context its attach changed.
    """

    __slots__ = ()

    def attach(self) -> Any:
        raise UnsupportedError(f"{type(self).__name__} must implement Scope.attach().")

    def detach(self, token: Any) -> None:
        raise UnsupportedError(f"{type(self).__name__} must implement Scope.detach(token).")


class Tracer:
    """An observer of runs. Methods are called synchronously, in run order.

    A tracer that buffers for a slower consumer sets ``full``; streaming steps then
    await ``drained()`` before producing their next chunk.
    """

    full: bool = False
    #: Whether a chat model invoked (not streamed) under this tracer should stream its
    #: tokens to it, as langchain-core's models do for astream_events' handler.
    streams_tokens: bool = False
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

    def on_custom_event(self, name: str, data: Any, run: Run) -> None:
        """A step's code dispatched a custom event (``dispatch_custom_event``)."""


def start_run(
    step: Runnable[Any, Any],
    ctx: Context,
    tag: str | None,
    input: Any,
    extra_metadata: dict[str, Any] | None = None,
) -> Run:
    parent = ctx.run
    # The step's own tag ("seq:step:1", "map:key:a") comes first, as in langchain-core.
    tags = list(ctx.config.get("tags", ())) if tag is None else [tag, *ctx.config.get("tags", ())]
    metadata = dict(ctx.config.get("metadata", {}))
    if extra_metadata:
        metadata.update(extra_metadata)
    # A step's own tags and metadata (a prompt's `tags=`/`metadata=` fields, as in
    # langchain-core): after the call's, on this step's run only.
    own = getattr(step, "_own_tags_metadata", None)
    if own is not None:
        tags.extend(t for t in own[0] if t not in tags)
        metadata.update(own[1])
    run = Run(
        id=ctx.run_id or uuid4(),
        name=ctx.run_name or step.get_name(),
        run_type=step._run_type,
        parent_run_id=parent.id if parent is not None else None,
        parent_ids=[*parent.parent_ids, str(parent.id)] if parent is not None else [],
        tags=tags,
        metadata=metadata,
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
    await _await_in_order(awaitables)


async def _await_in_order(awaitables: list[Awaitable[Any]]) -> None:
    """Await each in turn; if one raises, close the rest (never started) and re-raise."""
    for i, awaitable in enumerate(awaitables):
        try:
            await awaitable
        except BaseException:
            _close(awaitables[i + 1 :])
            raise


def _run_blocking(awaitables: list[Awaitable[Any]]) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(_await_in_order(awaitables))
        return
    # A sync call made inside a coroutine: that thread's loop is busy running us.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        run = contextvars.copy_context().run
        pool.submit(run, asyncio.run, _await_in_order(awaitables)).result()


def _close(awaitables: list[Awaitable[Any]]) -> None:
    for awaitable in awaitables:
        close = getattr(awaitable, "close", None)
        if close is not None:
            close()


def _through_binding(
    step: Runnable[Any, Any], ctx: Context
) -> tuple[Runnable[Any, Any], Context, tuple[ListenerTracer, ...]]:
    """Let a binding's config and listeners apply to the run of the step it wraps.

    As in langchain-core, ``with_config``/``bind``/``with_listeners`` add no run of their
    own: otherwise ``chain.with_config(run_name="x")`` would report two nested runs named
    ``x``, and the outer one would lack the binding's tags. A listener sees the wrapped
    step's run itself (its step tag, its id in the events). Bindings with a deadline keep
    running themselves, since they do work around the call.
    """
    listeners: tuple[ListenerTracer, ...] = ()
    # ``RunnableBinding`` itself (not a subclass, which may do work of its own) declares
    # ``_adds_no_run`` in its class body, and ``RunnableConfigurableFields`` declares
    # ``_runs_as_configured``; both read from the class's own namespace, so this module
    # needs no import of those classes (which sit above it).
    while True:
        own = type(step).__dict__
        if own.get("_runs_as_configured", False) and step.name is None:
            # Nor do configurable fields: the run is the configured step's own (a chat
            # model's has its ls_* metadata, from the configured values).
            step = cast("RunnableConfigurableFields[Any, Any]", step)._prepare(ctx)
            continue
        if not own.get("_adds_no_run", False):
            break
        step = cast("RunnableBinding[Any, Any]", step)
        if step.config.get("timeout") is not None:
            if step.listeners is not None:
                listeners = (*listeners, step.listeners)
                step = step._without_listeners()
            break
        if step.listeners is not None:
            listeners = (*listeners, step.listeners)
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
    return step, ctx, listeners


async def _notify(
    listeners: tuple[ListenerTracer, ...], event: str, run: Run, ctx: Context
) -> None:
    for listener in listeners:
        await listener.notify(event, run, ctx)


async def traced_ainvoke(
    step: Runnable[Any, Any], input: Any, ctx: Context, tag: str | None = None
) -> Any:
    """Run a step with a run record around it."""
    step, ctx, listeners = _through_binding(step, ctx)
    return await _traced_ainvoke(step, input, ctx, tag, listeners)


async def _traced_ainvoke(
    step: Runnable[Any, Any],
    input: Any,
    ctx: Context,
    tag: str | None,
    listeners: tuple[ListenerTracer, ...],
) -> Any:
    run_input, extra = input, None
    chat_start = getattr(step, "_chat_run_start", None)
    if chat_start is not None:
        # A chat model's run holds its messages, as langchain-core's does:
        # {"messages": [[...]]}, and its metadata the model's ls_* parameters.
        input, run_input, extra = chat_start(input)
    run = start_run(step, ctx, tag, run_input, extra)
    if has_pending(ctx):
        await settle(ctx)
    if listeners:
        await _notify(listeners, "on_start", run, ctx)
    child = ctx.replace(run=run, run_name=None, run_id=None)
    try:
        if run.scope is None:
            output = await step._ainvoke(input, child)
        else:  # the OpenTelemetry context of the step (see leaf.py, OTEL HOOK)
            token = enter_run(run)
            try:
                output = await step._ainvoke(input, child)
            finally:
                exit_run(run, token)
    except BaseException as exc:
        fail_run(ctx, run, exc)
        if has_pending(ctx):
            await settle(ctx)
        if listeners:
            await _notify(listeners, "on_error", run, ctx)
        raise
    end_run(ctx, run, output)
    if has_pending(ctx):
        await settle(ctx)
    if listeners:
        await _notify(listeners, "on_end", run, ctx)
    return output


class _Recorder(AsyncIterator[Any]):
    """Passes input chunks through and keeps their sum, for the run's recorded input.

    The run starts once the first chunk is there (see ``traced_atransform``): that
    chunk, taken with :meth:`first`, is handed out again as the step's first input chunk
    (by this iterator itself: a generator to put it back would cost a layer per chunk).
    """

    __slots__ = ("_held", "_source", "addable", "error", "got", "value")

    def __init__(self, source: AsyncIterator[Any]) -> None:
        self._source = source
        self._held: Any = _MISSING  # a chunk taken by first(), or _END after an empty input
        self.value: Any = None
        self.got = False
        self.addable = True
        # A sum that raised (not TypeError: two message chunks whose usage counts do not
        # add up): the record keeps what it had, the chunks still pass, and the run ends
        # with this error unless another one ends it first, as in langchain-core.
        self.error: Exception | None = None

    async def first(self) -> Any:
        """Take the first chunk (``_MISSING`` if there is none); the step gets it next."""
        try:
            chunk = await self.__anext__()
        except StopAsyncIteration:
            self._held = _END
            return _MISSING
        self._held = chunk
        return chunk

    def __aiter__(self) -> _Recorder:
        return self

    async def __anext__(self) -> Any:
        held = self._held
        if held is not _MISSING:
            if held is _END:
                raise StopAsyncIteration
            self._held = _MISSING
            return held
        chunk = await self._source.__anext__()
        if self.got and self.addable:
            try:
                self.value, self.addable = add_to_record(self.value, chunk)
            except Exception as exc:
                self.error, self.addable = exc, False
        elif self.error is None:
            self.value = chunk
        self.got = True
        return chunk


async def traced_atransform(
    step: Runnable[Any, Any], inputs: AsyncIterator[Any], ctx: Context, tag: str | None = None
) -> AsyncIterator[Any]:
    """Stream a step with a run record around it, reporting each output chunk.

    The run starts when the step's first input chunk arrives (not when the stream is
    set up), so start times and event order show when each step really began.
    """
    step, ctx, listeners = _through_binding(step, ctx)
    if not type(step)._streams and not type(step)._public_astream:
        # A step without a streaming implementation gathers all its input, then runs
        # once. As in langchain-core, its run is an invoked one: it starts when the input
        # is complete, its start event has the input, and it has no stream events.
        yield await _traced_ainvoke(step, await gather_input(inputs), ctx, tag, listeners)
        return
    recorder: _Recorder | None = None
    start_input: Any = _MISSING
    extra: dict[str, Any] | None = None
    chat_start = getattr(step, "_chat_run_start", None)
    if chat_start is not None:
        # A chat model reads all its input before it starts, as in langchain-core, so
        # its run starts after the step before it ends, with its messages known.
        messages, start_input, extra = chat_start(await gather_input(inputs))
        inputs = ListIter((messages,))
        known = False
    else:
        known = type(inputs) is ListIter and len(inputs.items) == 1
        if not known:
            recorder = _Recorder(inputs)
            await recorder.first()
            inputs = recorder
    # As in langchain-core, a streaming step's start does not know its input (no "input"
    # in its start event), even when it is one value given up front; the run holds it
    # from just after the start on, and its end reports it.
    run = start_run(step, ctx, tag, start_input, extra)
    if has_pending(ctx):
        await settle(ctx)
    if listeners:
        await _notify(listeners, "on_start", run, ctx)
    if known:
        run.input = inputs.items[0]  # type: ignore[attr-defined]
    child = ctx.replace(run=run, run_name=None, run_id=None)
    output: Any = None
    got = False
    addable = True
    merge_error: Exception | None = None  # as the recorder's, for the output
    agen = step._atransform(inputs, child)
    tracers = ctx.tracers
    agen = in_run_scope(run, agen)  # the step's OpenTelemetry context (OTEL HOOK, above)
    try:
        async for chunk in agen:
            for tracer in tracers:
                tracer.on_stream(run, chunk)
                if tracer.pending:
                    await _settle(tracer.pending, ctx)
                if tracer.full:
                    await tracer.drained()
            if got and addable:
                try:
                    output, addable = add_to_record(output, chunk)
                except Exception as exc:
                    merge_error, addable = exc, False
            elif merge_error is None:
                output = chunk
            got = True
            yield chunk
        # Inputs first, as langchain-core reads them first.
        if recorder is not None and recorder.error is not None:
            raise recorder.error
        if merge_error is not None:
            raise merge_error
    except BaseException as exc:
        if recorder is not None and recorder.got:
            run.input = recorder.value
        fail_run(ctx, run, exc)
        if has_pending(ctx):
            await settle(ctx)
        if listeners:
            await _notify(listeners, "on_error", run, ctx)
        raise
    finally:
        await aclose(agen)
    if recorder is not None and recorder.got:
        run.input = recorder.value
    end_run(ctx, run, output)
    if has_pending(ctx):
        await settle(ctx)
    if listeners:
        await _notify(listeners, "on_end", run, ctx)


# ---------------------------------------------------------------------- callbacks


def tracers_for(callbacks: Any, existing: tuple[Tracer, ...]) -> tuple[Tracer, ...]:
    """The tracers for a config's ``callbacks`` value, added to those already active.

    runnables' tracers (an object that is a :class:`Tracer`) are used as they are. The
    other handlers, or a callback manager, get one
    :class:`~runnables.callbacks.runs.CallbackRuns`, which reports runs as
    langchain-core does; langchain-core's own handlers and managers go through the
    interop adapter, which drives langchain-core's manager with the same mapping.
    """
    if isinstance(callbacks, Tracer):
        return (*existing, callbacks)
    # Looked up in sys.modules: a langchain-core handler exists only if it is loaded.
    lc = _langchain_callbacks()
    if lc is not None and isinstance(callbacks, lc.BaseCallbackManager):
        from runnables.interop.adapter import LangChainCallbacks

        return (*existing, LangChainCallbacks(callbacks, from_config=True))
    if not isinstance(callbacks, (list, tuple)):
        tracer = callback_runs_for(callbacks)
        return existing if tracer is None else (*existing, tracer)
    own = [h for h in callbacks if isinstance(h, Tracer)]
    others = [h for h in callbacks if not isinstance(h, Tracer)]
    added: list[Tracer] = own
    if lc is not None and others:
        lc_handlers = [h for h in others if isinstance(h, lc.BaseCallbackHandler)]
        if lc_handlers:
            from runnables.interop.adapter import langchain_callbacks_for

            others = [h for h in others if not isinstance(h, lc.BaseCallbackHandler)]
            added.append(langchain_callbacks_for(lc_handlers))
    if others:
        tracer = callback_runs_for(others)
        if tracer is not None:
            added.append(tracer)
    return (*existing, *added)


def _langchain_callbacks() -> Any:
    """langchain-core's callbacks module if langchain-core itself is loaded (not a module
    of that name that serves runnables' classes, as the compatibility suite installs).

    Read from the module's own namespace: no attribute lookup that such a module could
    answer by searching packages (file-system reads, inside a running call).
    """
    lc = sys.modules.get("langchain_core.callbacks.base")
    if lc is None:
        return None
    names = vars(lc)
    manager, handler = names.get("BaseCallbackManager"), names.get("BaseCallbackHandler")
    if not isinstance(manager, type) or not isinstance(handler, type):
        return None
    if handler.__module__.startswith("runnables."):
        return None
    return lc


# ---------------------------------------------------------------------- listeners


def _listener_call(fn: Callable[..., Any], run: Run, ctx: Context) -> Any:
    try:
        n = len(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        n = 1
    return fn(run, ctx.child_config()) if n >= 2 else fn(run)


class ListenerTracer:
    """The ``on_start``/``on_end``/``on_error`` functions of one ``with_listeners``.

    They receive the run record of the step the binding wraps (the same record events
    and callbacks see). As in langchain-core, a listener that raises is logged and the
    call goes on.
    """

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

    async def notify(self, event: str, run: Run, ctx: Context) -> None:
        """Call the listener for ``event`` (``"on_start"``, ``"on_end"``, ``"on_error"``)."""
        fn: Callable[..., Any] | None = getattr(self, event)
        if fn is None:
            return
        try:
            result = _listener_call(fn, run, ctx)
            if inspect.isawaitable(result):
                await result
        except Exception as exc:
            logger.warning(
                "Error in the %s listener %s of %r: %r",
                event,
                getattr(fn, "__qualname__", repr(fn)),
                run.name,
                exc,
            )


# Imported with this module rather than when a call first has callbacks: an import
# inside a running call would block its event loop on file-system reads.
from runnables.callbacks.runs import callback_runs_for  # noqa: E402
