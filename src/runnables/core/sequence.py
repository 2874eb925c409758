"""``RunnableSequence``: steps run one after another, each fed the previous output."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, cast, overload

from runnables.core import offload as _offload
from runnables.core.base import (
    ForeignRunnable,
    Input,
    Other,
    Output,
    Runnable,
    coerce_to_runnable,
)
from runnables.core.binding import has_listeners
from runnables.core.chunks import ListIter, gather_input
from runnables.core.config import Context, RunnableConfig
from runnables.core.function import RunnableGenerator, RunnableLambda
from runnables.core.graph import Graph, chain_graph
from runnables.core.introspection import indent_lines_after_first
from runnables.core.leaf import call, call_transform, run_in_turn, traced, traced_transform
from runnables.core.step_types import input_type, output_given
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
        if self.steps[-1]._output_from_fed:
            return super().get_output_schema(config)
        return self.steps[-1].get_output_schema(config)

    def _input_type(self) -> Any:
        return input_type(self.steps[0])

    def _output_type(self, fed: Any) -> Any:
        # The last step's output as fed by the steps before it, so ``step |
        # RunnablePassthrough.assign(...)`` knows the keys that pass through.
        for step in self.steps:
            fed = output_given(step, fed)
        return fed

    def get_graph(self, config: RunnableConfig | None = None) -> Graph:
        """The steps' graphs chained, inner input/output nodes dropped."""
        return chain_graph(self.steps, config)

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
            for i, step in enumerate(self.steps, 1):
                input = await traced(step, input, ctx, f"seq:step:{i}")
            return cast(Output, input)
        if ctx.limiter is not None or ctx.running is not None:
            for step in self.steps:
                input = await call(step, input, ctx)
            return cast(Output, input)
        # The plain path: the steps' plain functions called in turn (leaf.run_in_turn).
        return cast(Output, await run_in_turn(self.steps, input, ctx))

    def _atransform(self, inputs: AsyncIterator[Input], ctx: Context) -> AsyncIterator[Output]:  # type: ignore[override]
        stream: AsyncIterator[Any] = inputs
        if ctx.tracers or self._traced:
            steps = self.steps
            if len(steps) > LONG:
                parts = [
                    partial(_traced_at, s, ctx, f"seq:step:{i}") for i, s in enumerate(steps, 1)
                ]
                return Segmented(inputs, parts)
            for i, step in enumerate(steps, 1):
                stream = traced_transform(step, stream, ctx, f"seq:step:{i}")
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
    return traced_transform(step, stream, ctx, tag)


def _pulls_in_sync_code(step: Runnable[Any, Any]) -> bool:
    """Whether ``step``, or a step inside it, is a sync generator over its input stream."""
    if isinstance(step, RunnableGenerator) and step._transform is not None:
        return True
    return any(_pulls_in_sync_code(child) for child in step._children())


def _gathers(step: Runnable[Any, Any]) -> bool:
    """Whether streaming through ``step`` gathers its whole input and yields one output
    (the default ``_atransform``, or a plain function's)."""
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
        value = await call(step, value, ctx)
    last = call_transform(stage[-1], ListIter((value,)), ctx)
    try:
        async for chunk in last:
            yield chunk
    finally:
        await aclose(last)
