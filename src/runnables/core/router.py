"""``RouterRunnable``: pick a runnable by the ``key`` in the input and run it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, TypedDict, cast

from runnables.core import offload as _offload
from runnables.core.base import (
    Output,
    Runnable,
    RunnableLike,
    call,
    call_transform,
    coerce_to_runnable,
)
from runnables.core.chunks import ListIter, gather_input
from runnables.core.config import Context, RunnableConfig
from runnables.core.graph import Graph, fan_graph
from runnables.core.step_types import one_of, output_type
from runnables.core.tasks import aclose
from runnables.errors import InvalidInputError, InvalidRunnableError

__all__ = ["RouterInput", "RouterRunnable"]


class RouterInput(TypedDict):
    """The input of a :class:`RouterRunnable`: which runnable, and the input to give it."""

    key: str
    input: Any


class RouterRunnable(Runnable[RouterInput, Output]):
    """Run the runnable named by the input's ``key`` on the input's ``input``.

    >>> from runnables import RunnableLambda
    >>> router = RouterRunnable({"add": lambda x: x + 1, "square": lambda x: x**2})
    >>> router.invoke({"key": "square", "input": 3})
    9

    Streaming streams the chosen runnable's output.
    """

    def __init__(self, runnables: Mapping[str, RunnableLike], *, name: str | None = None) -> None:
        if not isinstance(runnables, Mapping) or not runnables:
            raise InvalidRunnableError(
                f"RouterRunnable needs a non-empty dict of key -> runnable, got {runnables!r}."
            )
        self.runnables: dict[str, Runnable[Any, Output]] = {
            key: coerce_to_runnable(r) for key, r in runnables.items()
        }
        self.name = name
        self._nl_generation = -1
        self._nl = True

    def _children(self) -> Sequence[Runnable[Any, Any]]:
        return list(self.runnables.values())

    def _needs_loop(self) -> bool:
        if self._nl_generation != _offload.generation:
            self._nl = any(r._needs_loop() for r in self.runnables.values())
            self._nl_generation = _offload.generation
        return self._nl

    def _input_type(self) -> Any:
        return RouterInput

    def _output_type(self, fed: Any) -> Any:
        # The union of the routes' outputs.
        return one_of([output_type(r) for r in self.runnables.values()])

    def get_graph(self, config: RunnableConfig | None = None) -> Graph:
        """Input -> each route (edges labelled with its key, conditional) -> Output."""
        options = [(str(key), r) for key, r in self.runnables.items()]
        return fan_graph(self, options, conditional=True, config=config)

    def _route(self, input: Any) -> tuple[Runnable[Any, Output], Any]:
        if not isinstance(input, Mapping) or "key" not in input or "input" not in input:
            raise InvalidInputError(
                f"{self.get_name()} takes a dict with 'key' and 'input', got {input!r}. "
                "Pass e.g. {'key': 'name-of-runnable', 'input': ...}."
            )
        key = input["key"]
        try:
            runnable = self.runnables[key]
        except (KeyError, TypeError):
            raise InvalidInputError(
                f"{self.get_name()} has no runnable for key {key!r}; the keys are "
                f"{sorted(self.runnables)!r}. Route to one of those keys, or add a runnable "
                "for this one."
            ) from None
        return runnable, input["input"]

    async def _ainvoke(self, input: RouterInput, ctx: Context) -> Output:
        runnable, actual = self._route(input)
        return cast(Output, await call(runnable, actual, ctx))

    async def _atransform(
        self, inputs: AsyncIterator[RouterInput], ctx: Context
    ) -> AsyncIterator[Output]:
        runnable, actual = self._route(await gather_input(inputs))
        stream = call_transform(runnable, ListIter((actual,)), ctx)
        try:
            async for chunk in stream:
                yield chunk
        finally:
            await aclose(stream)

    def __repr__(self) -> str:
        return f"RouterRunnable({self.runnables!r})"
