"""Steps made from the user's functions: ``RunnableLambda``, ``RunnableGenerator``, ``chain``.

These are the *leaves* of a chain: where user code runs, where the concurrency budget
is taken, and where the sync-function policy of :mod:`runnables.core.offload` applies.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from operator import itemgetter
from time import perf_counter
from typing import TYPE_CHECKING, Any, TypeVar, cast, get_origin, overload

from runnables.core import offload as _offload
from runnables.core.base import Input, Output, Runnable
from runnables.core.bridge import drive_stream, is_sync_call
from runnables.core.callables import (
    is_async_function,
    is_async_generator_function,
    is_generator_function,
)
from runnables.core.chunks import ListIter, add, gather_input
from runnables.core.config import CURRENT, ROOT, Context, RunnableConfig
from runnables.core.introspection import (
    get_function_first_arg_dict_keys,
    get_function_nonlocals,
    get_lambda_source,
)
from runnables.core.leaf import (
    LendingInput,
    Slot,
    call,
    call_transform,
    pull_in_step,
    run_leaf,
    run_plain_leaf,
    timed,
)
from runnables.core.notes import note_step
from runnables.core.step_types import (
    ITERABLES,
    element_type,
    first_param_type,
    hints_of,
    return_type,
)
from runnables.core.threaded import athreaded
from runnables.errors import InvalidRunnableError, RecursionLimitError

if TYPE_CHECKING:
    from pydantic import BaseModel

__all__ = ["RunnableGenerator", "RunnableLambda", "chain"]

T = TypeVar("T")


def _accepts_config(func: Callable[..., Any]) -> bool:
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return False
    return "config" in params


def _func_name(func: Any) -> str:
    # As langchain-core: a lambda, or a callable with no __name__ (``itemgetter("a")``, a
    # callable object), gives the step the class's name.
    name = getattr(func, "__name__", None)
    return "RunnableLambda" if name is None or name == "<lambda>" else name


async def _to_thread(func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    loop = asyncio.get_running_loop()
    context = contextvars.copy_context()
    return await loop.run_in_executor(None, functools.partial(context.run, func, *args, **kwargs))


class RunnableLambda(Runnable[Input, Output]):
    """A step that calls a function: sync, async, or both.

    >>> from runnables import RunnableLambda
    >>> RunnableLambda(lambda x: x.upper()).invoke("hi")
    'HI'

    With both ``func`` and ``afunc``, async calls use ``afunc`` and sync calls ``func``.
    A generator function streams its output; a function that returns a runnable has that
    runnable run on the same input. A function with a ``config`` parameter receives the
    call's config.

    ``offload`` decides where a sync function runs when called from async code:
    ``"auto"`` (inline, moved to a worker thread if it is found to block the loop),
    ``"always"`` (a worker thread) or ``"never"`` (inline). See :mod:`runnables.core.offload`.
    """

    _is_leaf = True

    # The overloads let the input and output types flow from the function (as in
    # langchain-core): RunnableLambda(str.strip) | RunnableLambda(len) is a
    # RunnableSequence[str, int]. An async function gives the type it awaits to; a
    # generator, the type of its chunks.
    @overload
    def __init__(
        self,
        func: Callable[[Input], Awaitable[Output]],
        afunc: None = None,
        name: str | None = None,
        *,
        offload: _offload.OffloadMode = "auto",
    ) -> None: ...

    @overload
    def __init__(
        self,
        func: Callable[[Input], AsyncIterator[Output]],
        afunc: None = None,
        name: str | None = None,
        *,
        offload: _offload.OffloadMode = "auto",
    ) -> None: ...

    @overload
    def __init__(
        self,
        func: Callable[[Input], Iterator[Output]],
        afunc: Callable[[Input], AsyncIterator[Output]] | None = None,
        name: str | None = None,
        *,
        offload: _offload.OffloadMode = "auto",
    ) -> None: ...

    @overload
    def __init__(
        self,
        func: Callable[[Input, RunnableConfig], Awaitable[Output]],
        afunc: None = None,
        name: str | None = None,
        *,
        offload: _offload.OffloadMode = "auto",
    ) -> None: ...

    # A function that returns a runnable: the runnable is run on the input, so the
    # step's output is that runnable's output (langchain-core's overload too).
    @overload
    def __init__(
        self,
        func: Callable[[Input], Runnable[Any, Output]],
        afunc: None = None,
        name: str | None = None,
        *,
        offload: _offload.OffloadMode = "auto",
    ) -> None: ...

    @overload
    def __init__(
        self,
        func: Callable[[Input], Output],
        afunc: Callable[[Input], Awaitable[Output]] | None = None,
        name: str | None = None,
        *,
        offload: _offload.OffloadMode = "auto",
    ) -> None: ...

    @overload
    def __init__(
        self,
        func: Callable[[Input, RunnableConfig], Output],
        afunc: Callable[[Input, RunnableConfig], Awaitable[Output]] | None = None,
        name: str | None = None,
        *,
        offload: _offload.OffloadMode = "auto",
    ) -> None: ...

    @overload
    def __init__(
        self,
        func: None = None,
        *,
        afunc: Callable[[Input], Awaitable[Output]],
        name: str | None = None,
        offload: _offload.OffloadMode = "auto",
    ) -> None: ...

    def __init__(
        self,
        func: Callable[..., Any] | None = None,
        afunc: Callable[..., Any] | None = None,
        name: str | None = None,
        *,
        offload: _offload.OffloadMode = "auto",
    ) -> None:
        _offload.check_mode(offload)
        if func is None and afunc is None:
            raise InvalidRunnableError("RunnableLambda needs a function: pass func or afunc.")
        if func is not None and not callable(func):
            raise InvalidRunnableError(
                f"RunnableLambda expected a function, got {func!r} (a {type(func).__name__})."
            )
        if func is not None and (is_async_function(func) or is_async_generator_function(func)):
            if afunc is not None:
                raise InvalidRunnableError(
                    f"RunnableLambda got two async functions ({func!r} and {afunc!r}); pass the "
                    "sync one as func and the async one as afunc."
                )
            func, afunc = None, func
        if afunc is not None and not (
            is_async_function(afunc) or is_async_generator_function(afunc)
        ):
            raise InvalidRunnableError(
                f"afunc must be an async function (async def), got {afunc!r}."
            )
        self.func: Callable[..., Any] | None = func
        self.afunc: Callable[..., Any] | None = afunc
        self.name = name or _func_name(func if func is not None else afunc)
        self.offload = offload
        self._blocking = offload == "always"
        self._func_config = func is not None and _accepts_config(func)
        self._afunc_config = afunc is not None and _accepts_config(afunc)
        self._sync_gen = func is not None and is_generator_function(func)
        self._async_gen = afunc is not None and is_async_generator_function(afunc)
        # Containers call a plain function directly, skipping this step's coroutine.
        plain_sync = func is not None and not self._func_config and not self._sync_gen
        # With an afunc too, async calls must use afunc: only a func-only step is inlined.
        self._inline = func if plain_sync and afunc is None and not self._blocking else None
        self._inline_if_cheap = func if plain_sync and afunc is None else None
        self._recheck_at = 0.0  # perf_counter() time of the next re-check, when blocking
        self._recheck_wait = _offload.RECHECK_AFTER
        plain_async = afunc is not None and not self._afunc_config and not self._async_gen
        self._ainline = afunc if plain_async and func is None else None  # type: ignore[assignment]

    # ------------------------------------------------------------------ invoke

    def _needs_loop(self) -> bool:
        return self.func is None or self._blocking

    async def _ainvoke(self, input: Input, ctx: Context) -> Output:
        if ctx is ROOT:
            inline = self._inline
            if inline is not None:  # the common case, kept to one frame
                # leaf.timed, written out as leaf.run_in_turn does: a call to it costs
                # a tenth of a plain ainvoke of a one-function step.
                start = perf_counter()
                try:
                    out = inline(input)
                except BaseException as exc:
                    note_step(exc, self.get_name())
                    raise
                spent = perf_counter() - start
                if spent > _offload.THRESHOLD:
                    self._found_blocking(spent)
                if isinstance(out, Runnable):
                    out = await self._run_returned(out, input, ctx)
                return cast(Output, out)
            ainline = self._ainline
            if ainline is not None:
                try:
                    out = await ainline(input)
                except BaseException as exc:
                    note_step(exc, self.get_name())
                    raise
                if isinstance(out, Runnable):
                    out = await self._run_returned(out, input, ctx)
                return cast(Output, out)
        if ctx.running is not None:
            out = await run_leaf(self, ctx, lambda: self._run(input, ctx))
        elif ctx.limiter is not None:
            ainline = self._ainline
            if ainline is not None:
                out = await run_plain_leaf(self, ctx, ainline, input)
            else:
                out = await run_leaf(self, ctx, lambda: self._run(input, ctx))
        else:
            out = await self._run(input, ctx)
        if isinstance(out, Runnable):
            out = await self._run_returned(out, input, ctx)
        return cast(Output, out)

    async def _run(self, input: Any, ctx: Context) -> Any:
        if not ctx.is_root:
            token = CURRENT.set(ctx)
        try:
            if self._sync_gen or self._async_gen:
                out = await self._run_generator(input, ctx)
            elif self.afunc is not None and (self.func is None or not is_sync_call(ctx)):
                if self._afunc_config:
                    out = await self.afunc(input, config=ctx.child_config())
                else:
                    out = await self.afunc(input)
            else:
                func = cast(Callable[..., Any], self.func)
                if self._func_config:
                    call_it: Callable[[Any], Any] = functools.partial(
                        func, config=ctx.child_config()
                    )
                else:
                    call_it = func
                if self.offload == "never":
                    out = call_it(input)
                elif ctx.sync:  # a sync drive: no loop was blocked
                    out = timed(self, call_it, perf_counter(), False, input)
                elif self._blocking:
                    if self.offload == "auto" and perf_counter() >= self._recheck_at:
                        out = self._recheck(call_it, input)
                    else:
                        out = await _to_thread(call_it, input)
                else:
                    out = timed(self, call_it, perf_counter(), True, input)
        except BaseException as exc:
            note_step(exc, self.get_name())
            raise
        finally:
            if not ctx.is_root:
                CURRENT.reset(token)
        return out

    def _found_blocking(self, spent: float, in_loop: bool = True) -> None:
        if not self._blocking and self.offload == "auto":
            self._blocking = True
            self._inline = None
            self._recheck_wait = _offload.RECHECK_AFTER
            self._recheck_at = perf_counter() + self._recheck_wait
            _offload.found_blocking(self.get_name(), spent, in_loop)

    def _recheck(self, func: Callable[..., Any], *args: Any) -> Any:
        """Call ``func`` inline and timed, once in a while, on a step marked blocking:
        unmark it if it was fast, else wait twice as long for the next re-check."""
        start = perf_counter()
        try:
            return func(*args)
        finally:
            now = perf_counter()
            if now - start <= _offload.THRESHOLD:
                self._blocking = False
                self._inline = self._inline_if_cheap
                _offload.found_cheap()
            else:
                self._recheck_wait = min(self._recheck_wait * 2, _offload.RECHECK_MAX)
                self._recheck_at = now + self._recheck_wait

    def _returned_ctx(self, ctx: Context) -> Context:
        if ctx.recursion_limit <= 0:
            # recursion_limit has counted down to 0: the depth reached is what was returned.
            depth = ctx.returned
            raise RecursionLimitError(
                f"Recursion limit reached: step {self.get_name()!r} returned a runnable "
                f"more than {depth} levels deep (the recursion limit). "
                "Raise config['recursion_limit'] if the depth is intended, or stop "
                "returning runnables from the function."
            )
        return ctx.replace(recursion_limit=ctx.recursion_limit - 1, returned=ctx.returned + 1)

    async def _run_returned(self, runnable: Runnable[Any, Any], input: Any, ctx: Context) -> Any:
        return await call(runnable, input, self._returned_ctx(ctx))

    # ------------------------------------------------------------------ generators

    async def _run_generator(self, input: Any, ctx: Context) -> Any:
        final: Any = None
        got = False
        async for chunk in self._iter_generator(input, ctx):
            final = chunk if not got else add(final, chunk)
            got = True
        return final

    async def _iter_generator(self, input: Any, ctx: Context) -> AsyncIterator[Any]:
        if self._async_gen and (self.func is None or not is_sync_call(ctx)):
            afunc = cast(Callable[..., AsyncIterator[Any]], self.afunc)
            agen = afunc(input, config=ctx.child_config()) if self._afunc_config else afunc(input)
            try:
                async for chunk in agen:
                    yield chunk
            finally:
                await agen.aclose()  # type: ignore[attr-defined]
            return
        func = cast(Callable[..., Iterator[Any]], self.func)
        gen = func(input, config=ctx.child_config()) if self._func_config else func(input)
        try:
            async for chunk in self._pull_sync(gen, ctx):
                yield chunk
        finally:
            gen.close()  # type: ignore[attr-defined]

    async def _pull_sync(self, gen: Iterator[Any], ctx: Context) -> AsyncIterator[Any]:
        """Pull a sync generator under the offload policy, one ``next()`` at a time."""
        done = object()
        while True:
            if ctx.sync or self.offload == "never":
                chunk = next(gen, done)
            elif self._blocking:
                if self.offload == "auto" and perf_counter() >= self._recheck_at:
                    chunk = self._recheck(next, gen, done)
                else:
                    chunk = await _to_thread(next, gen, done)
            else:
                # leaf.timed, written out: this runs once per chunk, and a call to it
                # costs a fifth of a chunk's way through a sync generator.
                start = perf_counter()
                chunk = next(gen, done)
                spent = perf_counter() - start
                if spent > _offload.THRESHOLD:
                    self._found_blocking(spent)
            if chunk is done:
                return
            yield chunk

    async def _atransform(
        self, inputs: AsyncIterator[Input], ctx: Context
    ) -> AsyncIterator[Output]:
        if not (self._sync_gen or self._async_gen):
            # A plain function needs its whole input; its output is one chunk, unless it
            # returns a runnable, which then streams.
            value = await gather_input(inputs)
            if ctx.limiter is not None or ctx.running is not None:
                out = await run_leaf(self, ctx, lambda: self._run(value, ctx))
            else:
                out = await self._run(value, ctx)
            if isinstance(out, Runnable):
                async for chunk in call_transform(out, ListIter((value,)), self._returned_ctx(ctx)):
                    yield chunk
            else:
                yield out
            return
        value = await gather_input(inputs)
        slot = Slot(ctx.limiter) if ctx.limiter is not None else None
        chunks = self._iter_generator(value, ctx)
        try:
            async for chunk in pull_in_step(self, chunks, ctx, slot):
                yield chunk
        except BaseException as exc:
            note_step(exc, self.get_name())
            raise
        finally:
            await chunks.aclose()  # type: ignore[attr-defined]

    @property
    def deps(self) -> list[Runnable[Any, Any]]:
        """The runnables the function reads from outside itself (globals, closure).

        A function calling ``agent.invoke(x)`` depends on ``agent``. Found by reading the
        function's source, so ``[]`` when it has none (builtins, the REPL).
        """
        func = self.func if self.func is not None else self.afunc
        deps: list[Runnable[Any, Any]] = []
        for obj in get_function_nonlocals(func) if func is not None else []:
            if isinstance(obj, Runnable):
                deps.append(obj)
            elif isinstance(getattr(obj, "__self__", None), Runnable):
                deps.append(obj.__self__)
        return deps

    def _input_type(self) -> Any:
        # The annotation of the function's first parameter (Any when it has none).
        return first_param_type(self.func if self.func is not None else self.afunc)

    def _output_type(self, fed: Any) -> Any:
        # The return annotation (the yielded type for a generator function, the awaited
        # type for an async one).
        returned = return_type(self.func if self.func is not None else self.afunc)
        # A function that returns a runnable has it run: its output is not known here.
        for cls in (returned, get_origin(returned)):
            if inspect.isclass(cls) and issubclass(cls, Runnable):
                return Any
        return returned

    def get_input_schema(self, config: RunnableConfig | None = None) -> type[BaseModel]:
        """The input schema; for an unannotated function, the dict keys it reads.

        As langchain-core: ``itemgetter("a", "b")`` takes a dict with keys ``a`` and ``b``;
        ``lambda x: x["hello"]`` a dict with key ``hello``; an annotation wins over both.
        """
        from runnables.core.schema import fields_model, model_for  # pydantic, on demand

        func = self.func if self.func is not None else self.afunc
        if isinstance(func, itemgetter):
            items = func.__reduce__()[1]
            if all(isinstance(item, str) and item for item in items):
                return fields_model(self.get_name("Input"), dict.fromkeys(items, Any), {})
            return model_for(self.get_name("Input"), list[Any])
        if self.InputType is Any and func is not None:
            keys = get_function_first_arg_dict_keys(func)
            if keys:
                return fields_model(self.get_name("Input"), dict.fromkeys(keys, Any), {})
        return super().get_input_schema(config)

    def __repr__(self) -> str:
        # langchain-core's: the lambda's own source, so a printed chain shows what it does.
        if isinstance(self.func, itemgetter):
            return f"RunnableLambda({str(self.func)[len('operator.') :]})"
        if self.func is not None:
            return f"RunnableLambda({get_lambda_source(self.func) or '...'})"
        afunc = cast(Callable[..., Any], self.afunc)
        return f"RunnableLambda(afunc={get_lambda_source(afunc) or '...'})"


def _call_transform(
    transform: Callable[..., Iterator[Any]], kwargs: dict[str, Any], chunks: Iterator[Any]
) -> Iterator[Any]:
    return transform(chunks, **kwargs)


async def _drain(inputs: AsyncIterator[Any]) -> None:
    """Read the rest of a generator step's input once the generator has returned.

    As in langchain-core (which reads it for the run's recorded input), the steps before
    run to their end although the generator stopped reading early: their side effects
    happen, and an error they raise reaches the caller instead of being dropped.
    """
    async for _ in inputs:
        pass


class RunnableGenerator(Runnable[Input, Output]):
    """A step made from a generator function that transforms a *stream* of input chunks.

    The function receives an iterator of input chunks and yields output chunks, so it
    streams: ``gen1 | gen2`` passes each chunk along as it is produced.

    >>> def shout(chunks):
    ...     for c in chunks:
    ...         yield c.upper()
    >>> RunnableGenerator(shout).invoke("hi")
    'HI'

    An async generator function (``async def`` with ``yield``) receives an async
    iterator. A sync one streams through too: driven inline (``stream`` of sync steps)
    it pulls its input chunk by chunk; fed from async steps it runs on a thread of its
    own (see :mod:`runnables.core.threaded`), which waits for each input chunk while the
    loop stays free, and is closed and waited for if the stream is left early.
    """

    _is_leaf = True

    # The overloads let the input and output types flow from the generator function's
    # chunks, as langchain-core's annotations do; the function may also take the config.
    @overload
    def __init__(
        self,
        transform: Callable[[AsyncIterator[Input]], AsyncIterator[Output]],
        atransform: None = None,
        *,
        name: str | None = None,
    ) -> None: ...

    @overload
    def __init__(
        self,
        transform: Callable[[Iterator[Input]], Iterator[Output]],
        atransform: Callable[[AsyncIterator[Input]], AsyncIterator[Output]] | None = None,
        *,
        name: str | None = None,
    ) -> None: ...

    @overload
    def __init__(
        self,
        transform: Callable[[AsyncIterator[Input], RunnableConfig], AsyncIterator[Output]],
        atransform: None = None,
        *,
        name: str | None = None,
    ) -> None: ...

    @overload
    def __init__(
        self,
        transform: Callable[[Iterator[Input], RunnableConfig], Iterator[Output]],
        atransform: Callable[[AsyncIterator[Input], RunnableConfig], AsyncIterator[Output]]
        | None = None,
        *,
        name: str | None = None,
    ) -> None: ...

    def __init__(
        self,
        transform: Callable[..., Iterator[Any]] | Callable[..., AsyncIterator[Any]],
        atransform: Callable[..., AsyncIterator[Any]] | None = None,
        *,
        name: str | None = None,
    ) -> None:
        if is_async_generator_function(transform):
            if atransform is not None:
                raise InvalidRunnableError(
                    "RunnableGenerator got two async generator functions; pass the sync one "
                    "as transform and the async one as atransform."
                )
            self._transform: Callable[..., Iterator[Any]] | None = None
            self._atransform_fn: Callable[..., AsyncIterator[Any]] | None = transform  # type: ignore[assignment]
        elif is_generator_function(transform):
            self._transform = transform  # type: ignore[assignment]
            self._atransform_fn = atransform
        else:
            raise InvalidRunnableError(
                f"RunnableGenerator needs a generator function (one that uses 'yield'), got "
                f"{transform!r}. Use RunnableLambda for a plain function."
            )
        fn = self._transform or self._atransform_fn
        self.name = name or getattr(fn, "__name__", None) or "RunnableGenerator"
        self._config = fn is not None and _accepts_config(fn)
        self._blocking = False

    def _input_type(self) -> Any:
        # The element type of the iterator the function takes.
        fn = self._transform or self._atransform_fn
        return element_type(first_param_type(fn), ITERABLES)

    def _output_type(self, fed: Any) -> Any:
        # The element type of the iterator the function returns (yields).
        fn = self._transform or self._atransform_fn
        return element_type(hints_of(fn).get("return", Any), ITERABLES)

    def _needs_loop(self) -> bool:
        return self._transform is None

    async def _ainvoke(self, input: Input, ctx: Context) -> Output:
        final: Any = None
        got = False
        async for chunk in self._atransform(ListIter((input,)), ctx):
            final = chunk if not got else add(final, chunk)
            got = True
        return cast(Output, final)

    async def _atransform(
        self, inputs: AsyncIterator[Input], ctx: Context
    ) -> AsyncIterator[Output]:
        slot = Slot(ctx.limiter) if ctx.limiter is not None else None
        try:
            kwargs = {"config": ctx.child_config()} if self._config else {}
            if self._atransform_fn is not None and (
                self._transform is None or not is_sync_call(ctx)
            ):
                if slot is not None:
                    inputs = LendingInput(inputs, slot)
                agen = self._atransform_fn(inputs, **kwargs)
                try:
                    async for chunk in pull_in_step(self, agen, ctx, slot):
                        yield chunk
                finally:
                    await agen.aclose()  # type: ignore[attr-defined]
                await _drain(inputs)
            else:
                assert self._transform is not None
                if type(inputs) is ListIter:
                    source: Iterator[Any] = iter(inputs.items)
                elif ctx.sync:
                    # Driven without a loop nothing upstream suspends, so the generator
                    # can pull its input chunks one by one and the stream passes through.
                    source = drive_stream(inputs)
                else:
                    # Its input comes from async steps: waiting for a chunk would block
                    # the loop, so the generator runs on a thread of its own.
                    threaded = self._athreaded(inputs, ctx, slot, kwargs)
                    try:
                        async for chunk in threaded:
                            yield chunk
                    finally:
                        await threaded.aclose()  # type: ignore[attr-defined]
                    await _drain(inputs)
                    return
                gen = self._transform(source, **kwargs)
                pulled = RunnableLambda._pull_sync(self, gen, ctx)  # type: ignore[arg-type]
                try:
                    async for chunk in pull_in_step(self, pulled, ctx, slot):
                        yield chunk
                finally:
                    await pulled.aclose()  # type: ignore[attr-defined]
                    gen.close()  # type: ignore[attr-defined]
                for _ in source:  # see _drain
                    pass
        except BaseException as exc:
            note_step(exc, self.get_name())
            raise

    async def _athreaded(
        self,
        inputs: AsyncIterator[Any],
        ctx: Context,
        slot: Slot | None,
        kwargs: dict[str, Any],
    ) -> AsyncIterator[Any]:
        """Stream the sync transform on its own thread, fed from the async ``inputs``.

        The slot rules are those of the async generator path: held while the user's code
        runs (while the thread produces a chunk), lent while it waits for input.
        """
        transform = cast(Callable[..., Iterator[Any]], self._transform)
        if slot is not None:
            inputs = LendingInput(inputs, slot)
        pulled = athreaded(
            functools.partial(_call_transform, transform, kwargs), inputs, self.get_name()
        )
        try:
            async for chunk in pull_in_step(self, pulled, ctx, slot):
                yield chunk
        finally:
            await pulled.aclose()  # type: ignore[attr-defined]

    offload = "auto"

    def _found_blocking(self, spent: float, in_loop: bool = True) -> None:
        if not self._blocking:
            self._blocking = True
            _offload.found_blocking(self.get_name(), spent, in_loop)

    def __repr__(self) -> str:
        return f"RunnableGenerator({self.get_name()})"


@overload
def chain(func: Callable[[Input], Awaitable[Output]]) -> Runnable[Input, Output]: ...
@overload
def chain(func: Callable[[Input], Output]) -> Runnable[Input, Output]: ...
def chain(func: Callable[[Input], Any]) -> Runnable[Input, Any]:
    """Decorate a function to make it a runnable step.

    >>> @chain
    ... def shout(text: str) -> str:
    ...     return text.upper()
    >>> shout.invoke("hi")
    'HI'
    """
    return RunnableLambda(func)


def _with_kwargs(
    self: RunnableLambda[Any, Any], kwargs: dict[str, Any]
) -> RunnableLambda[Any, Any]:
    func = functools.partial(self.func, **kwargs) if self.func is not None else None
    afunc = functools.partial(self.afunc, **kwargs) if self.afunc is not None else None
    # Either may be missing here, which none of the constructor's typed forms allows.
    make: Any = RunnableLambda
    return cast(RunnableLambda[Any, Any], make(func, afunc, name=self.name, offload=self.offload))


RunnableLambda._with_kwargs = _with_kwargs  # type: ignore[method-assign, assignment]
