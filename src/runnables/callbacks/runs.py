"""runnables' runs reported to callback handlers, the way langchain-core reports them.

The engine records each step's execution as a :class:`~runnables.core.tracing.Run` and
tells the call's tracers about it. :class:`CallbackRuns` is the tracer that turns those
records into callback-manager calls, so handlers see what they would see in
langchain-core: a chat model as ``on_chat_model_start(serialized, [messages])``, its
tokens as ``on_llm_new_token(token, chunk=ChatGenerationChunk)`` and its end as
``on_llm_end(LLMResult)``; a tool as ``on_tool_start(serialized, input_str, inputs=)``
/ ``on_tool_end(output)``; a retriever as ``on_retriever_start(query)`` /
``on_retriever_end(documents)``; everything else (prompts and parsers too) as
``on_chain_*``; custom events; each run with its id, its parent's id, tags and metadata.

There is one mapping. The manager it drives is runnables' own
(:class:`~runnables.callbacks.manager.CallbackManager`, for the handlers a config gives,
runnables' or any object with some ``on_*`` methods) or langchain-core's (the interop
adapter passes one, with :class:`RunValues` converting values to langchain-core's
classes). When nothing observes a call no tracer exists and none of this runs.
"""

from __future__ import annotations

import asyncio
import inspect
import weakref
from collections.abc import Awaitable, Sequence
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, cast
from uuid import UUID, uuid4

from runnables.callbacks.manager import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from runnables.core.tracing import _MISSING, Run, Tracer, has_pending, settle

#: The extra keyword arguments a tool's ``run``/``arun`` was given, for the handlers'
#: ``on_tool_start`` (langchain-core's ``BaseTool.run`` passes its ``**kwargs`` there).
#: Set around that one call; the tool's own run takes them (see ``BaseTool._ainvoke``).
TOOL_START_KWARGS: ContextVar[dict[str, Any] | None] = ContextVar(
    "runnables_tool_start_kwargs", default=None
)

if TYPE_CHECKING:
    from runnables.core.config import Context

__all__ = [
    "AsyncModelRunManager",
    "CallbackRuns",
    "ModelRunManager",
    "RunValues",
    "callback_runs_for",
]


class RunValues:
    """How run values reach handlers: as runnables' own objects (the default).

    The interop adapter subclasses this to hand langchain-core handlers langchain-core's
    messages, documents and output classes.
    """

    def convert(self, value: Any) -> Any:
        """A run's input or output as handlers receive it."""
        return value

    def generation_chunk(self, chunk: Any) -> Any:
        """The ``chunk=`` of ``on_llm_new_token`` for a streamed message chunk."""
        from runnables.models.base import ChatGenerationChunk

        return ChatGenerationChunk(message=chunk)

    def llm_result(self, message: Any) -> Any:
        """The ``LLMResult`` of ``on_llm_end`` for a model's final message."""
        from runnables.models.base import ChatGeneration, LLMResult

        return LLMResult(generations=[[ChatGeneration(message=message)]])

    def child_manager(self, run_manager: Any) -> Any:
        """The manager of the runs nested in ``run_manager``'s run."""
        return run_manager.get_child()

    def streams_tokens(self, manager: Any) -> bool:
        """Whether an invoked chat model should stream its tokens to these handlers
        (langchain-core's rule: only for its streaming handlers, such as
        astream_events' own; never for handlers a user passes)."""
        return False


_OWN_VALUES = RunValues()


