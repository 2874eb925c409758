"""``RunnableBinding``: a runnable with fixed call arguments, config, types or listeners.

``bind``, ``with_config``, ``with_types``, ``with_timeout`` and ``with_listeners`` all
return one. Bindings nest: ``r.bind(stop=["\\n"]).with_config(tags=["x"])`` works.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, cast

from runnables.core.base import Input, Output, Runnable
from runnables.core.chunks import gather_input
from runnables.core.config import Context, RunnableConfig, _check, derive, merge_configs
from runnables.core.deadline import deadline_stream, run_with_deadline
from runnables.core.leaf import call, call_transform, traced, traced_transform
from runnables.core.step_types import input_type, output_given

if TYPE_CHECKING:
    from pydantic import BaseModel

    from runnables.core.graph import Graph
    from runnables.core.tracing import ListenerTracer

__all__ = ["RunnableBinding", "has_listeners"]


class RunnableBinding(Runnable[Input, Output]):
    """Wrap ``bound`` with call arguments (``kwargs``), a ``config``, declared types or
    listeners. Everything else behaves like ``bound``.
    """

    #: A binding adds no run of its own to a trace: its config and listeners apply to
    #: the run of the step it wraps (``tracing._through_binding``). Read from this
    #: class's own namespace only, so subclasses do not inherit it.
    _adds_no_run: ClassVar[bool] = True

    def __init__(
        self,
        *,
        bound: Runnable[Input, Output],
        kwargs: dict[str, Any] | None = None,
        config: RunnableConfig | None = None,
        custom_input_type: Any = None,
        custom_output_type: Any = None,
        listeners: ListenerTracer | None = None,
    ) -> None:
        self.bound = bound
        self.kwargs: dict[str, Any] = dict(kwargs or {})
        self.config: RunnableConfig = cast(RunnableConfig, dict(config or {}))
        if self.config:
            _check(self.config)
        self.custom_input_type = custom_input_type
        self.custom_output_type = custom_output_type
        self.listeners = listeners
        # Resolve call arguments once, so calls pay nothing for them.
        self._target: Runnable[Input, Output] = (
            bound._with_kwargs(self.kwargs) if self.kwargs else bound
        )

    @property
    def name(self) -> str | None:  # type: ignore[override]
        return self.config.get("run_name") or self.bound.name

    def get_name(self, suffix: str | None = None, *, name: str | None = None) -> str:
        return self.bound.get_name(suffix, name=name or self.config.get("run_name"))

    @property
    def _run_type(self) -> str:  # type: ignore[override]
        return self.bound._run_type

    def _children(self) -> Sequence[Runnable[Any, Any]]:
        return self.bound._children()

    def _input_type(self) -> Any:
        # The type given to with_types, else the bound step's.
        if self.custom_input_type is not None:
            return self.custom_input_type
        return input_type(self.bound)

    def _output_type(self, fed: Any) -> Any:
        if self.custom_output_type is not None:
            return self.custom_output_type
        if self.custom_input_type is not None:
            fed = self.custom_input_type
        return output_given(self.bound, fed)

    def get_graph(self, config: RunnableConfig | None = None) -> Graph:
        """The bound step's graph: a binding adds no node of its own."""
        return self.bound.get_graph(config)

    def get_input_schema(self, config: RunnableConfig | None = None) -> type[BaseModel]:
        """The declared input type's schema (``with_types``), else the bound step's own
        (title included), as in langchain-core."""
        if self.custom_input_type is not None:
            return super().get_input_schema(config)
        return self.bound.get_input_schema(merge_configs(self.config, config))

    def get_output_schema(self, config: RunnableConfig | None = None) -> type[BaseModel]:
        """The declared output type's schema (``with_types``), else the bound step's own."""
        if self.custom_output_type is not None:
            return super().get_output_schema(config)
        return self.bound.get_output_schema(merge_configs(self.config, config))

    def _needs_loop(self) -> bool:
        if self.listeners is not None and self.listeners.is_async:
            return True
        return self._target._needs_loop()

    def _with_kwargs(self, kwargs: dict[str, Any]) -> Runnable[Input, Output]:
        return RunnableBinding(
            bound=self.bound,
            kwargs={**self.kwargs, **kwargs},
            config=self.config,
            custom_input_type=self.custom_input_type,
            custom_output_type=self.custom_output_type,
            listeners=self.listeners,
        )

    def bind(self, **kwargs: Any) -> RunnableBinding[Input, Output]:
        return cast(RunnableBinding[Input, Output], self._with_kwargs(kwargs))

    def with_config(
        self, config: RunnableConfig | None = None, **kwargs: Any
    ) -> RunnableBinding[Input, Output]:
        return RunnableBinding(
            bound=self.bound,
            kwargs=self.kwargs,
            config=merge_configs(self.config, config, cast(RunnableConfig, kwargs)),
            custom_input_type=self.custom_input_type,
            custom_output_type=self.custom_output_type,
            listeners=self.listeners,
        )

    def _ctx(self, ctx: Context) -> Context:
        return derive(ctx, self.config) if self.config else ctx

    def _without_listeners(self) -> RunnableBinding[Input, Output]:
        """This binding without its listeners (which then watch the run it makes)."""
        return RunnableBinding(
            bound=self.bound,
            kwargs=self.kwargs,
            config=self.config,
            custom_input_type=self.custom_input_type,
            custom_output_type=self.custom_output_type,
        )

    async def _ainvoke(self, input: Input, ctx: Context) -> Output:
        if self.listeners is not None:
            # The listeners watch the wrapped step's own run, made by the tracing code
            # (which passes through this binding), as in langchain-core where listeners
            # are a callback handler on the bound step's run.
            return cast(Output, await traced(self, input, ctx))
        inner = self._ctx(ctx)
        if type(self.bound)._public_only and inner.deadline is None and not inner.tracers:
            return await self._call_public(input, inner)
        # Driven without a loop there is no timer to arm: leaves check the deadline after
        # each sync step instead (run_leaf).
        if (
            inner is not ctx
            and inner.deadline is not None
            and inner.deadline != ctx.deadline
            and not inner.sync
        ):
            return cast(
                Output, await run_with_deadline(lambda: call(self._target, input, inner), inner)
            )
        if inner is ctx:
            return await self._target._ainvoke(input, ctx)
        return cast(Output, await call(self._target, input, inner))

    def _atransform(self, inputs: AsyncIterator[Input], ctx: Context) -> AsyncIterator[Output]:  # type: ignore[override]
        if self.listeners is not None:
            return traced_transform(self, inputs, ctx)
        inner = self._ctx(ctx)
        if type(self.bound)._public_only and inner.deadline is None and not inner.tracers:
            return self._stream_public(inputs, inner)
        if (
            inner is not ctx
            and inner.deadline is not None
            and inner.deadline != ctx.deadline
            and not inner.sync
        ):
            return deadline_stream(call_transform(self._target, inputs, inner), inner)
        if inner is ctx:
            return self._target._atransform(inputs, ctx)
        return call_transform(self._target, inputs, inner)

    async def _call_public(self, input: Input, ctx: Context) -> Output:
        # langchain-core's binding calls the bound runnable's public method with its
        # config merged into the caller's (merge_configs' keys).
        bound = self.bound
        config = ctx.merged_config()
        if type(bound).ainvoke is not Runnable.ainvoke and not (
            ctx.sync and type(bound).invoke is not Runnable.invoke
        ):
            return await bound.ainvoke(input, config, **self.kwargs)
        return bound.invoke(input, config, **self.kwargs)

    async def _stream_public(
        self, inputs: AsyncIterator[Input], ctx: Context
    ) -> AsyncIterator[Output]:
        yield await self._call_public(await gather_input(inputs), ctx)

    def __getattr__(self, name: str) -> Any:
        # Only for a configurable runnable (langchain-core's passthrough): its default's
        # methods run on the runnable this binding's config selects. Other bindings
        # keep their plain attributes, so duck-typing checks on them do not change.
        bound = self.__dict__.get("bound")
        if bound is None or name.startswith("_"):
            raise AttributeError(name)
        # A configurable runnable answers with ``_configured_attribute`` (looked up on
        # the class: these runnables pass unknown attributes on to their default).
        if isinstance(bound, RunnableBinding) and not bound.kwargs:
            # with_config(...).with_types(...): the configs of the two layers combine.
            inner = bound.__dict__.get("bound")
            configured = getattr(type(inner), "_configured_attribute", None)
            if configured is not None:
                return configured(inner, name, merge_configs(bound.config, self.config))
        configured = getattr(type(bound), "_configured_attribute", None)
        if configured is not None:
            return configured(bound, name, self.config)
        raise AttributeError(
            f"{type(self).__name__!r} object has no attribute {name!r}", name=name, obj=self
        )

    def __repr__(self) -> str:
        parts = [f"bound={self.bound!r}"]
        if self.kwargs:
            parts.append(f"kwargs={self.kwargs!r}")
        if self.config:
            parts.append(f"config={dict(self.config)!r}")
        return f"RunnableBinding({', '.join(parts)})"


