"""A langchain-core runnable used as a runnables step: :class:`LangChainStep`.

``coerce_to_runnable`` wraps any langchain-core ``Runnable`` (a chat model, a retriever,
a tool, a LangGraph graph, a whole langchain-core chain) in a :class:`LangChainStep`, so
it can stand wherever runnables takes a step. This module imports langchain-core, so it
is imported only once such an object has been passed (langchain-core is then loaded).

What the wrapper guarantees:

- values crossing it are converted both ways (:mod:`runnables.interop.values`);
- it is a leaf: it takes one slot of the call's ``max_concurrency`` budget while it runs
  (a nested runnables call made inside it lends the slot, as any leaf's does), and the
  call's deadline names it;
- it runs in the caller's task, so cancelling the caller (or the deadline) cancels the
  langchain-core coroutine, and with it any HTTP request it has in flight;
- it streams: ``astream`` yields the langchain-core object's chunks as they come;
- when something observes the call (``astream_events``, callbacks, listeners),
  langchain-core's callbacks for the runs inside it are bridged into runnables' run
  records, with the wrapper's own run as their parent;
- the call's tags, metadata, configurable values and recursion limit flow into it.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.runnables import Runnable as LCRunnable

from runnables.core.base import Runnable, note_step
from runnables.core.chunks import gather_input
from runnables.core.config import CURRENT, Context
from runnables.core.leaf import hold_stream, holds, run_leaf
from runnables.core.tasks import aclose
from runnables.core.tracing import _MISSING, Run, end_run, fail_run
from runnables.interop.values import from_langchain, to_langchain

__all__ = ["CallbackBridge", "LangChainStep", "wrap_langchain"]

_STREAMED_INPUT = {"input": ""}


def _unbound(runnable: LCRunnable[Any, Any]) -> tuple[LCRunnable[Any, Any], dict[str, Any]]:
    """The object inside langchain-core bindings (``bind_tools``, ``bind``,
    ``with_config``) and the call arguments they bind, innermost last."""
    from langchain_core.runnables.base import RunnableBindingBase

    kwargs: dict[str, Any] = {}
    while isinstance(runnable, RunnableBindingBase):
        kwargs = {**runnable.kwargs, **kwargs}
        runnable = runnable.bound
    return runnable, kwargs


def _run_type_of(runnable: LCRunnable[Any, Any]) -> str:
    """The run type langchain-core's own events give this object's run (a binding
    runs no run of its own: its model's is the one reported)."""
    from langchain_core.language_models import BaseChatModel, BaseLLM

    runnable = _unbound(runnable)[0]
    from langchain_core.output_parsers import BaseOutputParser
    from langchain_core.prompts import BasePromptTemplate
    from langchain_core.retrievers import BaseRetriever
    from langchain_core.tools import BaseTool

    for cls, kind in (
        (BaseChatModel, "chat_model"),
        (BaseLLM, "llm"),
        (BaseRetriever, "retriever"),
        (BaseTool, "tool"),
        (BasePromptTemplate, "prompt"),
        (BaseOutputParser, "parser"),
    ):
        if isinstance(runnable, cls):
            return kind
    return "chain"


def wrap_langchain(thing: LCRunnable[Any, Any]) -> Runnable[Any, Any]:
    """The runnables step for a langchain-core runnable.

    A runnables chain that went over with ``as_langchain()`` comes back as itself, so a
    chain moved back and forth never pays for crossing twice.
    """
    from runnables.interop.adapter import LangChainAdapter

    if isinstance(thing, LangChainAdapter):
        return thing.chain
    # The class is looked up, not imported: its module imports runnables' tools.
    tool_module = sys.modules.get("runnables.interop.tool")
    if tool_module is not None and isinstance(thing, tool_module.LangChainTool):
        return thing.tool  # type: ignore[no-any-return]
    return LangChainStep(thing)


class LangChainStep(Runnable[Any, Any]):
    """A langchain-core runnable as a runnables step (made by ``coerce_to_runnable``).

    >>> from langchain_core.runnables import RunnableLambda as LCLambda
    >>> from runnables import RunnableLambda
    >>> chain = RunnableLambda(str.strip) | LCLambda(str.upper)
    >>> chain.invoke("  hi ")
    'HI'
    """

    _is_leaf = True

    def __init__(self, runnable: LCRunnable[Any, Any]) -> None:
        self.runnable = runnable
        bound_config = getattr(runnable, "config", None)  # a langchain-core binding's
        run_name = bound_config.get("run_name") if isinstance(bound_config, dict) else None
        self.name = run_name if isinstance(run_name, str) else runnable.get_name()
        self._run_type = _run_type_of(runnable)
        # A langchain-core step with its own streaming transform (a chain, a parser)
        # gets its input as a stream; others get it whole, as langchain-core does.
        self._streams_input = type(runnable).atransform is not LCRunnable.atransform
        if self._run_type == "chat_model":
            # Traced, its run starts once its input is whole and holds its messages and
            # ls_* metadata, as langchain-core's (and runnables') chat-model runs do.
            self._chat_run_start = self._langchain_chat_run_start

    #: Set on instances wrapping a chat model (read by the tracing code).
    _chat_run_start: Callable[[Any], tuple[Any, dict[str, Any], dict[str, Any]]] | None = None

    def _langchain_chat_run_start(self, input: Any) -> tuple[Any, dict[str, Any], dict[str, Any]]:
        model: Any
        model, kwargs = _unbound(self.runnable)
        messages = model._convert_input(to_langchain(input)).to_messages()
        get_params = getattr(model, "_get_ls_params_with_defaults", model._get_ls_params)
        return input, {"messages": [from_langchain(messages)]}, dict(get_params(**kwargs))

    def _needs_loop(self) -> bool:
        return True

    # The types langchain-core knows for the object (a prompt's variables, a tool's
    # arguments, a model's message input), so a chain starting or ending with it
    # reports them.
    def _input_type_hint(self) -> Any:
        return _known_type(self.runnable.get_input_schema(), self.runnable.InputType)

    def _output_type_hint(self) -> Any:
        return _known_type(self.runnable.get_output_schema(), self.runnable.OutputType)

    def _with_kwargs(self, kwargs: dict[str, Any]) -> Runnable[Any, Any]:
        return LangChainStep(self.runnable.bind(**kwargs))

    def __repr__(self) -> str:
        return f"LangChainStep({self.runnable!r})"

    def _config(self, ctx: Context) -> dict[str, Any]:
        """langchain-core's config for this call: what the runnables call carries down."""
        cfg = ctx.config
        out: dict[str, Any] = {"recursion_limit": ctx.recursion_limit}
        if cfg:
            for key in ("tags", "metadata", "configurable"):
                value = cfg.get(key)
                if value:
                    out[key] = value
        if ctx.limiter is not None:
            # langchain-core's own batches and parallels inside it keep to the budget too
            # (the wrapper holds one slot; nested runnables calls lend it).
            out["max_concurrency"] = ctx.limiter.limit
        if ctx.tracers and ctx.run is not None:
            out["callbacks"] = [CallbackBridge(ctx)]
        return out

    # ------------------------------------------------------------------ invoke

    async def _ainvoke(self, input: Any, ctx: Context) -> Any:
        if ctx.limiter is not None or ctx.running is not None:
            return await run_leaf(self, ctx, lambda: self._call(input, ctx))
        return await self._call(input, ctx)

    async def _call(self, input: Any, ctx: Context) -> Any:
        # CURRENT: a runnables chain called from inside (through as_langchain) inherits
        # this call's budget, deadline and tracers.
        token = CURRENT.set(ctx) if not ctx.is_root else None
        try:
            out = await self.runnable.ainvoke(to_langchain(input), self._config(ctx))  # type: ignore[arg-type]
        except BaseException as exc:
            note_step(exc, self.get_name())
            raise
        finally:
            if token is not None:
                CURRENT.reset(token)
        return from_langchain(out)

    # ------------------------------------------------------------------ stream

    async def _atransform(self, inputs: AsyncIterator[Any], ctx: Context) -> AsyncIterator[Any]:
        lc_config = self._config(ctx)
        if self._streams_input:
            agen: AsyncIterator[Any] = self.runnable.atransform(
                _to_langchain_stream(inputs),
                lc_config,  # type: ignore[arg-type]
            )
        else:
            whole = to_langchain(await gather_input(inputs))
            agen = self.runnable.astream(whole, lc_config)  # type: ignore[arg-type]
        # langchain-core's stream holds one slot until it ends; the step's context and
        # slot are in effect only while langchain-core's code runs (the leaf scope).
        stream = hold_stream(self, ctx, agen) if holds(ctx) else agen
        try:
            async for chunk in stream:
                yield from_langchain(chunk)
        except BaseException as exc:
            note_step(exc, self.get_name())
            raise
        finally:
            await aclose(stream)


def _known_type(schema: Any, declared: Any) -> Any:
    """langchain-core's schema model when it describes a dict field by field (its
    ``InputType`` for a prompt is only ``dict``), else its declared type."""
    fields = getattr(schema, "model_fields", None)
    if isinstance(fields, dict) and fields and "root" not in fields:
        return schema
    return declared


async def _to_langchain_stream(inputs: AsyncIterator[Any]) -> AsyncIterator[Any]:
    try:
        async for chunk in inputs:
            yield to_langchain(chunk)
    finally:
        await aclose(inputs)


# ---------------------------------------------------------------------- callbacks -> runs


class CallbackBridge(BaseCallbackHandler):
    """langchain-core's callbacks for the runs inside a :class:`LangChainStep`, turned
    into runnables run records that the call's tracers see.

    langchain-core's root run is the wrapper's own run (already recorded by the engine),
    so it is not reported twice; its descendants become runs whose parent chain leads to
    it. It is a streaming handler (``tap_output_aiter``), as langchain-core's own
    ``astream_events`` handler is, so chat models invoked inside stream their tokens and
    nested chains report their chunks. Notifications from a worker thread (a sync step
    langchain-core ran in its executor) are handed to the call's event loop.
    """

    run_inline = True
    raise_error = False

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.runs: dict[UUID, Run] = {}
        self.root: UUID | None = None
        try:
            self.loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            self.loop = None

    # -- delivery

    def _deliver(self, fn: Any, *args: Any) -> None:
        loop = self.loop
        if loop is not None:
            try:
                same = asyncio.get_running_loop() is loop
            except RuntimeError:
                same = False
            if not same:
                loop.call_soon_threadsafe(fn, *args)
                return
        fn(*args)

    def _start(
        self,
        run_id: UUID,
        parent_run_id: UUID | None,
        name: str,
        run_type: str,
        tags: list[str] | None,
        metadata: dict[str, Any] | None,
        input: Any,
    ) -> None:
        parent = self.runs.get(parent_run_id) if parent_run_id is not None else None
        if parent is None:
            if self.root is None:
                # langchain-core's root run: the wrapper's run stands for it.
                self.root = run_id
                return
            parent = self.ctx.run
        if parent is None:  # pragma: no cover - the bridge is made only with a run
            return
        run = Run(
            id=run_id,
            name=name,
            run_type=run_type,
            parent_run_id=parent.id,
            parent_ids=[*parent.parent_ids, str(parent.id)],
            tags=list(tags or ()),
            metadata=dict(metadata or {}),
            # {"input": ""} is langchain-core's placeholder for a streamed step's input,
            # not known yet: runnables' runs leave it unset until the end reports it.
            input=_MISSING if input == _STREAMED_INPUT else from_langchain(input),
        )
        self.runs[run_id] = run
        self._deliver(self._notify_start, run)

    def _notify_start(self, run: Run) -> None:
        for tracer in self.ctx.tracers:
            tracer.on_start(run)

    def _end(self, run_id: UUID, output: Any) -> None:
        run = self.runs.pop(run_id, None)
        if run is not None:
            self._deliver(end_run, self.ctx, run, from_langchain(output))

    def _error(self, run_id: UUID, error: BaseException) -> None:
        run = self.runs.pop(run_id, None)
        if run is not None:
            self._deliver(fail_run, self.ctx, run, error)

    def _stream(self, run_id: UUID, chunk: Any) -> None:
        run = self.runs.get(run_id)
        if run is not None:
            self._deliver(self._notify_stream, run, from_langchain(chunk))

    def _notify_stream(self, run: Run, chunk: Any) -> None:
        for tracer in self.ctx.tracers:
            tracer.on_stream(run, chunk)

    # -- langchain-core's handler interface

    def on_chain_start(
        self,
        serialized: dict[str, Any] | None,
        inputs: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        name = kwargs.get("name") or _serialized_name(serialized, "chain")
        run_type = kwargs.get("run_type") or "chain"
        self._start(run_id, parent_run_id, name, run_type, tags, metadata, inputs)

    def on_chain_end(self, outputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        inputs = kwargs.get("inputs")
        run = self.runs.get(run_id)
        if run is not None and inputs is not None and inputs != _STREAMED_INPUT:
            run.input = from_langchain(inputs)
        self._end(run_id, outputs)

    def on_chain_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._error(run_id, error)

    def on_chat_model_start(
        self,
        serialized: dict[str, Any] | None,
        messages: list[list[Any]],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        name = kwargs.get("name") or _serialized_name(serialized, "chat_model")
        inputs = {"messages": messages}
        self._start(run_id, parent_run_id, name, "chat_model", tags, metadata, inputs)

    def on_llm_start(
        self,
        serialized: dict[str, Any] | None,
        prompts: list[str],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        name = kwargs.get("name") or _serialized_name(serialized, "llm")
        inputs = {"prompts": prompts}
        self._start(run_id, parent_run_id, name, "llm", tags, metadata, inputs)

    def on_llm_new_token(
        self,
        token: str | list[str | dict[str, Any]],
        *,
        chunk: Any = None,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        if run_id in self.runs:
            message = getattr(chunk, "message", None)
            self._stream(run_id, message if message is not None else token)

    def on_llm_end(self, response: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._end(run_id, _llm_output(response))

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._error(run_id, error)

    def on_tool_start(
        self,
        serialized: dict[str, Any] | None,
        input_str: str,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        inputs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        name = kwargs.get("name") or _serialized_name(serialized, "tool")
        value = inputs if inputs is not None else input_str
        self._start(run_id, parent_run_id, name, "tool", tags, metadata, value)

    def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._end(run_id, output)

    def on_tool_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._error(run_id, error)

    def on_retriever_start(
        self,
        serialized: dict[str, Any] | None,
        query: str,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        name = kwargs.get("name") or _serialized_name(serialized, "retriever")
        self._start(run_id, parent_run_id, name, "retriever", tags, metadata, {"query": query})

    def on_retriever_end(self, documents: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._end(run_id, documents)

    def on_retriever_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._error(run_id, error)

    # -- langchain-core's streaming-handler protocol (chunks of nested chains)

    async def tap_output_aiter(
        self, run_id: UUID, output: AsyncIterator[Any]
    ) -> AsyncIterator[Any]:
        try:
            async for chunk in output:
                self._stream(run_id, chunk)
                yield chunk
        finally:
            await aclose(output)

    def tap_output_iter(self, run_id: UUID, output: Iterator[Any]) -> Iterator[Any]:
        for chunk in output:
            self._stream(run_id, chunk)
            yield chunk


def _serialized_name(serialized: dict[str, Any] | None, default: str) -> str:
    if serialized:
        name = serialized.get("name")
        if isinstance(name, str):
            return name
        ids = serialized.get("id")
        if isinstance(ids, list) and ids:
            return str(ids[-1])
    return default


def _llm_output(response: Any) -> Any:
    """The message (or text) of an ``LLMResult``, as a run's output."""
    generations = getattr(response, "generations", None)
    if generations and generations[0]:
        first = generations[0][0]
        message = getattr(first, "message", None)
        return message if message is not None else first.text
    return response
