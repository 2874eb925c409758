"""``RunnableSequence``: steps run one after another, each fed the previous output."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from functools import partial
from time import perf_counter
from typing import TYPE_CHECKING, Any, cast, overload

from runnables.core import offload as _offload
from runnables.core._util import ListIter, gather_input, has_listeners, note_step
from runnables.core.base import (
    ForeignRunnable,
    Input,
    Other,
    Output,
    Runnable,
    call_transform,
    coerce_to_runnable,
)
from runnables.core.config import CURRENT, Context, RunnableConfig
from runnables.core.streams import Segmented
from runnables.core.tasks import aclose
from runnables.errors import InvalidRunnableError

if TYPE_CHECKING:
    from pydantic import BaseModel

__all__ = ["RunnableSequence"]

#: Streaming nests one generator per stage (a few per step under tracing) on Python's
#: stack, and a nest is closed only at its outermost generator. A chain of more stages
#: than this streams through ``Segmented`` instead: each stage pulled by a driver, not
#: nested, so any length fits the stack and leaving early closes every stage. Chains
#: of ordinary length stay one nest, as before, and pay nothing for it.
LONG = 64


class RunnableSequence(Runnable[Input, Output]):
    """Steps in order: the output of each is the input of the next. ``a | b`` builds one.

    Streaming passes through: each step's output chunks flow into the next step as they
    are produced, so a chain of streaming steps streams end to end. A step that needs
    its whole input (a plain function) gathers the chunks before it runs.
    """

    def __init__(self, *steps: Any, name: str | None = None, **parts: Any) -> None:
        if parts:  # langchain-core's keyword form: first=, middle=, last=
            unknown = set(parts) - {"first", "middle", "last"}
            if unknown:
                raise InvalidRunnableError(
                    f"RunnableSequence got unknown keyword(s) {sorted(unknown)!r}; pass steps "
                    "positionally, or as first=, middle=[...], last=."
                )
            steps = (parts.get("first"), *parts.get("middle", ()), parts.get("last"), *steps)
            steps = tuple(s for s in steps if s is not None)
        flat: list[Runnable[Any, Any]] = []
        for step in steps:
            r = coerce_to_runnable(step)
            if isinstance(r, RunnableSequence) and r.name is None:
                flat.extend(r.steps)
            else:
                flat.append(r)
        if len(flat) < 2:
            raise InvalidRunnableError(
                f"A RunnableSequence needs at least 2 steps, got {len(flat)}. Use the step itself."
            )
        self.steps: list[Runnable[Any, Any]] = flat
        self.name = name
        # A listened step gets its seq:step tag only on the traced path (see has_listeners).
        self._traced = any(has_listeners(s) for s in flat)
        self._nl_generation = -1
        self._nl = True
        self._stages: list[tuple[Runnable[Any, Any], ...]] | None = None

    @property
    def first(self) -> Runnable[Input, Any]:
        """The first step."""
        return self.steps[0]

    @property
    def middle(self) -> list[Runnable[Any, Any]]:
        """The steps between the first and the last."""
        return self.steps[1:-1]

    @property
    def last(self) -> Runnable[Any, Output]:
        """The last step."""
        return self.steps[-1]

    def _children(self) -> Sequence[Runnable[Any, Any]]:
        return self.steps

    def _with_kwargs(self, kwargs: dict[str, Any]) -> Runnable[Input, Output]:
        # As langchain-core: call arguments (``chain.invoke(x, stop=...)``) go to the first
        # step only; the others are fed outputs, not the caller's arguments.
        first, *rest = self.steps
        return RunnableSequence(first._with_kwargs(kwargs), *rest, name=self.name)

    def get_input_schema(self, config: RunnableConfig | None = None) -> type[BaseModel]:
        """The first step's input schema: a sequence takes what its first step takes (as
        in langchain-core, title included)."""
        return self.steps[0].get_input_schema(config)

    def get_output_schema(self, config: RunnableConfig | None = None) -> type[BaseModel]:
        """The last step's output schema (title included), as in langchain-core; a chain
        ending in ``.assign()`` or ``.pick()`` has its output told from the keys fed in."""
        from runnables.core.passthrough import RunnableAssign, RunnablePick

        if isinstance(self.steps[-1], (RunnableAssign, RunnablePick)):
            return super().get_output_schema(config)
        return self.steps[-1].get_output_schema(config)

    def _needs_loop(self) -> bool:
        if self._nl_generation != _offload.generation:
            self._nl = any(step._needs_loop() for step in self.steps) or self._cut_at_pulling()
            self._nl_generation = _offload.generation
        return self._nl

    def _cut_at_pulling(self) -> bool:
        """Whether this chain streams through ``Segmented`` with a step that may pull
        its input chunk by chunk from sync code (a sync generator): driven inline,
        without a loop, it would pull the steps before it on its own stack, nesting them
        all again. Such a chain streams (and so runs) on the bridge loop, where that
        step runs on a thread of its own."""
        steps = self.steps  # under tracing each step is pulled on its own
        return len(steps) > LONG and any(_pulls_in_sync_code(step) for step in steps[1:])

    def get_name(self, suffix: str | None = None, *, name: str | None = None) -> str:
        return super().get_name(suffix, name=name)

    async def _ainvoke(self, input: Input, ctx: Context) -> Output:
        if ctx.tracers or self._traced:
            from runnables.core.tracing import traced_ainvoke

            for i, step in enumerate(self.steps, 1):
                input = await traced_ainvoke(step, input, ctx, tag=f"seq:step:{i}")
            return cast(Output, input)
        if ctx.limiter is not None or ctx.running is not None:
            for step in self.steps:
                input = await step._ainvoke(input, ctx)
            return cast(Output, input)
        return cast(Output, await self._run_fused(input, ctx))

    async def _run_fused(self, input: Any, ctx: Context) -> Any:
        """The plain path: call steps' plain functions directly, one clock read per step.

        Each sync step is timed from the previous clock read, so a step that blocks the
        loop is still found (see ``offload``) without paying for two clock reads.
        """
        in_loop = not ctx.sync
        token = None if ctx.is_root else CURRENT.set(ctx)
        try:
            start = perf_counter()
            for step in self.steps:
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
                    if isinstance(input, Runnable):
                        input = await step._run_returned(input, prev, ctx)
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

    def _atransform(self, inputs: AsyncIterator[Input], ctx: Context) -> AsyncIterator[Output]:  # type: ignore[override]
        stream: AsyncIterator[Any] = inputs
        if ctx.tracers or self._traced:
            from runnables.core.tracing import traced_atransform

            steps = self.steps
            if len(steps) > LONG:
                parts = [
                    partial(_traced_at, s, ctx, f"seq:step:{i}") for i, s in enumerate(steps, 1)
                ]
                return Segmented(inputs, parts)
            for i, step in enumerate(steps, 1):
                stream = traced_atransform(step, stream, ctx, tag=f"seq:step:{i}")
            return stream
        stages = self._stages
        if stages is None:
            stages = self._stages = _stages(self.steps)
        if len(stages) > LONG:
            return Segmented(inputs, [partial(_stream_stage, stage, ctx=ctx) for stage in stages])
        for stage in stages:
            if len(stage) == 1:
                stream = call_transform(stage[0], stream, ctx)
            else:
                stream = _gathered(stage, stream, ctx)
        return stream

    @overload
    def __or__(self, other: Mapping[str, Any]) -> RunnableSequence[Input, dict[str, Any]]: ...

    # The same overloads as Runnable.__or__ (see there).
    @overload
    def __or__(self, other: Runnable[Any, Other]) -> RunnableSequence[Input, Other]: ...

    @overload
    def __or__(
        self, other: Callable[[AsyncIterator[Any]], AsyncIterator[Other]]
    ) -> RunnableSequence[Input, Other]: ...

    @overload
    def __or__(
        self, other: Callable[[Iterator[Any]], Iterator[Other]]
    ) -> RunnableSequence[Input, Other]: ...

    @overload
    def __or__(
        self, other: Callable[[Any], Awaitable[Other]]
    ) -> RunnableSequence[Input, Other]: ...

    @overload
    def __or__(self, other: Callable[[Any], Other]) -> RunnableSequence[Input, Other]: ...

    @overload
    def __or__(self, other: ForeignRunnable) -> RunnableSequence[Input, Any]: ...

    def __or__(self, other: Any) -> RunnableSequence[Input, Any]:
        if isinstance(other, RunnableSequence) and other.name is None:
            return RunnableSequence(*self.steps, *other.steps, name=self.name)
        return RunnableSequence(*self.steps, coerce_to_runnable(other), name=self.name)

    def __ror__(self, other: Any) -> RunnableSequence[Any, Output]:
        return RunnableSequence(coerce_to_runnable(other), *self.steps, name=self.name)

    def __repr__(self) -> str:
        # langchain-core's layout: one step per line, nested steps indented under theirs.
        from runnables.core.introspection import indent_lines_after_first

        return "\n| ".join(
            repr(s) if i == 0 else indent_lines_after_first(repr(s), "| ")
            for i, s in enumerate(self.steps)
        )


def _stream_stage(
    stage: tuple[Runnable[Any, Any], ...], stream: AsyncIterator[Any], ctx: Context
) -> AsyncIterator[Any]:
    if len(stage) == 1:
        return call_transform(stage[0], stream, ctx)
    return _gathered(stage, stream, ctx)


def _traced_at(
    step: Runnable[Any, Any], ctx: Context, tag: str, stream: AsyncIterator[Any]
) -> AsyncIterator[Any]:
    from runnables.core.tracing import traced_atransform

    return traced_atransform(step, stream, ctx, tag=tag)


def _pulls_in_sync_code(step: Runnable[Any, Any]) -> bool:
    """Whether ``step``, or a step inside it, is a sync generator over its input stream."""
    from runnables.core.function import RunnableGenerator

    if isinstance(step, RunnableGenerator) and step._transform is not None:
        return True
    return any(_pulls_in_sync_code(child) for child in step._children())


def _gathers(step: Runnable[Any, Any]) -> bool:
    """Whether streaming through ``step`` gathers its whole input and yields one output
    (the default ``_atransform``, or a plain function's)."""
    from runnables.core.function import RunnableLambda

    if type(step)._atransform is Runnable._atransform:
        return True
    return type(step) is RunnableLambda and not (step._sync_gen or step._async_gen)


def _stages(steps: Sequence[Runnable[Any, Any]]) -> list[tuple[Runnable[Any, Any], ...]]:
    """The steps grouped for streaming: each run of steps that gather their input is one
    stage, every other step a stage of its own.

    A stream nests one generator per stage, and each pull goes through all of them, so a
    flat chain of ~500 gathering steps (plain functions) would exceed Python's recursion
    limit; as one stage it is one generator, whatever its length.
    """
    out: list[tuple[Runnable[Any, Any], ...]] = []
    run: list[Runnable[Any, Any]] = []
    for step in steps:
        if _gathers(step):
            run.append(step)
            continue
        if run:
            out.append(tuple(run))
            run = []
        out.append((step,))
    if run:
        out.append(tuple(run))
    return out


async def _gathered(
    stage: tuple[Runnable[Any, Any], ...], inputs: AsyncIterator[Any], ctx: Context
) -> AsyncIterator[Any]:
    """Stream a run of gathering steps: gather once, invoke all but the last in turn, and
    stream the last (a function that returns a runnable streams that runnable)."""
    value = await gather_input(inputs)
    for step in stage[:-1]:
        value = await step._ainvoke(value, ctx)
    last = call_transform(stage[-1], ListIter((value,)), ctx)
    try:
        async for chunk in last:
            yield chunk
    finally:
        await aclose(last)
