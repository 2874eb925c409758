"""``RunnableEach``: apply a runnable to every item of a list (``runnable.map()``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, get_args, get_origin

from runnables.core.base import Input, Output, Runnable, call
from runnables.core.config import Context
from runnables.core.step_types import input_type, output_given
from runnables.core.tasks import gather_all
from runnables.errors import InvalidInputError

__all__ = ["RunnableEach"]


class RunnableEach(Runnable[list[Input], list[Output]]):
    """Run ``bound`` on each item of a list input, concurrently; outputs in item order.

    >>> from runnables import RunnableLambda
    >>> RunnableLambda(lambda x: x * 2).map().invoke([1, 2, 3])
    [2, 4, 6]

    The items share the call's one ``max_concurrency`` budget with everything else the
    call runs: a ``.map()`` nested inside a batch, a parallel or another ``.map()``
    never multiplies the limit. If one item fails, the others are cancelled and its
    exception is raised. Streaming yields the whole list once, when every item is done.
    """

    def __init__(self, *, bound: Runnable[Input, Output], name: str | None = None) -> None:
        self.bound = bound
        self.name = name

    def get_name(self, suffix: str | None = None, *, name: str | None = None) -> str:
        n = name or self.name or f"RunnableEach<{self.bound.get_name()}>"
        return super().get_name(suffix, name=n)

    def _children(self) -> Sequence[Runnable[Any, Any]]:
        return (self.bound,)

    def _input_type(self) -> Any:
        return list[input_type(self.bound)]  # type: ignore[misc]

    def _output_type(self, fed: Any) -> Any:
        item = get_args(fed)[0] if get_origin(fed) in (list, Sequence) and get_args(fed) else Any
        return list[output_given(self.bound, item)]  # type: ignore[misc]

    def _needs_loop(self) -> bool:
        return self.bound._needs_loop()

    def _with_kwargs(self, kwargs: dict[str, Any]) -> Runnable[list[Input], list[Output]]:
        return RunnableEach(bound=self.bound._with_kwargs(kwargs), name=self.name)

    def _items(self, input: Any) -> list[Any]:
        if isinstance(input, (str, bytes, Mapping)) or not hasattr(input, "__iter__"):
            raise InvalidInputError(
                f"{self.get_name()} applies {self.bound.get_name()!r} to each item of a list, "
                f"but got {input!r} (a {type(input).__name__}). Pass a list, or drop .map() "
                "to run the step on the value itself."
            )
        return list(input)

    async def _ainvoke(self, input: list[Input], ctx: Context) -> list[Output]:
        items = self._items(input)
        bound = self.bound
        if ctx.sync:
            # Driven without a loop: every step inside is sync, so items run in turn.
            return [await call(bound, item, ctx) for item in items]
        if not items:
            return []
        limiter = ctx.limiter
        if limiter is not None and len(items) > limiter.limit:
            # `limit` workers pull items in order instead of parking one coroutine per
            # item on the limiter. The workers hold no slot (leaves take slots), so this
            # shares the call's budget and nesting cannot deadlock.
            results: list[Any] = [None] * len(items)
            position = iter(range(len(items)))

            async def worker() -> None:
                for i in position:
                    results[i] = await call(bound, items[i], ctx)

            await gather_all([worker() for _ in range(limiter.limit)])
            return results
        return await gather_all([call(bound, item, ctx) for item in items])

    def __repr__(self) -> str:
        return f"RunnableEach(bound={self.bound!r})"
