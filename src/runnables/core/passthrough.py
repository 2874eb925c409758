"""Steps that pass their input on: ``RunnablePassthrough``, ``RunnableAssign``, ``RunnablePick``.

All three stream: chunks go through as they arrive.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar, cast

from runnables.core.base import Runnable, RunnableLike, call, call_transform
from runnables.core.bridge import is_sync_call
from runnables.core.chunks import AddableDict, ListIter, add, gather_input
from runnables.core.config import Context, RunnableConfig
from runnables.core.function import _accepts_config
from runnables.core.graph import Graph
from runnables.core.notes import note_step
from runnables.core.parallel import RunnableParallel
from runnables.core.step_types import fields_of, is_open, output_given, struct_type
from runnables.core.streams import tee
from runnables.core.tasks import merge
from runnables.errors import InvalidRunnableError

__all__ = ["RunnableAssign", "RunnablePassthrough", "RunnablePick"]


Other = TypeVar("Other")


def _identity(value: Any) -> Any:
    return value


class RunnablePassthrough(Runnable[Other, Other]):
    """Return the input unchanged (optionally calling ``func`` on it for a side effect).

    >>> from runnables import RunnableParallel, RunnablePassthrough
    >>> RunnableParallel(orig=RunnablePassthrough(), n=len).invoke("abc")
    {'orig': 'abc', 'n': 3}

    It is generic in its type, as langchain-core's: ``RunnablePassthrough[dict]()``.
    """

    def __init__(
        self,
        # Typed as langchain-core's, so the input type flows from the function.
        func: Callable[[Other], Any] | Callable[[Other, RunnableConfig], Any] | None = None,
        afunc: Callable[[Other], Awaitable[Any]]
        | Callable[[Other, RunnableConfig], Awaitable[Any]]
        | None = None,
        *,
        input_type: Any = None,
        name: str | None = None,
    ) -> None:
        if func is not None and inspect.iscoroutinefunction(func):
            func, afunc = None, func
        self.func: Callable[..., Any] | None = func
        self.afunc: Callable[..., Awaitable[Any]] | None = afunc
        self.input_type = input_type
        self.name = name
        if func is None and afunc is None:
            self._inline = _identity
        # As langchain-core: a tap that declares ``config`` receives the call's config.
        self._func_config = func is not None and _accepts_config(func)
        self._afunc_config = afunc is not None and _accepts_config(afunc)

    @classmethod
    def assign(cls, **kwargs: RunnableLike) -> RunnableAssign:  # type: ignore[override]
        """Pass a dict input through with extra keys computed from it.

        >>> RunnablePassthrough.assign(n=lambda d: len(d["text"])).invoke({"text": "abc"})
        {'text': 'abc', 'n': 3}
        """
        return RunnableAssign(RunnableParallel(kwargs))

    def _input_type(self) -> Any:
        return Any if self.input_type is None else self.input_type

    def _output_type(self, fed: Any) -> Any:
        # The output is the input.
        return fed if self.input_type is None else self.input_type

    def _needs_loop(self) -> bool:
        return self.func is None and self.afunc is not None

    def _with_kwargs(self, kwargs: dict[str, Any]) -> Runnable[Other, Other]:
        # As langchain-core: call arguments go to the tap function; with no function
        # there is nothing to give them to, and they are ignored.
        if self.func is None and self.afunc is None:
            return self
        return RunnablePassthrough(
            functools.partial(self.func, **kwargs) if self.func is not None else None,
            functools.partial(self.afunc, **kwargs) if self.afunc is not None else None,
            input_type=self.input_type,
            name=self.name,
        )

    async def _side_effect(self, value: Any, ctx: Context) -> None:
        try:
            if self.afunc is not None and (self.func is None or not is_sync_call(ctx)):
                if self._afunc_config:
                    await self.afunc(value, config=ctx.child_config())
                else:
                    await self.afunc(value)
            elif self.func is not None:
                if self._func_config:
                    self.func(value, config=ctx.child_config())
                else:
                    self.func(value)
        except BaseException as exc:
            note_step(exc, self.get_name())
            raise

    async def _ainvoke(self, input: Any, ctx: Context) -> Any:
        if self.func is not None or self.afunc is not None:
            await self._side_effect(input, ctx)
        return input

    async def _atransform(self, inputs: AsyncIterator[Any], ctx: Context) -> AsyncIterator[Any]:
        if self.func is None and self.afunc is None:
            async for chunk in inputs:
                yield chunk
            return
        final: Any = None
        got = False
        async for chunk in inputs:
            yield chunk
            final = chunk if not got else add(final, chunk)
            got = True
        if got:
            await self._side_effect(final, ctx)


class RunnableAssign(Runnable[dict[str, Any], dict[str, Any]]):
    """Pass a dict through, adding the keys that ``mapper`` computes from it.

    Streaming yields :class:`AddableDict` chunks (the passed-through keys, then each new
    key's chunks as they come), so ``final = final + chunk`` rebuilds the whole output.
    """

    def __init__(
        self, mapper: RunnableParallel | Mapping[str, Any], *, name: str | None = None
    ) -> None:
        self.mapper = mapper if isinstance(mapper, RunnableParallel) else RunnableParallel(mapper)
        self.name = name

    def get_name(self, suffix: str | None = None, *, name: str | None = None) -> str:
        n = name or self.name or f"RunnableAssign<{','.join(self.mapper.steps__)}>"
        return super().get_name(suffix, name=n)

    _output_from_fed = True

    def _input_type(self) -> Any:
        return dict[str, Any]

    def _output_type(self, fed: Any) -> Any:
        # The input's keys (when known) plus the added ones.
        added = fields_of(output_given(self.mapper, fed)) or {}
        known = fields_of(fed)
        name = self.get_name("Output")
        if known is None or is_open(fed):
            return struct_type(name, {**(known or {}), **added}, open=True)
        return struct_type(name, {**known, **added})

    def get_graph(self, config: RunnableConfig | None = None) -> Graph:
        """The mapper's graph, with a passthrough beside it: the input's own keys reach
        the output too."""
        graph = self.mapper.get_graph(config)
        first, last = graph.first_node(), graph.last_node()
        if first is not None and last is not None:
            through = graph.add_node(RunnablePassthrough())
            graph.add_edge(first, through)
            graph.add_edge(through, last)
        return graph

    def _children(self) -> Sequence[Runnable[Any, Any]]:
        return (self.mapper,)

    def _needs_loop(self) -> bool:
        return self.mapper._needs_loop()

    def _check(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            raise InvalidRunnableError(
                f"{self.get_name()} needs a dict input to add keys to, got {value!r} "
                f"(a {type(value).__name__}). Put a step that returns a dict before it, or "
                "use RunnableParallel to build a new dict."
            )
        return cast(dict[str, Any], value)

    async def _ainvoke(self, input: dict[str, Any], ctx: Context) -> dict[str, Any]:
        self._check(input)
        added = await call(self.mapper, input, ctx)
        return {**input, **added}

    async def _atransform(
        self, inputs: AsyncIterator[dict[str, Any]], ctx: Context
    ) -> AsyncIterator[dict[str, Any]]:
        keys = set(self.mapper.steps__)
        if ctx.sync:
            value = self._check(await gather_input(inputs))
            passed = {k: v for k, v in value.items() if k not in keys}
            if passed:
                yield AddableDict(passed)
            async for chunk in call_transform(self.mapper, ListIter((value,)), ctx):
                yield chunk
            return
        for_passthrough, for_mapper = tee(inputs, 2)

        async def passthrough() -> AsyncIterator[dict[str, Any]]:
            async for chunk in for_passthrough:
                self._check(chunk)
                passed = {k: v for k, v in chunk.items() if k not in keys}
                if passed:
                    yield AddableDict(passed)

        merged = merge([passthrough(), call_transform(self.mapper, for_mapper, ctx)])
        try:
            async for _, chunk in merged:
                yield chunk
        finally:
            await merged.aclose()


class RunnablePick(Runnable[dict[str, Any], Any]):
    """Pick one key (a value) or several keys (an :class:`AddableDict`) from a dict input.

    >>> RunnablePick("a").invoke({"a": 1, "b": 2})
    1
    >>> RunnablePick(["a"]).invoke({"a": 1, "b": 2})
    {'a': 1}
    """

    def __init__(self, keys: str | list[str], *, name: str | None = None) -> None:
        if not isinstance(keys, str) and not (
            isinstance(keys, (list, tuple)) and all(isinstance(k, str) for k in keys)
        ):
            raise InvalidRunnableError(
                f"RunnablePick takes a key or a list of keys (strings), got {keys!r}."
            )
        self.keys = keys if isinstance(keys, str) else list(keys)
        self.name = name
        self._inline = self._pick

    def get_name(self, suffix: str | None = None, *, name: str | None = None) -> str:
        shown = self.keys if isinstance(self.keys, str) else ",".join(self.keys)
        return super().get_name(suffix, name=name or self.name or f"RunnablePick<{shown}>")

    _output_from_fed = True

    def _input_type(self) -> Any:
        return dict[str, Any]

    def _output_type(self, fed: Any) -> Any:
        # The picked value (or a dict of the picked keys), when the input's keys are known.
        known = fields_of(fed)
        if isinstance(self.keys, str):
            if known is None or self.keys not in known or is_open(fed):
                return Any
            return known[self.keys]
        if known is None or is_open(fed) or not all(k in known for k in self.keys):
            return dict[str, Any]
        return struct_type(self.get_name("Output"), {k: known[k] for k in self.keys})

    def _needs_loop(self) -> bool:
        return False

    def _pick(self, value: Any) -> Any:
        if not isinstance(value, Mapping):
            raise InvalidRunnableError(
                f"{self.get_name()} needs a dict input, got {value!r} (a {type(value).__name__})."
            )
        if isinstance(self.keys, str):
            return value.get(self.keys)
        picked = AddableDict({k: value[k] for k in self.keys if k in value})
        return picked or None

    async def _ainvoke(self, input: dict[str, Any], ctx: Context) -> Any:
        return self._pick(input)

    async def _atransform(
        self, inputs: AsyncIterator[dict[str, Any]], ctx: Context
    ) -> AsyncIterator[Any]:
        async for chunk in inputs:
            picked = self._pick(chunk)
            if picked is not None:
                yield picked
