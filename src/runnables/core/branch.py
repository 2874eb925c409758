"""``RunnableBranch``: run the first branch whose condition holds, else a default."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, cast

from runnables.core import offload as _offload
from runnables.core.base import Input, Output, Runnable, RunnableLike, coerce_to_runnable
from runnables.core.chunks import ListIter, gather_input
from runnables.core.config import Context, RunnableConfig
from runnables.core.graph import Graph, fan_graph
from runnables.core.leaf import call, call_transform
from runnables.core.step_types import first_typed, input_type, is_any, one_of, output_given
from runnables.core.tasks import aclose
from runnables.errors import InvalidRunnableError

if TYPE_CHECKING:
    from pydantic import BaseModel

__all__ = ["RunnableBranch"]


class BranchShapeError(InvalidRunnableError, ValueError):
    """Too few arguments, or a pair that is not two items: a ``ValueError`` too, which is
    what langchain-core raises for these, so ``except ValueError`` keeps catching them."""


Condition = Runnable[Any, Any] | Callable[[Any], Any] | Callable[[Any], Awaitable[Any]]


def _call_tagged(step: Runnable[Any, Any], input: Any, ctx: Context, tag: str) -> Awaitable[Any]:
    # langchain-core's branch calls each condition and branch through its public
    # ``invoke``/``ainvoke``; an instance that has its own (patched on the object, as a
    # test spy or a wrapper does) gets it called. One dict lookup; classes that override
    # the public methods reach them through ``_ainvoke`` anyway.
    own = step.__dict__.get("invoke" if ctx.sync else "ainvoke")
    if own is not None:
        return _call_own(own, input, ctx)
    return call(step, input, ctx, tag)


async def _call_own(own: Callable[..., Any], input: Any, ctx: Context) -> Any:
    if ctx.sync:
        return own(input, ctx.child_config())
    return await own(input, ctx.child_config())


def _transform_tagged(
    step: Runnable[Any, Any], inputs: AsyncIterator[Any], ctx: Context, tag: str
) -> AsyncIterator[Any]:
    return call_transform(step, inputs, ctx, tag)


class RunnableBranch(Runnable[Input, Output]):
    """Run the first branch whose condition is true for the input; else the default.

    Takes ``(condition, runnable)`` pairs, then the default runnable. A condition is a
    function (sync or async) or a runnable; its result is tested for truth. Conditions
    are checked in order and only until one holds.

    >>> from runnables import RunnableBranch
    >>> branch = RunnableBranch(
    ...     (lambda x: isinstance(x, str), lambda x: x.upper()),
    ...     (lambda x: isinstance(x, int), lambda x: x + 1),
    ...     lambda x: "goodbye",
    ... )
    >>> branch.invoke("hello"), branch.invoke(1), branch.invoke(None)
    ('HELLO', 2, 'goodbye')

    Streaming gathers the input (the conditions need all of it), then streams the
    chosen branch's output chunks as it produces them.
    """

    def __init__(
        self,
        *branches: tuple[Condition, RunnableLike] | RunnableLike,
        name: str | None = None,
    ) -> None:
        if len(branches) < 2:
            raise BranchShapeError(
                f"RunnableBranch requires at least two branches: at least one (condition, "
                f"runnable) pair, then a default; got {len(branches)} argument(s). Example: "
                "RunnableBranch((lambda x: x > 0, positive), default)."
            )
        *pairs, default = branches
        if isinstance(default, (tuple, list)):
            raise InvalidRunnableError(
                f"RunnableBranch's last argument is the default runnable, got the pair "
                f"{default!r}. Add a default runnable after the (condition, runnable) pairs."
            )
        self.default: Runnable[Input, Output] = coerce_to_runnable(default)
        self.branches: list[tuple[Runnable[Input, Any], Runnable[Input, Output]]] = []
        for i, pair in enumerate(pairs, 1):
            if not isinstance(pair, (tuple, list)):
                raise InvalidRunnableError(
                    f"RunnableBranch argument {i} must be a (condition, runnable) pair, got "
                    f"{pair!r} (a {type(pair).__name__}). Only the last argument may be a "
                    "lone runnable (the default)."
                )
            if len(pair) != 2:
                raise BranchShapeError(
                    f"RunnableBranch argument {i} must be a pair (condition, runnable), got "
                    f"{len(pair)} items: {pair!r}."
                )
            condition, runnable = pair
            self.branches.append((coerce_to_runnable(condition), coerce_to_runnable(runnable)))
        self.name = name
        self._nl_generation = -1
        self._nl = True

    def _children(self) -> Sequence[Runnable[Any, Any]]:
        out: list[Runnable[Any, Any]] = []
        for condition, runnable in self.branches:
            out += (condition, runnable)
        out.append(self.default)
        return out

    def _input_type(self) -> Any:
        # The first typed input of its options (the branches' runnables, then the default)
        # and conditions; with none, as langchain-core, the branch's own [Input, Output].
        options = [*(r for _, r in self.branches), self.default]
        found = first_typed(input_type(r) for r in [*options, *(c for c, _ in self.branches)])
        if not is_any(found):
            return found
        declared = self._declared_types()
        return found if declared is None or isinstance(declared[0], TypeVar) else declared[0]

    def _output_type(self, fed: Any) -> Any:
        # The union of its options' outputs.
        options = [*(r for _, r in self.branches), self.default]
        return one_of([output_given(r, fed) for r in options])

    def get_graph(self, config: RunnableConfig | None = None) -> Graph:
        """Input -> each option -> Output, with conditional edges labelled by the
        condition's name (when it has one of its own) and ``default``."""
        options: list[tuple[Any, Runnable[Any, Any]]] = []
        for condition, runnable in self.branches:
            name = condition.get_name()
            options.append((None if name.startswith("Runnable") else name, runnable))
        options.append(("default", self.default))
        return fan_graph(self, options, conditional=True, config=config)

    def get_input_schema(self, config: RunnableConfig | None = None) -> type[BaseModel]:
        """The input schema of the first option (the default, the branches, then the
        conditions) whose schema has a type; else the branch's own declared type. As
        langchain-core, title included."""
        from runnables.core.schema import json_type  # pydantic, on demand

        candidates = [self.default, *(r for _, r in self.branches), *(c for c, _ in self.branches)]
        for runnable in candidates:
            schema = runnable.get_input_schema(config)
            if json_type(schema) is not None:
                return schema
        return super().get_input_schema(config)

    def _needs_loop(self) -> bool:
        if self._nl_generation != _offload.generation:
            self._nl = any(step._needs_loop() for step in self._children())
            self._nl_generation = _offload.generation
        return self._nl

    def _with_kwargs(self, kwargs: dict[str, Any]) -> Runnable[Input, Output]:
        # Like langchain-core: call arguments go to the branches, never to the conditions.
        pairs = [(c, r._with_kwargs(kwargs)) for c, r in self.branches]
        return RunnableBranch(*pairs, self.default._with_kwargs(kwargs), name=self.name)

    async def _select(self, input: Input, ctx: Context) -> tuple[Runnable[Input, Output], str]:
        for i, (condition, runnable) in enumerate(self.branches, 1):
            if await _call_tagged(condition, input, ctx, f"condition:{i}"):
                return runnable, f"branch:{i}"
        return self.default, "branch:default"

    async def _ainvoke(self, input: Input, ctx: Context) -> Output:
        runnable, tag = await self._select(input, ctx)
        return cast(Output, await _call_tagged(runnable, input, ctx, tag))

    async def _atransform(
        self, inputs: AsyncIterator[Input], ctx: Context
    ) -> AsyncIterator[Output]:
        value = await gather_input(inputs)
        runnable, tag = await self._select(value, ctx)
        stream = _transform_tagged(runnable, ListIter((value,)), ctx, tag)
        try:
            async for chunk in stream:
                yield chunk
        finally:
            await aclose(stream)

    def __repr__(self) -> str:
        pairs = ", ".join(f"({c!r}, {r!r})" for c, r in self.branches)
        return f"RunnableBranch({pairs}, {self.default!r})"
