"""A runnables chain as a langchain-core ``Runnable``: ``chain.as_langchain()``.

The result delegates every call to the runnables chain (values converted at the
boundary) and streams, so it can be a LangGraph node, be served by LangServe's
``add_routes``, be wrapped by ``RunnableWithMessageHistory`` and be composed with
langchain-core steps.

The LangChain callbacks it is given (LangGraph's ``stream_mode="messages"`` handler, a
tracing handler, a listener) see the runnables chain's runs through
:class:`LangChainCallbacks`, a runnables tracer: chat-model runs as
``on_chat_model_start`` / ``on_llm_new_token`` / ``on_llm_end``, retrievers and tools as
theirs, everything else as chain runs, each under its parent. With no handler, no tracer
is added and the chain runs as fast as when called directly.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any, cast

from langchain_core.callbacks import AsyncCallbackManager, CallbackManager
from langchain_core.callbacks.manager import AsyncRunManager
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, LLMResult
from langchain_core.runnables import Runnable as LCRunnable
from langchain_core.runnables import RunnableConfig as LCConfig
from langchain_core.runnables.config import (
    ensure_config,
    get_async_callback_manager_for_config,
    get_callback_manager_for_config,
)
from langchain_core.runnables.utils import ConfigurableFieldSpec
from langchain_core.tracers._streaming import _StreamingCallbackHandler
from pydantic import BaseModel

from runnables.callbacks.runs import CallbackRuns, RunValues
from runnables.core.base import Runnable
from runnables.core.config import RunnableConfig
from runnables.interop.step import CallbackBridge
from runnables.interop.values import from_langchain, to_langchain

__all__ = [
    "LangChainAdapter",
    "LangChainCallbacks",
    "langchain_callbacks_for",
    "runnables_config",
]

#: The config keys that mean the same in both libraries and are copied as they are.
_SAME_KEYS = ("tags", "metadata", "run_name", "run_id", "max_concurrency", "recursion_limit")


class LangChainAdapter(LCRunnable[Any, Any]):
    """A runnables chain seen by langchain-core as one of its own runnables.

    Made by :meth:`runnables.Runnable.as_langchain`; ``chain`` is the runnables chain.
    Piping it back into runnables (``coerce_to_runnable``) gives ``chain`` itself.
    """

    def __init__(self, chain: Runnable[Any, Any]) -> None:
        self.chain = chain
        self.name = chain.get_name()

    def __repr__(self) -> str:
        return f"LangChainAdapter({self.chain!r})"

    # ------------------------------------------------------------------ types

    @property
    def InputType(self) -> Any:  # noqa: N802 - langchain-core's name
        return self.chain.InputType

    @property
    def OutputType(self) -> Any:  # noqa: N802 - langchain-core's name
        return self.chain.OutputType

    def get_input_schema(self, config: LCConfig | None = None) -> type[BaseModel]:
        return self.chain.get_input_schema()

    def get_output_schema(self, config: LCConfig | None = None) -> type[BaseModel]:
        return self.chain.get_output_schema()

    @property
    def config_specs(self) -> list[ConfigurableFieldSpec]:
        return [
            ConfigurableFieldSpec(
                id=spec.id,
                annotation=spec.annotation,
                name=spec.name,
                description=spec.description,
                default=spec.default,
                is_shared=spec.is_shared,
                dependencies=spec.dependencies,
            )
            for spec in self.chain.config_specs
        ]

    # ------------------------------------------------------------------ config

    def _config(self, config: LCConfig | None, *, is_async: bool) -> RunnableConfig:
        return runnables_config(config, is_async=is_async)

    def _bound(self, kwargs: dict[str, Any]) -> Runnable[Any, Any]:
        return self.chain.bind(**kwargs) if kwargs else self.chain

    # ------------------------------------------------------------------ calls

    def invoke(self, input: Any, config: LCConfig | None = None, **kwargs: Any) -> Any:
        out = self._bound(kwargs).invoke(
            from_langchain(input), self._config(config, is_async=False)
        )
        return to_langchain(out)

    async def ainvoke(self, input: Any, config: LCConfig | None = None, **kwargs: Any) -> Any:
        out = await self._bound(kwargs).ainvoke(
            from_langchain(input), self._config(config, is_async=True)
        )
        return to_langchain(out)

    def batch(
        self,
        inputs: list[Any],
        config: LCConfig | list[LCConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any | None,
    ) -> list[Any]:
        configs = self._configs(config, len(inputs), is_async=False)
        outs = self._bound(kwargs).batch(
            [from_langchain(x) for x in inputs], configs, return_exceptions=return_exceptions
        )
        return [to_langchain(o) for o in outs]

    async def abatch(
        self,
        inputs: list[Any],
        config: LCConfig | list[LCConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any | None,
    ) -> list[Any]:
        configs = self._configs(config, len(inputs), is_async=True)
        outs = await self._bound(kwargs).abatch(
            [from_langchain(x) for x in inputs], configs, return_exceptions=return_exceptions
        )
        return [to_langchain(o) for o in outs]

    def _configs(
        self, config: LCConfig | list[LCConfig] | None, n: int, *, is_async: bool
    ) -> RunnableConfig | list[RunnableConfig]:
        if isinstance(config, list):
            return [self._config(c, is_async=is_async) for c in config]
        return self._config(config, is_async=is_async)

    def stream(
        self, input: Any, config: LCConfig | None = None, **kwargs: Any | None
    ) -> Iterator[Any]:
        for chunk in self._bound(kwargs).stream(
            from_langchain(input), self._config(config, is_async=False)
        ):
            yield to_langchain(chunk)

    async def astream(
        self, input: Any, config: LCConfig | None = None, **kwargs: Any | None
    ) -> AsyncIterator[Any]:
        agen = self._bound(kwargs).astream(
            from_langchain(input), self._config(config, is_async=True)
        )
        try:
            async for chunk in agen:
                yield to_langchain(chunk)
        finally:
            await agen.aclose()  # type: ignore[attr-defined]

    def transform(
        self, input: Iterator[Any], config: LCConfig | None = None, **kwargs: Any | None
    ) -> Iterator[Any]:
        chunks = (from_langchain(x) for x in input)
        for chunk in self._bound(kwargs).transform(chunks, self._config(config, is_async=False)):
            yield to_langchain(chunk)

    async def atransform(
        self, input: AsyncIterator[Any], config: LCConfig | None = None, **kwargs: Any | None
    ) -> AsyncIterator[Any]:
        agen = self._bound(kwargs).atransform(
            _from_langchain_stream(input), self._config(config, is_async=True)
        )
        try:
            async for chunk in agen:
                yield to_langchain(chunk)
        finally:
            await agen.aclose()  # type: ignore[attr-defined]


def runnables_config(config: LCConfig | None, *, is_async: bool) -> RunnableConfig:
    """The runnables config for a langchain-core config (its callbacks bridged)."""
    lc = ensure_config(config)
    out: dict[str, Any] = {}
    for key in _SAME_KEYS:
        value = lc.get(key)
        if value is not None:
            out[key] = value
    configurable = lc.get("configurable")
    if configurable:
        out["configurable"] = configurable
    # Built for every call, as each langchain-core step does: handlers also come from
    # outside the config (LangSmith tracing from the environment, collect_runs()).
    manager: CallbackManager | AsyncCallbackManager = (
        get_async_callback_manager_for_config(lc)
        if is_async
        else get_callback_manager_for_config(lc)
    )
    # A CallbackBridge is runnables' own (this chain runs inside a LangChainStep of
    # an enclosing runnables call, whose tracers it inherits): not reported twice.
    if any(not isinstance(h, CallbackBridge) for h in manager.handlers):
        out["callbacks"] = [LangChainCallbacks(manager)]
    return cast(RunnableConfig, out)


async def _from_langchain_stream(inputs: AsyncIterator[Any]) -> AsyncIterator[Any]:
    async for chunk in inputs:
        yield from_langchain(chunk)


# ---------------------------------------------------------------------- runs -> callbacks


class _LangChainValues(RunValues):
    """Run values as langchain-core's handlers expect them: its messages, documents and
    output classes, and its managers built with ``configure()``."""

    def convert(self, value: Any) -> Any:
        return to_langchain(value)

    def generation_chunk(self, chunk: Any) -> Any:
        return ChatGenerationChunk(message=chunk)

    def llm_result(self, message: Any) -> Any:
        return LLMResult(generations=[[ChatGeneration(message=message)]])

    def child_manager(self, run_manager: Any) -> Any:
        # configure(), as each langchain-core step does for its own manager: it adds the
        # handlers that context variables ask for on every run (collect_runs()).
        cls = AsyncCallbackManager if isinstance(run_manager, AsyncRunManager) else CallbackManager
        return cls.configure(inheritable_callbacks=run_manager.get_child())

    def streams_tokens(self, manager: Any) -> bool:
        # As in langchain-core, a streaming handler (LangGraph's "messages" mode, an
        # astream_events handler) makes an invoked chat model stream its tokens.
        return any(isinstance(h, _StreamingCallbackHandler) for h in manager.handlers)


_LANGCHAIN_VALUES = _LangChainValues()


class LangChainCallbacks(CallbackRuns):
    """runnables' runs reported to a langchain-core callback manager.

    The mapping is runnables.callbacks' own (:class:`~runnables.callbacks.runs.CallbackRuns`);
    only the values differ: langchain-core's messages and output classes.
    """

    def __init__(
        self, manager: CallbackManager | AsyncCallbackManager, *, from_config: bool = False
    ) -> None:
        super().__init__(manager, from_config=from_config, values=_LANGCHAIN_VALUES)


def langchain_callbacks_for(handlers: list[Any]) -> LangChainCallbacks:
    """The tracer for langchain-core handlers given in a runnables config's ``callbacks``.

    A sync manager when every handler is sync, so they are called inline in run order as
    any other handler is; an async one as soon as one handler is async (its coroutines
    are awaited by the traced step, as the other async handlers' are).
    """
    from langchain_core.callbacks import AsyncCallbackHandler

    manager: CallbackManager | AsyncCallbackManager
    if any(isinstance(h, AsyncCallbackHandler) for h in handlers):
        manager = AsyncCallbackManager(handlers=handlers, inheritable_handlers=handlers)
    else:
        manager = CallbackManager(handlers=handlers, inheritable_handlers=handlers)
    return LangChainCallbacks(manager, from_config=True)
