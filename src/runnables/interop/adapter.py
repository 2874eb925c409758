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

from collections.abc import AsyncIterator, Awaitable, Iterator, Sequence
from typing import Any, cast
from uuid import UUID

from langchain_core.callbacks import AsyncCallbackManager, CallbackManager
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

from runnables.core.base import Runnable
from runnables.core.config import RunnableConfig
from runnables.core.tracing import _MISSING, Run, Tracer
from runnables.interop.step import CallbackBridge
from runnables.interop.values import from_langchain, to_langchain
from runnables.messages.base import BaseMessageChunk, message_chunk_to_message

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


class LangChainCallbacks(Tracer):
    """runnables' runs reported to a langchain-core callback manager.

    Each run becomes a langchain-core run with the same id, under its parent's run
    manager (the root under the manager the call was given, so it nests under the
    caller's run). With an async manager its coroutines are queued in ``pending``, which
    the traced step awaits in order before going on.
    """

    def __init__(
        self, manager: CallbackManager | AsyncCallbackManager, *, from_config: bool = False
    ) -> None:
        self.manager = manager
        # Handlers given in a runnables config (not through as_langchain()): no
        # langchain-core caller put the config's metadata into the manager, so each run
        # reports its own (which holds the config's), as langchain-core's runs do.
        self.from_config = from_config
        self.is_async = isinstance(manager, AsyncCallbackManager)
        self.pending: list[Awaitable[Any]] | None = [] if self.is_async else None
        self.run_managers: dict[UUID, Any] = {}
        # As in langchain-core, a streaming handler (LangGraph's "messages" mode, an
        # astream_events handler) makes an invoked chat model stream its tokens.
        self.streams_tokens = any(
            isinstance(h, _StreamingCallbackHandler) for h in manager.handlers
        )

    def _manager_for(self, run: Run) -> Any:
        parent = self.run_managers.get(run.parent_run_id) if run.parent_run_id else None
        if parent is None:
            manager = self.manager
        else:
            # configure(), as each langchain-core step does for its own manager: it adds
            # the handlers that context variables ask for on every run (collect_runs()).
            cls = AsyncCallbackManager if self.is_async else CallbackManager
            manager = cls.configure(inheritable_callbacks=parent.get_child())
        own_tags = [t for t in run.tags if t not in manager.tags]
        if own_tags:
            manager = manager.copy()
            manager.add_tags(own_tags, inherit=False)
        if self.from_config:
            ls_params = run.metadata
        else:
            ls_params = {k: v for k, v in run.metadata.items() if k.startswith("ls_")}
        if ls_params:
            manager = manager.copy()
            manager.add_metadata(ls_params, inherit=False)
        return manager

    def _do(self, run_id: UUID | None, call: Any) -> None:
        """Run a manager call now (sync), or queue it (async); keep the run manager it
        returns under ``run_id``."""
        if self.is_async:
            assert self.pending is not None
            self.pending.append(self._keep(run_id, call))
            return
        result = call
        if run_id is not None:
            self.run_managers[run_id] = result[0] if isinstance(result, list) else result

    async def _keep(self, run_id: UUID | None, call: Awaitable[Any]) -> None:
        result = await call
        if run_id is not None:
            self.run_managers[run_id] = result[0] if isinstance(result, list) else result

    def on_start(self, run: Run) -> None:
        manager = self._manager_for(run)
        serialized = {"name": run.name}
        kind = run.run_type
        if kind == "chat_model":
            messages = _run_messages(run)
            call = manager.on_chat_model_start(
                serialized, [to_langchain(messages)], run_id=run.id, name=run.name
            )
        elif kind == "llm":
            call = manager.on_llm_start(serialized, [str(run.input)], run_id=run.id, name=run.name)
        elif kind == "tool":
            value = run.input
            call = manager.on_tool_start(
                serialized,
                str(value),
                run_id=run.id,
                name=run.name,
                inputs=to_langchain(value) if isinstance(value, dict) else None,
            )
        elif kind == "retriever":
            call = manager.on_retriever_start(
                serialized, str(run.input), run_id=run.id, name=run.name
            )
        else:
            # langchain-core passes a chain's input as it is ({"input": ""} while a
            # streamed step's input is not known yet).
            inputs = run.inputs if run.input is _MISSING else run.input
            call = manager.on_chain_start(
                serialized,
                to_langchain(inputs),
                run_id=run.id,
                name=run.name,
                run_type=kind if kind in ("prompt", "parser") else None,
            )
        self._do(run.id, call)

    def on_stream(self, run: Run, chunk: Any) -> None:
        if run.run_type not in ("chat_model", "llm"):
            return  # langchain-core reports only model tokens as callbacks
        rm = self.run_managers.get(run.id)
        if rm is None:
            return
        if isinstance(chunk, BaseMessageChunk):
            text = chunk.text
            gen: Any = ChatGenerationChunk(message=to_langchain(chunk))
            self._do(None, rm.on_llm_new_token(text, chunk=gen))
        else:
            self._do(None, rm.on_llm_new_token(str(chunk)))

    def on_end(self, run: Run) -> None:
        rm = self.run_managers.pop(run.id, None)
        if rm is None:
            return
        kind = run.run_type
        if kind in ("chat_model", "llm"):
            output = run.output
            if isinstance(output, BaseMessageChunk):
                output = message_chunk_to_message(output)
            generation = ChatGeneration(message=to_langchain(output))
            self._do(None, rm.on_llm_end(LLMResult(generations=[[generation]])))
        elif kind == "tool":
            self._do(None, rm.on_tool_end(to_langchain(run.output)))
        elif kind == "retriever":
            self._do(None, rm.on_retriever_end(to_langchain(run.output)))
        else:
            output = None if run.output is _MISSING else run.output
            extra = {} if run.input is _MISSING else {"inputs": to_langchain(run.input)}
            self._do(None, rm.on_chain_end(to_langchain(output), **extra))

    def on_custom_event(self, name: str, data: Any, run: Run) -> None:
        # As langchain-core's dispatch_custom_event: the step's child manager, with the
        # step's run id.
        rm = self.run_managers.get(run.id)
        manager = self.manager if rm is None else rm.get_child()
        self._do(None, manager.on_custom_event(name, data, run_id=run.id))

    def on_error(self, run: Run) -> None:
        rm = self.run_managers.pop(run.id, None)
        if rm is None or run.exception is None:
            return
        kind = run.run_type
        method = {
            "chat_model": "on_llm_error",
            "llm": "on_llm_error",
            "tool": "on_tool_error",
            "retriever": "on_retriever_error",
        }.get(kind, "on_chain_error")
        self._do(None, getattr(rm, method)(run.exception))


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


def _run_messages(run: Run) -> Sequence[Any]:
    """The messages of a chat-model run (its input is ``{"messages": [[...]]}``)."""
    value = run.input
    if isinstance(value, dict) and "messages" in value and value["messages"]:
        return cast(Sequence[Any], value["messages"][0])
    from runnables.messages.convert import convert_to_messages

    try:
        return convert_to_messages(value)
    except (TypeError, ValueError):
        return []
