"""``Runnable``: the one interface every step implements.

A subclass implements one coroutine, ``_ainvoke(input, ctx)``, and may implement
``_atransform(inputs, ctx)`` to stream. Everything public is built on those two:

- ``ainvoke``/``abatch``/``astream``/``atransform`` and their ``as_completed`` and
  ``astream_events`` variants run them on the caller's event loop;
- ``invoke``/``batch``/``stream``/``transform`` are thin bridges (see ``bridge``): they
  drive the same coroutines inline when no step needs a loop, else on the bridge loop.

Composition (``|``, ``pipe``, ``bind``, ``with_*``, ``map``, ``pick``, ``assign``)
returns new runnables and never changes this one.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from typing import (
    TYPE_CHECKING,
    Any,
    ClassVar,
    Generic,
    Literal,
    Protocol,
    TypeVar,
    cast,
    get_args,
    get_origin,
    overload,
)

from runnables.core import offload as _offload
from runnables.core.bridge import drive, drive_stream, run_on_bridge, stream_on_bridge
from runnables.core.callables import is_async_generator_function, is_generator_function
from runnables.core.chunks import ListIter, add, gather_input
from runnables.core.config import (
    CURRENT,
    ROOT,
    ROOT_HOOK,
    Context,
    RunnableConfig,
    make_context,
)
from runnables.core.deadline import deadline_stream, run_with_deadline
from runnables.core.leaf import (
    LeafHooks,
    call,
    call_transform,
    lend_slot,
    reclaim_slot,
    run_leaf,
)
from runnables.core.notes import note_step
from runnables.core.step_types import input_type, output_given, output_type
from runnables.core.tasks import TaskGroup, aclose, gather_all
from runnables.core.tracing import ListenerTracer
from runnables.errors import ConfigError, InvalidRunnableError, UnsupportedError

if TYPE_CHECKING:
    from pydantic import BaseModel

    from runnables.core.binding import RunnableBinding
    from runnables.core.each import RunnableEach
    from runnables.core.fallbacks import RunnableWithFallbacks
    from runnables.core.graph import Graph
    from runnables.core.retry import RunnableRetry
    from runnables.core.sequence import RunnableSequence
    from runnables.core.tracing import Run
    from runnables.tools.base import BaseTool

__all__ = ["Runnable", "RunnableLike", "coerce_to_runnable"]

Input = TypeVar("Input")
Output = TypeVar("Output")
Other = TypeVar("Other")

RunnableLike = Any  # a Runnable, a function, a generator function or a dict of those


class ForeignRunnable(Protocol):
    """What the type checker takes as another library's runnable (langchain-core's): an
    object with ``invoke`` and ``ainvoke``. At run time ``coerce_to_runnable`` decides."""

    def invoke(self, input: Any, /) -> Any: ...

    def ainvoke(self, input: Any, /) -> Awaitable[Any]: ...


class Runnable(LeafHooks, Generic[Input, Output]):
    """A unit of work that can be invoked, batched, streamed, and composed with ``|``.

    >>> from runnables import RunnableLambda
    >>> chain = RunnableLambda(str.strip) | RunnableLambda(str.upper)
    >>> chain.invoke("  hi ")
    'HI'
    """

    name: str | None = None
    #: The kind of run this step records in events: "chain", "prompt", "parser", ...
    _run_type: str = "chain"
    #: Whether this step's output type is told from its input's (an assign, a pick): a
    #: sequence ending in it builds its output schema from the whole chain's types.
    _output_from_fed: ClassVar[bool] = False
    # How the step runs as a leaf (``_is_leaf``, ``_inline``, ``_ainline``,
    # ``_found_blocking``, ``_run_returned``) is told to the leaf scope through the hooks
    # of ``leaf.LeafHooks``; only ``core/leaf.py`` reads them.

    #: Set on a subclass that implements only the public ``invoke``/``ainvoke`` (not
    #: ``_ainvoke``/``_atransform``): its ``stream``/``astream``/``ainvoke`` are then
    #: langchain-core's defaults, which call those with the config as the caller gave it.
    _public_only: ClassVar[bool] = False
    #: Whether the class implements ``_atransform`` itself (else streaming gathers the
    #: input and runs ``_ainvoke`` once); set when the class is made.
    _streams: ClassVar[bool] = False
    #: Set on such a subclass that also overrides ``astream``: containers and
    #: ``astream_events`` stream through it, as langchain-core's default ``atransform``
    #: does, and its runs are those its own code starts through the callback managers.
    _public_astream: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._streams = cls._atransform is not Runnable._atransform
        cls._public_only = (
            cls._ainvoke is Runnable._ainvoke
            and cls._atransform is Runnable._atransform
            and (cls.invoke is not Runnable.invoke or cls.ainvoke is not Runnable.ainvoke)
        )
        cls._public_astream = cls._public_only and cls.astream is not Runnable.astream

    # ------------------------------------------------------------------ to implement

    async def _ainvoke(self, input: Input, ctx: Context) -> Output:
        """Run this step once. Every runnable implements this (or public invoke/ainvoke)."""
        cls = type(self)
        if cls.ainvoke is not Runnable.ainvoke:
            return await self.ainvoke(input, ctx.public_config())
        if cls.invoke is not Runnable.invoke:
            return self.invoke(input, ctx.public_config())
        raise UnsupportedError(
            f"{cls.__name__} must implement '_ainvoke(self, input, ctx)' or override 'ainvoke' "
            "or 'invoke'."
        )

    async def _atransform(
        self, inputs: AsyncIterator[Input], ctx: Context
    ) -> AsyncIterator[Output]:
        """Stream this step over a stream of input chunks.

        The default gathers the whole input, runs ``_ainvoke`` once and yields its result:
        right for steps whose output only exists once all input is there. A subclass
        that overrides the public ``astream`` instead streams through it.
        """
        if type(self)._public_astream:
            stream = self.astream(await gather_input(inputs), ctx.public_config())
            try:
                async for chunk in stream:
                    yield chunk
            finally:
                await aclose(stream)
            return
        yield await self._ainvoke(await gather_input(inputs), ctx)

    def _needs_loop(self) -> bool:
        """Whether running this step may suspend (needs an event loop).

        False only when every function inside is sync and none was found slow, so sync
        callers can drive it inline. The safe default is True.
        """
        cls = type(self)
        return not (cls.invoke is not Runnable.invoke and cls.ainvoke is Runnable.ainvoke)

    def _children(self) -> Sequence[Runnable[Any, Any]]:
        """The steps this one runs (for graphs, schemas and error notes)."""
        return ()

    def _with_kwargs(self, kwargs: dict[str, Any]) -> Runnable[Input, Output]:
        """This step as called with keyword arguments (from ``bind`` or ``invoke(**kw)``).

        Steps that take call-time arguments (functions, models) override this to return a
        configured copy. The default supports subclasses that override public
        ``invoke``/``ainvoke`` with their own keyword arguments.
        """
        cls = type(self)
        if cls.ainvoke is not Runnable.ainvoke or cls.invoke is not Runnable.invoke:
            from runnables.core.binding import PublicKwargsCall

            return PublicKwargsCall(self, kwargs)
        raise InvalidRunnableError(
            f"{self.get_name()} does not take call arguments, but got {sorted(kwargs)!r}. "
            "Pass values through the input, or use with_config(configurable=...) for "
            "configurable fields."
        )

    # ------------------------------------------------------------------ naming, types

    def get_name(self, suffix: str | None = None, *, name: str | None = None) -> str:
        """The step's name: ``name`` if given, else its own ``name``, else the class name."""
        n = name or self.name or type(self).__name__
        if suffix:
            return f"{n}{suffix}" if n[:1].isupper() else f"{n}_{suffix.lower()}"
        return n

    @property
    def InputType(self) -> Any:  # noqa: N802 - langchain-core's name
        """The type of input this runnable accepts."""
        return input_type(self)

    @property
    def OutputType(self) -> Any:  # noqa: N802 - langchain-core's name
        """The type of output this runnable produces."""
        return output_type(self)

    def _input_type(self) -> Any:
        """The type this step accepts (``InputType``); a step class overrides it.

        The default: the ``Input`` a subclass gave ``Runnable`` (``class G(Runnable[str,
        int])``), else the input of the runnable this one wraps, else ``Any``.
        """
        declared = self._declared_types()
        if declared is not None and not isinstance(declared[0], TypeVar):
            return declared[0]
        inner = self._wrapped()
        return Any if inner is None else input_type(inner)

    def _output_type(self, fed: Any) -> Any:
        """The type this step returns when its input is of type ``fed`` (``OutputType``
        passes ``InputType``); a step class overrides it, as ``_input_type``."""
        declared = self._declared_types()
        if declared is not None and not isinstance(declared[1], TypeVar):
            return declared[1]
        inner = self._wrapped()
        return Any if inner is None else output_given(inner, fed)

    def _declared_types(self) -> tuple[Any, Any] | None:
        """The ``[Input, Output]`` a subclass gave ``Runnable`` (``class G(Runnable[str, int])``).

        langchain-core reads the class's ``__orig_bases__``; the nearest class in the MRO
        that parameterizes a ``Runnable`` base is read here, so a subclass of ``G`` has G's.
        """
        # ``RunnableBranch[int, int](...)``: typing records the subscription on the instance.
        subscribed = getattr(self, "__orig_class__", None)
        if subscribed is not None and len(get_args(subscribed)) == 2:
            return get_args(subscribed)[0], get_args(subscribed)[1]
        for cls in type(self).__mro__:
            for base in cls.__dict__.get("__orig_bases__", ()):
                origin = get_origin(base)
                args = get_args(base)
                if isinstance(origin, type) and issubclass(origin, Runnable) and len(args) == 2:
                    return args[0], args[1]
        return None

    def _wrapped(self) -> Runnable[Any, Any] | None:
        """The runnable a wrapper of no more specific kind stands for (a retry, a
        fallback's primary, a configurable's default): its types and graph are this one's."""
        for attr in ("bound", "runnable", "default"):
            inner = getattr(self, attr, None)
            if isinstance(inner, Runnable) and inner is not self:
                return inner
        return None

    @property
    def input_schema(self) -> type[BaseModel]:
        """A pydantic model of the input (used by the serving layer to validate)."""
        return self.get_input_schema()

    @property
    def output_schema(self) -> type[BaseModel]:
        """A pydantic model of the output."""
        return self.get_output_schema()

    def get_input_schema(self, config: RunnableConfig | None = None) -> type[BaseModel]:
        """A pydantic model of the input."""
        from runnables.core.schema import model_for

        return model_for(self.get_name("Input"), self.InputType)

    def get_output_schema(self, config: RunnableConfig | None = None) -> type[BaseModel]:
        """A pydantic model of the output."""
        from runnables.core.schema import model_for

        return model_for(self.get_name("Output"), self.OutputType)

    def get_input_jsonschema(self, config: RunnableConfig | None = None) -> dict[str, Any]:
        """The JSON schema of the input."""
        return self.get_input_schema(config).model_json_schema()

    def get_output_jsonschema(self, config: RunnableConfig | None = None) -> dict[str, Any]:
        """The JSON schema of the output."""
        return self.get_output_schema(config).model_json_schema()

    @property
    def config_specs(self) -> list[Any]:
        """The configurable fields reachable from this runnable."""
        from runnables.core.configurable import collect_specs

        return collect_specs(self)

    def config_schema(self, *, include: Sequence[str] | None = None) -> type[BaseModel]:
        """A pydantic model of the config this runnable accepts."""
        from runnables.core.schema import config_model

        return config_model(self, include)

    def get_config_jsonschema(self, *, include: Sequence[str] | None = None) -> dict[str, Any]:
        """The JSON schema of the config."""
        return self.config_schema(include=include).model_json_schema()

    def get_graph(self, config: RunnableConfig | None = None) -> Graph:
        """The graph of steps, for ``draw_ascii()`` and ``draw_mermaid()``.

        A step class that runs others overrides this (a sequence chains its steps'
        graphs, a parallel fans out and back in, a branch fans out conditionally). The
        default draws the runnable a wrapper stands for (``bound``, ``runnable`` or
        ``default``); else a container's children (one: its graph; several: fanned
        out); else this step as one node between its input and output schemas.
        """
        from runnables.core.graph import fan_graph, leaf_graph

        inner = self._wrapped()
        if inner is not None:
            return inner.get_graph(config)
        children = list(self._children())
        if children and not self._is_leaf:
            if len(children) == 1:
                return children[0].get_graph(config)
            return fan_graph(self, [(None, c) for c in children], conditional=False, config=config)
        return leaf_graph(self)

    # ------------------------------------------------------------------ async API

    async def ainvoke(
        self, input: Input, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Output:
        """Run once on the caller's event loop and return the output.

        ``kwargs`` are bound to the runnable for this call (``llm.ainvoke(x, stop=[...])``).
        """
        if self._public_only and type(self).invoke is not Runnable.invoke:
            # langchain-core's default: the sync invoke on a worker thread, given the
            # caller's config unchanged.
            return await asyncio.to_thread(self.invoke, input, config, **kwargs)
        if kwargs:
            return await self.bind(**kwargs).ainvoke(input, config)
        if not config and CURRENT.get() is None and not ROOT_HOOK:
            return await self._ainvoke(input, ROOT)
        return cast(Output, await invoke_root(self, input, make_context(config)))

    async def abatch(
        self,
        inputs: Sequence[Input],
        config: RunnableConfig | Sequence[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[Output]:
        """Run on many inputs concurrently; outputs in input order.

        Each input runs through every step independently (an input reaches step 2 as soon
        as its own step 1 is done). ``max_concurrency`` bounds the steps doing work at once
        across the whole batch. With ``return_exceptions`` a failed input's exception
        takes its place in the list; otherwise the first failure cancels the rest.
        """
        if kwargs:
            return await self.bind(**kwargs).abatch(
                inputs, config, return_exceptions=return_exceptions
            )
        inputs = list(inputs)
        if not inputs:
            return []
        ctxs = _batch_contexts("abatch", inputs, config)
        return await batch_root(self, inputs, ctxs, return_exceptions)

    async def abatch_as_completed(
        self,
        inputs: Sequence[Input],
        config: RunnableConfig | Sequence[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> AsyncIterator[tuple[int, Output | Exception]]:
        """Like ``abatch`` but yields ``(index, output)`` pairs as each input finishes."""
        target: Runnable[Input, Output] = self.bind(**kwargs) if kwargs else self
        inputs = list(inputs)
        if not inputs:
            return
        ctxs = _batch_contexts("abatch_as_completed", inputs, config)

        async def one(i: int) -> tuple[int, Any]:
            try:
                return i, await invoke_root(target, inputs[i], ctxs[i])
            except Exception as exc:
                if return_exceptions:
                    return i, exc
                raise

        # Lend the caller's slot once, before the tasks copy HOLDING (see batch_root).
        lent = lend_slot(ctxs[0])
        try:
            async with TaskGroup() as group:
                tasks = [group.start(one(i)) for i in range(len(inputs))]
                for next_done in asyncio.as_completed(tasks):
                    yield await next_done
        finally:
            if lent is not None:
                await reclaim_slot(lent)

    def abatch_stream(
        self,
        inputs: Iterable[Input] | AsyncIterable[Input],
        config: RunnableConfig | None = None,
    ) -> AsyncIterator[tuple[int, Output | Exception]]:
        """Run on an iterable of any length; yield ``(index, output)`` pairs as inputs finish.

        The batch for inputs that do not fit in memory (a file of millions of rows). Inputs
        come from a list, a generator or an async generator and are read lazily: at most
        ``max_concurrency`` run at once under the call's one budget (256 without one), and
        at most as many finished outputs wait for the consumer, so memory is bounded by the
        budget whatever the length, and a slow consumer stops the reading (backpressure).
        ``index`` is the input's position. A failed input yields its exception in place of
        the output and the rest go on; an error raised by the input iterable itself ends
        the stream with that error. Closing the stream cancels the inputs still running;
        the iterable is not closed (it belongs to the caller).

        It is named for the ``abatch`` family it belongs to (``abatch``,
        ``abatch_as_completed``: many inputs, one budget) with ``_stream`` because its
        inputs arrive as a stream; not ``astream_batch``, as every ``astream*`` method
        streams the chunks of *one* output.

        >>> async for i, out in chain.abatch_stream(read_rows(), {"max_concurrency": 64}):
        ...     write(i, out)
        """
        from runnables.core.batch_stream import batch_stream_root

        return batch_stream_root(self, inputs, make_context(config))

    def astream(
        self, input: Input, config: RunnableConfig | None = None, **kwargs: Any
    ) -> AsyncIterator[Output]:
        """Stream output chunks as they are produced (an async generator).

        Closing it (``await stream.aclose()``, or ``async with contextlib.aclosing(...)``)
        or cancelling the caller cancels everything the stream started and closes every
        generator inside it before returning. A stream left with a plain ``break`` is
        closed by the event loop's async-generator finalizer only once nothing refers
        to it any more: a stream kept in a variable stays open, its generators suspended
        and its branches holding their resources, until that reference goes. To close it
        at a point you choose, use ``async with contextlib.aclosing(chain.astream(x))``
        or ``await stream.aclose()``.
        """
        # Returning the root generator itself (rather than re-yielding from it) saves a
        # generator layer per chunk.
        if self._public_only:
            return self._astream_public(input, config, kwargs)
        target: Runnable[Input, Output] = self.bind(**kwargs) if kwargs else self
        return transform_root(target, ListIter((input,)), make_context(config))

    async def _astream_public(
        self, input: Input, config: RunnableConfig | None, kwargs: dict[str, Any]
    ) -> AsyncIterator[Output]:
        # langchain-core's default astream: one chunk, ainvoke's output.
        yield await self.ainvoke(input, config, **kwargs)

    async def atransform(
        self,
        input: AsyncIterator[Input] | Iterable[Input],
        config: RunnableConfig | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[Output]:
        """Stream output chunks for a stream of input chunks."""
        target: Runnable[Input, Output] = self.bind(**kwargs) if kwargs else self
        source = input if hasattr(input, "__anext__") else ListIter(input)  # type: ignore[arg-type]
        agen = transform_root(target, cast("AsyncIterator[Input]", source), make_context(config))
        try:
            async for chunk in agen:
                yield chunk
        finally:
            await agen.aclose()

    def astream_events(
        self,
        input: Input,
        config: RunnableConfig | None = None,
        *,
        version: Literal["v1", "v2"] = "v2",
        include_names: Sequence[str] | None = None,
        include_types: Sequence[str] | None = None,
        include_tags: Sequence[str] | None = None,
        exclude_names: Sequence[str] | None = None,
        exclude_types: Sequence[str] | None = None,
        exclude_tags: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[dict[str, Any]]:
        """Stream the events of a run: starts, stream chunks and ends of every step.

        Event names and fields follow langchain-core's v2 (``on_chain_start``,
        ``on_chain_stream``, ``on_chain_end``, with ``run_id``, ``parent_ids``, ``name``,
        ``tags``, ``metadata`` and ``data``). Only ``version="v2"`` is supported; any
        other version raises ``NotImplementedError`` at the call.
        """
        if version != "v2":
            raise UnsupportedError(
                f"astream_events supports only version='v2' (langchain-core's current event "
                f"format), got version={version!r}. Pass version='v2' and read the v2 events."
            )
        from runnables.core.events import stream_events

        target: Runnable[Input, Output] = self.bind(**kwargs) if kwargs else self
        return stream_events(
            target,
            input,
            config,
            include_names=include_names,
            include_types=include_types,
            include_tags=include_tags,
            exclude_names=exclude_names,
            exclude_types=exclude_types,
            exclude_tags=exclude_tags,
        )

    def stream_events(
        self,
        input: Input,
        config: RunnableConfig | None = None,
        *,
        version: Literal["v1", "v2", "v3"] = "v2",
        include_names: Sequence[str] | None = None,
        include_types: Sequence[str] | None = None,
        include_tags: Sequence[str] | None = None,
        exclude_names: Sequence[str] | None = None,
        exclude_types: Sequence[str] | None = None,
        exclude_tags: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> Iterator[dict[str, Any]]:
        """``astream_events`` for sync code: the same v2 events, bridged.

        (langchain-core 1.8.3 has this name only for its new ``version="v3"`` protocol on
        chat models and graphs, and raises for v1/v2; here every runnable streams v2.)
        """
        if version == "v3":
            raise UnsupportedError(
                "stream_events(version='v3') (langchain-core's new streaming protocol) is "
                "not supported; use version='v2'."
            )
        yield from stream_on_bridge(
            lambda: self.astream_events(
                input,
                config,
                version=cast(Literal["v2"], version),
                include_names=include_names,
                include_types=include_types,
                include_tags=include_tags,
                exclude_names=exclude_names,
                exclude_types=exclude_types,
                exclude_tags=exclude_tags,
                **kwargs,
            )
        )

    def get_prompts(self, config: RunnableConfig | None = None) -> list[Any]:
        """The prompt templates among this runnable's steps (from its graph)."""
        from runnables.prompts.base import BasePromptTemplate

        nodes = self.get_graph(config).nodes.values()
        return [node.data for node in nodes if isinstance(node.data, BasePromptTemplate)]

    # ------------------------------------------------------------------ sync API

    def invoke(self, input: Input, config: RunnableConfig | None = None, **kwargs: Any) -> Output:
        """Run once and return the output (a bridge over ``ainvoke``)."""
        if kwargs:
            return self.bind(**kwargs).invoke(input, config)
        if not self._needs_loop():
            ctx = make_context(config, sync=True)
            return cast(Output, drive(invoke_root(self, input, ctx)))
        return run_on_bridge(self.ainvoke(input, config))

    def batch(
        self,
        inputs: Sequence[Input],
        config: RunnableConfig | Sequence[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[Output]:
        """Run on many inputs (a bridge over ``abatch``).

        As in langchain-core, every input runs even when one fails (their side effects
        happen); then, unless ``return_exceptions``, the exception of the first failed
        input in input order is raised, unchanged. (``abatch`` instead cancels the rest
        at the first failure: no task outlives the call.)
        """
        if kwargs:
            return self.bind(**kwargs).batch(inputs, config, return_exceptions=return_exceptions)
        inputs = list(inputs)
        out: list[Any] = []
        if config is None or isinstance(config, Mapping):
            # Cheap sync chains run inline, one input after another, until a step is found
            # slow; the rest then goes to the loop, where slow steps overlap on threads.
            # With max_concurrency too: one input at a time is within any limit, and a
            # step of unknown speed is timed here, on the caller's thread, not on the
            # bridge loop (langchain-core runs a sync batch's calls on threads).
            for i, item in enumerate(inputs):
                if self._needs_loop():
                    out += run_on_bridge(self._abatch_each(inputs[i:], config))
                    break
                try:
                    out.append(
                        drive(invoke_root(self, item, make_context(cast("Any", config), sync=True)))
                    )
                except Exception as exc:
                    out.append(Raised(exc))
        else:
            out = run_on_bridge(self._abatch_each(inputs, config))
        for i, value in enumerate(out):
            if type(value) is Raised:
                if not return_exceptions:
                    raise value.exc
                out[i] = value.exc
        return out

    async def _abatch_each(
        self, inputs: list[Input], config: RunnableConfig | Sequence[RunnableConfig] | None
    ) -> list[Any]:
        """``abatch`` that lets every input finish; a failed input's place holds ``Raised``."""
        if not inputs:
            return []
        ctxs = _batch_contexts("batch", inputs, config)
        return await batch_root(self, inputs, ctxs, True, mark=True)

    def batch_as_completed(
        self,
        inputs: Sequence[Input],
        config: RunnableConfig | Sequence[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> Iterator[tuple[int, Output | Exception]]:
        """Like ``batch`` but yields ``(index, output)`` pairs as each input finishes.

        As ``batch``: cheap sync chains run inline, input by input, until a step is found
        slow; the remaining inputs then overlap on the bridge loop.
        """
        if kwargs:
            yield from self.bind(**kwargs).batch_as_completed(
                inputs, config, return_exceptions=return_exceptions
            )
            return
        inputs = list(inputs)
        start = 0
        if config is None or isinstance(config, Mapping):
            while start < len(inputs) and not self._needs_loop():
                ctx = make_context(cast("Any", config), sync=True)
                try:
                    value: Any = drive(invoke_root(self, inputs[start], ctx))
                except Exception as exc:
                    if not return_exceptions:
                        raise
                    value = exc
                yield start, value
                start += 1
        if start == len(inputs):
            return
        rest = inputs[start:]
        for i, value in stream_on_bridge(
            lambda: self.abatch_as_completed(rest, config, return_exceptions=return_exceptions)
        ):
            yield i + start, value

    def stream(
        self, input: Input, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Iterator[Output]:
        """Stream output chunks (a bridge over ``astream``)."""
        if self._public_only:
            # langchain-core's default stream: one chunk, invoke's output.
            yield self.invoke(input, config, **kwargs)
            return
        target: Runnable[Input, Output] = self.bind(**kwargs) if kwargs else self
        if not target._needs_loop():
            ctx = make_context(config, sync=True)
            yield from drive_stream(transform_root(target, ListIter((input,)), ctx))
            return
        yield from stream_on_bridge(lambda: target.astream(input, config))

    def transform(
        self, input: Iterable[Input], config: RunnableConfig | None = None, **kwargs: Any
    ) -> Iterator[Output]:
        """Stream output chunks for an iterable of input chunks (a bridge over ``atransform``)."""
        target: Runnable[Input, Output] = self.bind(**kwargs) if kwargs else self
        items = list(input)
        if not target._needs_loop():
            ctx = make_context(config, sync=True)
            yield from drive_stream(transform_root(target, ListIter(items), ctx))
            return
        yield from stream_on_bridge(lambda: target.atransform(items, config))

    # ------------------------------------------------------------------ composition

    @overload
    def __or__(self, other: Mapping[str, Any]) -> RunnableSequence[Input, dict[str, Any]]: ...

    @overload
    def __or__(self, other: Runnable[Any, Other]) -> RunnableSequence[Input, Other]: ...

    # A generator function becomes a RunnableGenerator and an async function is
    # awaited (coerce_to_runnable), so the step's output is the chunk or the awaited
    # value, not the generator or the coroutine.
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
        from runnables.core.sequence import RunnableSequence

        return RunnableSequence(self, coerce_to_runnable(other))

    @overload
    def __ror__(
        self, other: Runnable[Other, Any] | Callable[[Other], Any]
    ) -> RunnableSequence[Other, Output]: ...

    @overload
    def __ror__(
        self, other: Mapping[str, Any] | ForeignRunnable
    ) -> RunnableSequence[Any, Output]: ...

    def __ror__(self, other: Any) -> RunnableSequence[Any, Output]:
        from runnables.core.sequence import RunnableSequence

        return RunnableSequence(coerce_to_runnable(other), self)

    def pipe(
        self,
        *others: Runnable[Any, Other] | Callable[[Any], Other] | Mapping[str, Any],
        name: str | None = None,
    ) -> RunnableSequence[Input, Other]:
        """Compose with the steps in ``others``, in order: ``a.pipe(b, c)`` is ``a | b | c``.

        Typed as langchain-core's: the output type is the one ``others`` share (the last
        step's, when they agree).
        """
        from runnables.core.sequence import RunnableSequence

        return RunnableSequence(self, *(coerce_to_runnable(o) for o in others), name=name)

    def pick(self, keys: str | list[str]) -> RunnableSequence[Input, Any]:
        """Follow this step with picking ``keys`` from its dict output."""
        from runnables.core.passthrough import RunnablePick

        return self | RunnablePick(keys)

    def assign(self, **kwargs: RunnableLike) -> RunnableSequence[Input, dict[str, Any]]:
        """Follow this step with adding keys computed from its dict output."""
        from runnables.core.parallel import RunnableParallel
        from runnables.core.passthrough import RunnableAssign

        return self | RunnableAssign(RunnableParallel(kwargs))

    def map(self) -> RunnableEach[Input, Output]:
        """A runnable that applies this one to each item of a list input."""
        from runnables.core.each import RunnableEach

        return RunnableEach(bound=self)

    def bind(self, **kwargs: Any) -> RunnableBinding[Input, Output]:
        """Fix keyword arguments for every call (a model's ``stop``, ``tools``, ...)."""
        from runnables.core.binding import RunnableBinding

        return RunnableBinding(bound=self, kwargs=kwargs)

    def with_config(
        self, config: RunnableConfig | None = None, **kwargs: Any
    ) -> RunnableBinding[Input, Output]:
        """Fix config keys for every call (``tags``, ``run_name``, ``max_concurrency``...)."""
        from runnables.core.binding import RunnableBinding

        return RunnableBinding(
            bound=self, config=cast(RunnableConfig, {**(config or {}), **kwargs})
        )

    def with_types(
        self, *, input_type: Any = None, output_type: Any = None
    ) -> RunnableBinding[Input, Output]:
        """Declare the input and output types (for schemas and the serving layer)."""
        from runnables.core.binding import RunnableBinding

        return RunnableBinding(
            bound=self, custom_input_type=input_type, custom_output_type=output_type
        )

    def with_timeout(self, seconds: float) -> RunnableBinding[Input, Output]:
        """Give each call a deadline that nested steps and retries share.

        When time runs out the call raises :class:`~runnables.errors.StepTimeoutError`
        (a ``TimeoutError``) naming the step that was running.
        """
        return self.with_config(timeout=seconds)

    def with_retry(
        self,
        *,
        retry_if_exception_type: tuple[type[BaseException], ...] = (Exception,),
        wait_exponential_jitter: bool = True,
        exponential_jitter_params: Mapping[str, float] | None = None,
        stop_after_attempt: int = 3,
    ) -> RunnableRetry[Input, Output]:
        """Retry failed calls (see :class:`~runnables.core.retry.RunnableRetry`)."""
        from runnables.core.retry import RunnableRetry

        return RunnableRetry(
            bound=self,
            retry_exception_types=retry_if_exception_type,
            wait_exponential_jitter=wait_exponential_jitter,
            exponential_jitter_params=exponential_jitter_params,
            max_attempt_number=stop_after_attempt,
        )

    def with_fallbacks(
        self,
        fallbacks: Sequence[Runnable[Input, Output]],
        *,
        exceptions_to_handle: tuple[type[BaseException], ...] = (Exception,),
        exception_key: str | None = None,
    ) -> RunnableWithFallbacks[Input, Output]:
        """Try ``fallbacks`` in order when this runnable fails."""
        from runnables.core.fallbacks import RunnableWithFallbacks

        return RunnableWithFallbacks(
            runnable=self,
            fallbacks=fallbacks,
            exceptions_to_handle=exceptions_to_handle,
            exception_key=exception_key,
        )

    def with_listeners(
        self,
        *,
        on_start: Callable[..., Any] | None = None,
        on_end: Callable[..., Any] | None = None,
        on_error: Callable[..., Any] | None = None,
    ) -> RunnableBinding[Input, Output]:
        """Call functions with the run record when this runnable starts, ends or fails.

        Each listener receives a :class:`~runnables.core.tracing.Run` (and the config if
        it takes a second argument); async listeners are awaited.

        Listeners that are methods of a langchain-core object (langchain-core's
        ``RunnableWithMessageHistory`` wrapping a runnables chain calls this) read
        langchain-core run records and configs, and their caller runs the result only if
        it is a langchain-core runnable: they get langchain-core's own ``with_listeners``
        on :meth:`as_langchain`, whose result is a langchain-core runnable.
        """
        from runnables.core.binding import RunnableBinding

        if _langchain_owned(on_start, on_end, on_error):
            return cast(
                "RunnableBinding[Input, Output]",
                self.as_langchain().with_listeners(
                    on_start=on_start, on_end=on_end, on_error=on_error
                ),
            )
        return RunnableBinding(bound=self, listeners=ListenerTracer(on_start, on_end, on_error))

    def with_alisteners(
        self,
        *,
        on_start: Callable[..., Awaitable[Any]] | None = None,
        on_end: Callable[..., Awaitable[Any]] | None = None,
        on_error: Callable[..., Awaitable[Any]] | None = None,
    ) -> RunnableBinding[Input, Output]:
        """``with_listeners`` for async listener functions (they are awaited)."""
        if _langchain_owned(on_start, on_end, on_error):
            # As in with_listeners: langchain-core's listeners, langchain-core's binding.
            return cast(
                "RunnableBinding[Input, Output]",
                self.as_langchain().with_alisteners(
                    on_start=on_start, on_end=on_end, on_error=on_error
                ),
            )
        return self.with_listeners(on_start=on_start, on_end=on_end, on_error=on_error)

    def as_tool(
        self,
        args_schema: type[BaseModel] | None = None,
        *,
        name: str | None = None,
        description: str | None = None,
        arg_types: dict[str, type] | None = None,
    ) -> BaseTool:
        """This runnable as a tool a chat model can call (see :mod:`runnables.tools`).

        A runnable taking a string becomes a one-argument tool; one taking a dict takes
        its keys as arguments (from ``args_schema``, ``arg_types`` or its input type).
        """
        from runnables.tools.convert import convert_runnable_to_tool

        return convert_runnable_to_tool(
            self, args_schema, name=name, description=description, arg_types=arg_types
        )

    def configurable_fields(self, **kwargs: Any) -> Runnable[Input, Output]:
        """Let ``config['configurable']`` override attributes of this runnable per call."""
        from runnables.core.configurable import RunnableConfigurableFields

        return RunnableConfigurableFields(default=self, fields=kwargs)

    def configurable_alternatives(
        self,
        which: Any,
        *,
        default_key: str = "default",
        prefix_keys: bool = False,
        **kwargs: Runnable[Input, Output] | Callable[[], Runnable[Input, Output]],
    ) -> Runnable[Input, Output]:
        """Let ``config['configurable'][which.id]`` pick another runnable per call."""
        from runnables.core.configurable import RunnableConfigurableAlternatives

        return RunnableConfigurableAlternatives(
            which=which,
            default=self,
            alternatives=kwargs,
            default_key=default_key,
            prefix_keys=prefix_keys,
        )

    def as_langchain(self) -> Any:
        """This runnable as a langchain-core ``Runnable`` that delegates to it and streams.

        Use it as a LangGraph node, serve it with LangServe's ``add_routes``, wrap it in
        ``RunnableWithMessageHistory`` or compose it with langchain-core steps. Values
        are converted at the boundary, and LangChain callbacks given to it see this
        chain's runs (chat models as ``on_chat_model_start``/``on_llm_new_token``/
        ``on_llm_end``). Needs the ``interop`` extra.

        >>> from runnables import RunnableLambda
        >>> lc = RunnableLambda(str.upper).as_langchain()
        >>> lc.invoke("hi")
        'HI'
        """
        from runnables.interop.values import require_langchain

        require_langchain("Runnable.as_langchain()")
        from runnables.interop.adapter import LangChainAdapter

        return LangChainAdapter(self)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.get_name()!r})"


# ---------------------------------------------------------------------- running steps


def _batch_contexts(
    method: str, inputs: list[Any], config: RunnableConfig | Sequence[RunnableConfig] | None
) -> list[Context]:
    """One context per input: the same for a single config, or one per config of a list."""
    if config is None or isinstance(config, Mapping):
        return [make_context(config)] * len(inputs)
    configs = list(config)
    if len(configs) != len(inputs):
        raise ConfigError(
            f"{method} got {len(inputs)} inputs but {len(configs)} configs; pass one "
            "config for all inputs or exactly one per input."
        )
    return [make_context(c) for c in configs]


async def invoke_root(step: Runnable[Any, Any], input: Any, ctx: Context) -> Any:
    """Run a public call's root step with everything its context asks for."""
    lent = lend_slot(ctx)
    try:
        if ctx.deadline is not None and not ctx.sync:
            return await run_with_deadline(lambda: call(step, input, ctx), ctx)
        return await call(step, input, ctx)
    finally:
        if lent is not None:
            await reclaim_slot(lent)


async def transform_root(
    step: Runnable[Any, Any], inputs: AsyncIterator[Any], ctx: Context
) -> AsyncGenerator[Any, None]:
    """Stream a public call's root step (deadline applied to each chunk)."""
    agen = call_transform(step, inputs, ctx)
    if ctx.deadline is not None and not ctx.sync:
        agen = deadline_stream(agen, ctx)
    try:
        async for chunk in agen:
            yield chunk
    finally:
        await aclose(agen)


async def batch_root(
    step: Runnable[Any, Any],
    inputs: list[Any],
    ctxs: list[Context],
    return_exceptions: bool,
    mark: bool = False,
) -> list[Any]:
    """Run a batch: each input independently through all steps, sharing one budget.

    With ``return_exceptions`` and ``mark``, a failed input's place holds its exception
    in :class:`Raised`, so it cannot be mistaken for a step that returned an exception.
    """
    first = ctxs[0]
    uniform = all(c is first for c in ctxs)
    if uniform and first.deadline is None and first.limiter is None and not first.tracers:
        # The plain case: one coroutine per input, like hand-written asyncio.gather.
        if return_exceptions:
            aws = [_catching(step._ainvoke(x, first), mark) for x in inputs]
        else:
            aws = [step._ainvoke(x, first) for x in inputs]
        return await gather_all(aws, return_exceptions=False)
    # Lend the caller's slot once for the whole batch: every input's task inherits
    # HOLDING, and each invoke_root would otherwise release the same slot again.
    lent = lend_slot(first)
    try:
        return await _batch_spread(step, inputs, ctxs, return_exceptions, uniform, mark)
    finally:
        if lent is not None:
            await reclaim_slot(lent)


async def _batch_spread(
    step: Runnable[Any, Any],
    inputs: list[Any],
    ctxs: list[Context],
    return_exceptions: bool,
    uniform: bool,
    mark: bool = False,
) -> list[Any]:
    first = ctxs[0]
    limiter = first.limiter if uniform else None
    if limiter is not None and len(inputs) > limiter.limit:
        # A pool of `limit` workers pulls inputs in order, so a huge batch does not park
        # thousands of coroutines on the limiter. Leaves still take slots, so nested
        # concurrency inside an input shares the same budget.
        results: list[Any] = [None] * len(inputs)
        position = iter(range(len(inputs)))

        async def worker() -> None:
            for i in position:
                try:
                    results[i] = await invoke_root(step, inputs[i], first)
                except Exception as exc:
                    if not return_exceptions:
                        raise
                    results[i] = Raised(exc) if mark else exc

        await gather_all([worker() for _ in range(limiter.limit)])
        return results
    if return_exceptions:
        return await gather_all(
            [_catching(invoke_root(step, x, c), mark) for x, c in zip(inputs, ctxs)]
        )
    return await gather_all([invoke_root(step, x, c) for x, c in zip(inputs, ctxs)])


class Raised:
    """The exception a batch input raised, in its place in the batch's results."""

    __slots__ = ("exc",)

    def __init__(self, exc: Exception) -> None:
        self.exc = exc


async def _catching(aw: Awaitable[Any], mark: bool = False) -> Any:
    try:
        return await aw
    except Exception as exc:
        return Raised(exc) if mark else exc


# ---------------------------------------------------------------------- coercion


def _langchain_owned(*listeners: Callable[..., Any] | None) -> bool:
    """Whether one of ``listeners`` is a method of a langchain-core object."""
    for fn in listeners:
        owner = getattr(fn, "__self__", None)
        if owner is not None and type(owner).__module__.startswith("langchain_core."):
            return True
    return False


def langchain_step(thing: Any) -> Runnable[Any, Any] | None:
    """The runnables step for a langchain-core runnable (chat model, retriever, tool,
    LangGraph graph, chain), or ``None`` if ``thing`` is not one.

    Looked up in sys.modules, so the core never imports langchain-core itself.
    """
    lc = sys.modules.get("langchain_core.runnables.base")
    if lc is not None and isinstance(thing, lc.Runnable):
        from runnables.interop.step import wrap_langchain

        return wrap_langchain(thing)
    return None


def coerce_to_runnable(thing: Any) -> Runnable[Any, Any]:
    """Turn a runnable, a function, a generator function or a dict into a runnable.

    A langchain-core ``Runnable`` becomes a :class:`~runnables.interop.step.LangChainStep`.
    """
    if isinstance(thing, Runnable):
        return thing
    step = langchain_step(thing)
    if step is not None:
        return step
    if is_async_generator_function(thing) or is_generator_function(thing):
        from runnables.core.function import RunnableGenerator

        return RunnableGenerator(thing)
    if callable(thing):
        from runnables.core.function import RunnableLambda

        return RunnableLambda(thing)
    if isinstance(thing, Mapping):
        from runnables.core.parallel import RunnableParallel

        return RunnableParallel(dict(thing))
    raise InvalidRunnableError(
        f"Cannot use {thing!r} (a {type(thing).__name__}) as a step: a step must be a "
        "Runnable, a function, a generator function, or a dict of those. Wrap constants "
        "as 'lambda _: value'."
    )


__all__ += ["call", "call_transform", "run_leaf", "note_step", "Input", "Output"]

# Silence "imported but unused": these names are re-exported for step implementations
# (``call``, ``call_transform`` and ``run_leaf`` live in ``leaf.py``, the leaf scope).
_ = (add, note_step, _offload, ListIter, call, call_transform, run_leaf)

if TYPE_CHECKING:
    _run: Run