class PublicKwargsCall(Runnable[Input, Output]):
    """Calls a subclass's own public ``ainvoke``/``invoke`` with keyword arguments."""

    def __init__(self, runnable: Runnable[Input, Output], kwargs: dict[str, Any]) -> None:
        self.runnable = runnable
        self.kwargs = kwargs
        self.name = runnable.get_name()

    def _needs_loop(self) -> bool:
        return self.runnable._needs_loop()

    async def _ainvoke(self, input: Input, ctx: Context) -> Output:
        cls = type(self.runnable)
        if cls.ainvoke is not Runnable.ainvoke and not (
            ctx.sync and cls.invoke is not Runnable.invoke
        ):
            return await self.runnable.ainvoke(input, ctx.child_config(), **self.kwargs)
        return self.runnable.invoke(input, ctx.child_config(), **self.kwargs)


def has_listeners(step: Any) -> bool:
    """Whether ``step`` is a binding (or bindings) with ``with_listeners`` on it.

    Containers check this once, when built: a listened step needs its step tag
    (``seq:step:2``, ``map:key:a``) on its run, which containers give only on their traced
    path, so they take that path for such a step even when nothing else traces the call.
    """
    while isinstance(step, RunnableBinding):
        if step.listeners is not None:
            return True
        step = step.bound
    return False