class CallbackRuns(Tracer):
    """The tracer that reports runs to a callback manager (see the module docstring).

    Each run becomes a callback run with the same id, under its parent's run manager
    (the root under the manager it was given, so it nests under that manager's parent
    run, such as a ``trace_as_chain_group``). With an async manager its coroutines are
    queued in ``pending``, which the traced step awaits in order before going on.
    ``from_config``: the handlers came from a runnables config (not from a
    langchain-core caller that already put the config's metadata in the manager), so
    each run reports all its metadata, as langchain-core's runs do.
    """

    def __init__(
        self, manager: Any, *, from_config: bool = False, values: RunValues = _OWN_VALUES
    ) -> None:
        self.manager = manager
        self.from_config = from_config
        self.values = values
        self.is_async = bool(manager.is_async)
        self.pending: list[Awaitable[Any]] | None = [] if self.is_async else None
        self.run_managers: dict[UUID, Any] = {}
        self.streams_tokens = values.streams_tokens(manager)

    def _manager_for(self, run: Run) -> Any:
        parent = self.run_managers.get(run.parent_run_id) if run.parent_run_id else None
        manager = self.manager if parent is None else self.values.child_manager(parent)
        own_tags = [t for t in run.tags if t not in manager.tags]
        if own_tags:
            manager = manager.copy()
            manager.add_tags(own_tags, inherit=False)
        if self.from_config:
            metadata = run.metadata
        else:
            # A langchain-core caller's manager has the config's metadata already; the
            # run adds only a chat model's ls_* parameters.
            metadata = {k: v for k, v in run.metadata.items() if k.startswith("ls_")}
        if metadata:
            manager = manager.copy()
            manager.add_metadata(metadata, inherit=False)
        return manager

    def _do(self, run_id: UUID | None, call: Any) -> None:
        """Run a manager call now (sync), or queue it (async); keep the run manager it
        returns under ``run_id``."""
        if self.is_async:
            assert self.pending is not None
            self.pending.append(self._keep(run_id, call))
            return
        if run_id is not None:
            self.run_managers[run_id] = call[0] if isinstance(call, list) else call

    async def _keep(self, run_id: UUID | None, call: Awaitable[Any]) -> None:
        result = await call
        if run_id is not None:
            self.run_managers[run_id] = result[0] if isinstance(result, list) else result

    def on_start(self, run: Run) -> None:
        manager = self._manager_for(run)
        convert = self.values.convert
        serialized = {"name": run.name}
        kind = run.run_type
        if kind == "chat_model":
            call = manager.on_chat_model_start(
                serialized, [convert(_run_messages(run))], run_id=run.id, name=run.name
            )
        elif kind == "llm":
            call = manager.on_llm_start(serialized, [str(run.input)], run_id=run.id, name=run.name)
        elif kind == "tool":
            # A tool call's arguments and id, as langchain-core's tools pass them.
            value = run.input
            tool_call_id = None
            if isinstance(value, dict) and value.get("type") == "tool_call" and "args" in value:
                tool_call_id = value.get("id")
                value = value["args"]
            call = manager.on_tool_start(
                serialized,
                str(value),
                **{
                    **(TOOL_START_KWARGS.get() or {}),
                    "run_id": run.id,
                    "name": run.name,
                    "inputs": convert(value) if isinstance(value, dict) else None,
                    "tool_call_id": tool_call_id,
                },
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
                convert(inputs),
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
        from runnables.messages.base import BaseMessageChunk

        if isinstance(chunk, BaseMessageChunk):
            gen = self.values.generation_chunk(self.values.convert(chunk))
            self._do(None, rm.on_llm_new_token(chunk.text, chunk=gen))
        else:
            self._do(None, rm.on_llm_new_token(str(chunk)))

    def on_end(self, run: Run) -> None:
        rm = self.run_managers.pop(run.id, None)
        if rm is None:
            return
        convert = self.values.convert
        kind = run.run_type
        if kind in ("chat_model", "llm"):
            from runnables.messages.base import BaseMessageChunk, message_chunk_to_message

            output = run.output
            if isinstance(output, BaseMessageChunk):
                output = message_chunk_to_message(output)
            self._do(None, rm.on_llm_end(self.values.llm_result(convert(output))))
        elif kind == "tool":
            self._do(None, rm.on_tool_end(convert(run.output)))
        elif kind == "retriever":
            self._do(None, rm.on_retriever_end(convert(run.output)))
        else:
            output = None if run.output is _MISSING else run.output
            extra = {} if run.input is _MISSING else {"inputs": convert(run.input)}
            self._do(None, rm.on_chain_end(convert(output), **extra))

    def on_custom_event(self, name: str, data: Any, run: Run) -> None:
        # As langchain-core's dispatch_custom_event: the step's child manager, with the
        # step's run id.
        rm = self.run_managers.get(run.id)
        manager = self.manager if rm is None else self.values.child_manager(rm)
        self._do(None, manager.on_custom_event(name, data, run_id=run.id))

    def on_error(self, run: Run) -> None:
        rm = self.run_managers.pop(run.id, None)
        if rm is None or run.exception is None:
            return
        method = {
            "chat_model": "on_llm_error",
            "llm": "on_llm_error",
            "tool": "on_tool_error",
            "retriever": "on_retriever_error",
        }.get(run.run_type, "on_chain_error")
        self._do(None, getattr(rm, method)(run.exception))


def callback_runs_for(callbacks: Any) -> CallbackRuns | None:
    """The tracer for a runnables config's ``callbacks``: a list of handlers or a
    callback manager (None when there is no handler to call).

    A list gets a sync manager when every handler is sync, so they are called inline in
    run order; an async one as soon as one handler is async (its coroutines are awaited
    by the traced step, in handler order).
    """
    from runnables.callbacks.manager import AsyncCallbackManager, CallbackManager, _is_manager

    if _is_manager(callbacks):
        return CallbackRuns(callbacks, from_config=True) if callbacks.handlers else None
    handlers = list(callbacks) if isinstance(callbacks, (list, tuple)) else [callbacks]
    if not handlers:
        return None
    manager: CallbackManager | AsyncCallbackManager
    if any(_is_async_handler(h) for h in handlers):
        manager = AsyncCallbackManager(handlers=handlers, inheritable_handlers=handlers)
    else:
        manager = CallbackManager(handlers=handlers, inheritable_handlers=handlers)
    return CallbackRuns(manager, from_config=True)


def _is_async_handler(handler: Any) -> bool:
    from runnables.callbacks.base import AsyncCallbackHandler

    if isinstance(handler, AsyncCallbackHandler):
        return True
    cls = type(handler)
    found = _ASYNC_CLASSES.get(cls)
    if found is None:
        # Checked once per class: every call given such handlers asks.
        found = _ASYNC_CLASSES[cls] = any(
            inspect.iscoroutinefunction(getattr(cls, name, None))
            for name in dir(cls)
            if name.startswith("on_")
        )
    return found


#: Whether a (duck-typed) handler class has an async event method (weak: classes made
#: in a function are not kept alive by this cache).
_ASYNC_CLASSES: weakref.WeakKeyDictionary[type, bool] = weakref.WeakKeyDictionary()


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


# ---------------------------------------------------------------------- a model's run manager


def _report_token(ctx: Context, run: Run, token: str, chunk: Any) -> None:
    from runnables.messages.base import AIMessageChunk

    message = getattr(chunk, "message", None)
    if message is None:
        message = AIMessageChunk(content=token)
    for tracer in ctx.tracers:
        tracer.on_stream(run, message)


def _run_fields(ctx: Context | None) -> dict[str, Any]:
    run = ctx.run if ctx is not None else None
    if run is None:
        return {"run_id": uuid4(), "handlers": [], "inheritable_handlers": []}
    return {
        "run_id": run.id,
        "handlers": [],
        "inheritable_handlers": [],
        "parent_run_id": run.parent_run_id,
        "tags": list(run.tags),
        "metadata": dict(run.metadata),
    }


class ModelRunManager(CallbackManagerForLLMRun):
    """The run manager a chat model's sync ``_generate(..., run_manager)`` receives.

    ``on_llm_new_token`` reports the token to the model's run as a streamed chunk, so
    the call's handlers get ``on_llm_new_token`` and ``astream_events`` an
    ``on_chat_model_stream`` event, as in langchain-core. ``_generate`` runs on a worker
    thread: the report is handed to the call's event loop, in order, and is done before
    the model's run ends. With nothing observing the call it does nothing.
    """

    def __init__(self, ctx: Context | None, loop: asyncio.AbstractEventLoop | None) -> None:
        super().__init__(**_run_fields(ctx))
        self._ctx = ctx if ctx is not None and ctx.run is not None and ctx.tracers else None
        self._loop = loop

    def on_llm_new_token(self, token: str, *, chunk: Any = None, **kwargs: Any) -> None:
        """Report a streamed token (``chunk``: its ``ChatGenerationChunk``)."""
        ctx = self._ctx
        if ctx is None or ctx.run is None:
            return
        if self._loop is None:
            _report_token(ctx, ctx.run, token, chunk)
        else:
            self._loop.call_soon_threadsafe(_report_token, ctx, ctx.run, token, chunk)


class AsyncModelRunManager(AsyncCallbackManagerForLLMRun):
    """The run manager a chat model's ``_agenerate(..., run_manager)`` receives (see
    :class:`ModelRunManager`); ``on_llm_new_token`` awaits async handlers."""

    def __init__(self, ctx: Context | None) -> None:
        super().__init__(**_run_fields(ctx))
        self._ctx = ctx if ctx is not None and ctx.run is not None and ctx.tracers else None

    async def on_llm_new_token(self, token: str, *, chunk: Any = None, **kwargs: Any) -> None:
        """Report a streamed token (``chunk``: its ``ChatGenerationChunk``)."""
        ctx = self._ctx
        if ctx is None or ctx.run is None:
            return
        _report_token(ctx, ctx.run, token, chunk)
        if has_pending(ctx):
            await settle(ctx)
