"""``RunnableParallel``: branches run concurrently on the same input; output is a dict."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from time import perf_counter
from typing import TYPE_CHECKING, Any

from runnables.core import offload as _offload
from runnables.core.base import Runnable, coerce_to_runnable
from runnables.core.binding import has_listeners
from runnables.core.bridge import run_on_bridge
from runnables.core.chunks import AddableDict, ListIter, gather_input
from runnables.core.config import CURRENT, ROOT, Context, RunnableConfig
from runnables.core.graph import Graph, fan_graph
from runnables.core.introspection import indent_lines_after_first
from runnables.core.leaf import (
    call,
    call_plain,
    call_transform,
    plain_function,
    run_returned,
    timed,
    traced,
    traced_transform,
)
from runnables.core.step_types import first_typed, input_type, output_given, struct_type
from runnables.core.streams import tee
from runnables.core.tasks import gather_all, merge
from runnables.errors import InvalidRunnableError

if TYPE_CHECKING:
    from pydantic import BaseModel

__all__ = ["RunnableParallel", "RunnableMap"]


class RunnableParallel(Runnable[Any, dict[str, Any]]):
    """Run branches concurrently on one input; the output maps each key to its result.

    >>> from runnables import RunnableLambda, RunnableParallel
    >>> p = RunnableParallel(upper=RunnableLambda(str.upper), length=RunnableLambda(len))
    >>> p.invoke("abc")
    {'upper': 'ABC', 'length': 3}

    A dict in a chain (``step | {"a": ..., "b": ...}``) is a ``RunnableParallel``.
    If one branch fails, the others are cancelled and its exception is raised.
    Streaming yields ``{key: chunk}`` dicts as each branch produces chunks; they are
    :class:`AddableDict`, so ``final = final + chunk`` rebuilds the whole output.
    """

    def __init__(
        self,
        steps__: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        merged = {**(steps__ or {}), **kwargs}
        if not merged:
            raise InvalidRunnableError(
                "RunnableParallel needs at least one branch, e.g. RunnableParallel(a=step)."
            )
        for key in merged:
            if not isinstance(key, str):
                raise InvalidRunnableError(f"RunnableParallel keys must be strings, got {key!r}.")
        self.steps__: dict[str, Runnable[Any, Any]] = {
            k: coerce_to_runnable(v) for k, v in merged.items()
        }
        self._keys = list(self.steps__)
        self._steps = list(self.steps__.values())
        self._items = tuple(self.steps__.items())
        # A listened branch gets its map:key tag only on the traced path (see has_listeners).
        self._traced = any(has_listeners(s) for s in self._steps)
        self._nl_generation = -1
        self._nl = True

    @property
    def steps(self) -> dict[str, Runnable[Any, Any]]:
        """The branches by key."""
        return self.steps__

    def get_name(self, suffix: str | None = None, *, name: str | None = None) -> str:
        n = name or self.name or f"RunnableParallel<{','.join(self._keys)}>"
        return super().get_name(suffix, name=n)

    def _children(self) -> Sequence[Runnable[Any, Any]]:
        return self._steps

    def _needs_loop(self) -> bool:
        if self._nl_generation != _offload.generation:
            self._nl = any(s._needs_loop() for s in self._steps)
            self._nl_generation = _offload.generation
        return self._nl

    async def _ainvoke(self, input: Any, ctx: Context) -> dict[str, Any]:
        if ctx.tracers or self._traced:
            aws = [traced(s, input, ctx, f"map:key:{k}") for k, s in self.steps__.items()]
        elif ctx.limiter is None and ctx.running is None:
            return await self._run_fused(input, ctx)
        else:
            aws = [call(s, input, ctx) for s in self._steps]
        if ctx.sync:  # driven without a loop: branches are sync and cheap, run them in turn
            return {k: await aw for k, aw in zip(self._keys, aws)}
        return dict(zip(self._keys, await gather_all(aws)))

    async def _run_fused(
        self,
        input: Any,
        ctx: Context,
        items: Sequence[tuple[str, Runnable[Any, Any]]] | None = None,
        offloading: bool = False,
    ) -> dict[str, Any]:
        """The plain path: cheap sync branches are called directly, in turn (they would not
        overlap anyway: a sync function never yields to the loop); the others run
        concurrently as tasks.

        Once a branch is found blocking (``offloading``), the sync branches not started yet
        run at once instead: each on a worker thread from async code; from a sync drive,
        the rest of the branches move to the bridge loop, which does the same there. So a
        first call of slow sync branches takes about two branches' time, not all of them.
        """
        results: dict[str, Any] = {}
        pending_keys: list[str] = []
        pending: list[Awaitable[Any]] = []
        threaded: list[tuple[str, Runnable[Any, Any]]] = []
        threads: list[_ThreadCall] = []
        rest: Sequence[tuple[str, Runnable[Any, Any]]] = ()
        if items is None:
            items = self._items
        in_loop = not ctx.sync
        token = None if ctx.is_root else CURRENT.set(ctx)
        try:
            start = perf_counter()
            for i, (key, step) in enumerate(items):
                inline = plain_function(step)
                if inline is None:
                    pending_keys.append(key)
                    pending.append(call(step, input, ctx))
                    continue
                if offloading:
                    if not in_loop:
                        rest = items[i:]
                        break
                    thread = _ThreadCall(step, inline, input)
                    threads.append(thread)
                    pending_keys.append(key)
                    pending.append(thread.result())
                    threaded.append((key, step))
                    continue
                try:
                    out, spent = call_plain(step, input, start, in_loop)
                except BaseException:
                    await _abandon(pending, threads)
                    raise
                if spent > _offload.THRESHOLD:  # found blocking: start the rest at once
                    offloading = True
                start += spent
                if isinstance(out, Runnable):
                    pending_keys.append(key)
                    pending.append(run_returned(step, out, input, ctx))
                    continue
                results[key] = out
        finally:
            if token is not None:
                CURRENT.reset(token)
        if rest:
            on_loop = ROOT if ctx.is_root else ctx.replace(sync=False)
            try:
                results.update(run_on_bridge(self._run_fused(input, on_loop, rest, True)))
            except BaseException:
                await _abandon(pending, threads)
                raise
        if pending:
            if ctx.sync:
                for key, aw in zip(pending_keys, pending):
                    results[key] = await aw
            else:
                results.update(zip(pending_keys, await gather_all(pending)))
        for key, step in threaded:
            out = results[key]
            if isinstance(out, Runnable):
                results[key] = await run_returned(step, out, input, ctx)
        if len(results) == len(items) and not pending:
            return results
        return {key: results[key] for key, _ in items}

    async def _atransform(
        self, inputs: AsyncIterator[Any], ctx: Context
    ) -> AsyncIterator[AddableDict]:
        if ctx.sync:
            value = ListIter((await gather_input(inputs),))
            for key, step in self.steps__.items():
                async for chunk in call_transform(step, ListIter(value.items), ctx):
                    yield AddableDict({key: chunk})
            return
        copies = tee(inputs, len(self._steps))
        if ctx.tracers or self._traced:
            streams = [
                traced_transform(s, c, ctx, f"map:key:{k}")
                for (k, s), c in zip(self.steps__.items(), copies)
            ]
        else:
            streams = [call_transform(s, c, ctx) for s, c in zip(self._steps, copies)]
        keys = self._keys
        merged = merge(streams)
        try:
            async for i, chunk in merged:
                yield AddableDict({keys[i]: chunk})
        finally:
            await merged.aclose()

    def _input_type(self) -> Any:
        # The input of the first branch whose input is not Any.
        return first_typed(input_type(step) for step in self.steps__.values())

    def _output_type(self, fed: Any) -> Any:
        # A TypedDict with one key per branch.
        fields = {k: output_given(step, fed) for k, step in self.steps__.items()}
        return struct_type(self.get_name("Output"), fields)

    def get_graph(self, config: RunnableConfig | None = None) -> Graph:
        """Input -> each branch -> Output; unlabelled, as in langchain-core (the branch
        names are in the node's name)."""
        options = [(None, step) for step in self.steps__.values()]
        return fan_graph(self, options, conditional=False, config=config)

    def get_input_schema(self, config: RunnableConfig | None = None) -> type[BaseModel]:
        """One object with every branch's input fields, when every branch takes an object.

        As langchain-core: ``{"city": prompt, "language": itemgetter("language")}`` takes
        the prompt's variables and ``language``, at the top level of one schema.
        """
        from runnables.core.schema import json_type, object_model  # pydantic, on demand

        schemas = [step.get_input_schema(config) for step in self.steps__.values()]
        # langchain-core also merges a branch whose schema has no type (one that takes
        # anything), as a required field "root"; here such a branch keeps the schema
        # that of the first typed branch, so ``{"a": RunnablePassthrough()}`` takes any input.
        if not schemas or not all(json_type(m) == "object" for m in schemas):
            return super().get_input_schema(config)
        fields: dict[str, tuple[Any, Any]] = {}
        for model in schemas:
            for key, field in model.model_fields.items():
                fields[field.alias or key] = (
                    field.annotation,
                    ... if field.is_required() else field.default,
                )
        return object_model(self.get_name("Input"), fields)

    def __repr__(self) -> str:
        # langchain-core's layout: the dict literal it was written as, one key per line.
        inner = ",\n  ".join(
            f"{k}: {indent_lines_after_first(repr(v), '  ' + k + ': ')}"
            for k, v in self.steps__.items()
        )
        return "{\n  " + inner + "\n}"


RunnableMap = RunnableParallel


class _ThreadCall:
    """A sync branch started on a worker thread at once, in the current context.

    A thread cannot be stopped, so when the call fails or is cancelled the branch is
    withdrawn if its thread has not started yet, and waited for otherwise: nothing the
    call started outlives it.
    """

    __slots__ = ("_lock", "_state", "future")

    _PENDING, _RUNNING, _WITHDRAWN = 0, 1, 2

    def __init__(self, step: Runnable[Any, Any], func: Callable[[Any], Any], input: Any) -> None:
        self._lock = threading.Lock()
        self._state = self._PENDING
        context = contextvars.copy_context()
        loop = asyncio.get_running_loop()
        self.future = loop.run_in_executor(None, context.run, self._run, step, func, input)

    def _run(self, step: Runnable[Any, Any], func: Callable[[Any], Any], input: Any) -> Any:
        with self._lock:
            if self._state == self._WITHDRAWN:
                return None
            self._state = self._RUNNING
        # Timed off the loop: a slow branch is marked silently (it blocked no loop), so
        # later calls start it on a thread at once.
        return timed(step, func, perf_counter(), False, input)

    async def result(self) -> Any:
        """The branch's output."""
        try:
            return await asyncio.shield(self.future)
        except asyncio.CancelledError:
            await self.withdraw()
            raise

    async def withdraw(self) -> None:
        with self._lock:
            if self._state == self._PENDING:
                self._state = self._WITHDRAWN
                return
        await asyncio.gather(self.future, return_exceptions=True)


async def _abandon(pending: Sequence[Awaitable[Any]], threads: Sequence[_ThreadCall]) -> None:
    """Drop the branches of a failed call: close those not started, withdraw or wait for
    those on threads."""
    for aw in pending:
        aw.close()  # type: ignore[attr-defined]
    for thread in threads:
        await thread.withdraw()
