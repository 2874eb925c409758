"""Callback managers: langchain-core's way of calling a set of handlers for one run.

A :class:`CallbackManager` holds the handlers (and tags and metadata) a run reports to;
``on_chain_start`` (and the LLM, chat-model, tool and retriever twins) calls every
handler and returns a *run manager* for that run, whose ``on_chain_end``/``on_llm_new_token``
... report the rest of it and whose ``get_child()`` is the manager of the runs nested in
it. Handlers marked ``inherit=False`` (``local``) see this run only; inheritable ones are
passed down to children. The async twins await async handlers, in handler order.

runnables' engine does not need managers to report its runs (see
:mod:`runnables.callbacks.runs`), but a manager given as ``config["callbacks"]`` works
like its list of handlers, and code written for langchain-core (a chat model's
``_generate(..., run_manager)``, ``trace_as_chain_group``) gets the same objects.

As in langchain-core, a handler that raises is logged as a warning and the call goes on,
unless the handler sets ``raise_error = True``; a handler sets ``ignore_chain`` (and the
other ``ignore_*`` flags) to be left out of those runs.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import AsyncIterator, Coroutine, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Any, TypeAlias, TypeVar
from uuid import UUID, uuid4

from runnables.core.custom_events import adispatch_custom_event, dispatch_custom_event
from runnables.errors import ArgumentTypeError, InvalidArgumentError

__all__ = [
    "AsyncCallbackManager",
    "AsyncCallbackManagerForChainGroup",
    "AsyncCallbackManagerForChainRun",
    "AsyncCallbackManagerForLLMRun",
    "AsyncCallbackManagerForRetrieverRun",
    "AsyncCallbackManagerForToolRun",
    "AsyncParentRunManager",
    "AsyncRunManager",
    "BaseCallbackManager",
    "BaseRunManager",
    "CallbackManager",
    "CallbackManagerForChainGroup",
    "CallbackManagerForChainRun",
    "CallbackManagerForLLMRun",
    "CallbackManagerForRetrieverRun",
    "CallbackManagerForToolRun",
    "Callbacks",
    "ParentRunManager",
    "RunManager",
    "adispatch_custom_event",
    "atrace_as_chain_group",
    "dispatch_custom_event",
    "handle_event",
    "ahandle_event",
    "trace_as_chain_group",
]

logger = logging.getLogger("runnables")

_M = TypeVar("_M", bound="BaseCallbackManager")


# ---------------------------------------------------------------------- calling handlers


def _failed(handler: Any, event_name: str, exc: Exception) -> None:
    """What langchain-core does when a handler raises: a warning naming the handler and
    the event, and the call goes on, unless the handler has ``raise_error = True``."""
    logger.warning("Error in %s.%s callback: %r", type(handler).__name__, event_name, exc)
    if getattr(handler, "raise_error", False):
        raise exc


def _ignored(handler: Any, ignore_condition_name: str | None) -> bool:
    return ignore_condition_name is not None and bool(
        getattr(handler, ignore_condition_name, False)
    )


def _chat_as_llm_start(args: tuple[Any, ...]) -> tuple[Any, ...]:
    """``on_chat_model_start`` arguments as ``on_llm_start`` ones (the messages as text),
    for handlers that do not implement the chat-model event, as langchain-core does."""
    from runnables.messages import get_buffer_string

    serialized, messages, *rest = args
    return (serialized, [get_buffer_string(m) for m in messages], *rest)


def _run_coroutine(coro: Coroutine[Any, Any, Any]) -> None:
    """An async handler's coroutine, run to the end from sync code (as langchain-core's
    sync manager does): on a loop of its own, in a worker thread if this thread's loop
    is busy running the caller."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(coro)
        return
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(contextvars.copy_context().run, asyncio.run, coro).result()


def handle_event(
    handlers: Sequence[Any],
    event_name: str,
    ignore_condition_name: str | None,
    *args: Any,
    **kwargs: Any,
) -> None:
    """Call ``event_name`` on each handler not ignoring it, in order (sync managers).

    An async handler's coroutine is run to its end before the next handler is called. A
    handler without the method (a duck-typed handler) is skipped.
    """
    for handler in handlers:
        if _ignored(handler, ignore_condition_name):
            continue
        event = getattr(handler, event_name, None)
        if event is None:
            continue
        try:
            try:
                result = event(*args, **kwargs)
                if asyncio.iscoroutine(result):
                    _run_coroutine(result)
            except NotImplementedError:
                if event_name != "on_chat_model_start":
                    raise
                result = handler.on_llm_start(*_chat_as_llm_start(args), **kwargs)
                if asyncio.iscoroutine(result):
                    _run_coroutine(result)
        except Exception as exc:
            _failed(handler, event_name, exc)


async def ahandle_event(
    handlers: Sequence[Any],
    event_name: str,
    ignore_condition_name: str | None,
    *args: Any,
    **kwargs: Any,
) -> None:
    """Call ``event_name`` on each handler not ignoring it, awaiting async ones, in
    handler order (async managers). Sync handlers are called inline."""
    for handler in handlers:
        if _ignored(handler, ignore_condition_name):
            continue
        event = getattr(handler, event_name, None)
        if event is None:
            continue
        try:
            try:
                result = event(*args, **kwargs)
                if asyncio.iscoroutine(result):
                    await result
            except NotImplementedError:
                if event_name != "on_chat_model_start":
                    raise
                result = handler.on_llm_start(*_chat_as_llm_start(args), **kwargs)
                if asyncio.iscoroutine(result):
                    await result
        except Exception as exc:
            _failed(handler, event_name, exc)


# ---------------------------------------------------------------------- managers


class BaseCallbackManager:
    """The handlers, tags and metadata runs report to (see the module docstring).

    ``handlers`` are called for this manager's runs; ``inheritable_handlers`` are also
    passed to the runs nested in them (``get_child()``). Tags and metadata likewise.
    """

    def __init__(
        self,
        handlers: list[Any],
        inheritable_handlers: list[Any] | None = None,
        parent_run_id: UUID | None = None,
        *,
        tags: list[str] | None = None,
        inheritable_tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        inheritable_metadata: dict[str, Any] | None = None,
    ) -> None:
        self.handlers: list[Any] = handlers
        self.inheritable_handlers: list[Any] = inheritable_handlers or []
        self.parent_run_id = parent_run_id
        self.tags: list[str] = tags or []
        self.inheritable_tags: list[str] = inheritable_tags or []
        self.metadata: dict[str, Any] = metadata or {}
        self.inheritable_metadata: dict[str, Any] = inheritable_metadata or {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(handlers={self.handlers!r}, tags={self.tags!r})"

    @property
    def is_async(self) -> bool:
        """Whether this manager awaits its handlers."""
        return False

    def copy(self: _M) -> _M:
        """A copy whose handler, tag and metadata collections are its own."""
        return type(self)(
            handlers=self.handlers.copy(),
            inheritable_handlers=self.inheritable_handlers.copy(),
            parent_run_id=self.parent_run_id,
            tags=self.tags.copy(),
            inheritable_tags=self.inheritable_tags.copy(),
            metadata=self.metadata.copy(),
            inheritable_metadata=self.inheritable_metadata.copy(),
            **self._own_arguments(),
        )

    def _own_arguments(self) -> dict[str, Any]:
        """What a subclass's constructor needs beyond the base's (for copy and merge)."""
        return {}

    def merge(self: _M, other: BaseCallbackManager) -> _M:
        """A manager with this one's parent run and both managers' handlers, tags and
        metadata (each once, this one's first)."""
        manager = type(self)(
            handlers=[],
            inheritable_handlers=[],
            parent_run_id=self.parent_run_id or other.parent_run_id,
            tags=list(dict.fromkeys([*self.tags, *other.tags])),
            inheritable_tags=list(dict.fromkeys([*self.inheritable_tags, *other.inheritable_tags])),
            metadata={**self.metadata, **other.metadata},
            inheritable_metadata={**self.inheritable_metadata, **other.inheritable_metadata},
            **self._own_arguments(),
        )
        inheritable = {id(h) for h in (*self.inheritable_handlers, *other.inheritable_handlers)}
        for handler in (*self.handlers, *other.handlers):
            manager.add_handler(handler, inherit=id(handler) in inheritable)
        return manager

    def add_handler(self, handler: Any, inherit: bool = True) -> None:
        """Add a handler (also passed to nested runs unless ``inherit=False``)."""
        if handler not in self.handlers:
            self.handlers.append(handler)
        if inherit and handler not in self.inheritable_handlers:
            self.inheritable_handlers.append(handler)

    def remove_handler(self, handler: Any) -> None:
        """Remove a handler from both lists."""
        if handler in self.handlers:
            self.handlers.remove(handler)
        if handler in self.inheritable_handlers:
            self.inheritable_handlers.remove(handler)

    def set_handlers(self, handlers: list[Any], inherit: bool = True) -> None:
        """Replace the handlers."""
        self.handlers = []
        self.inheritable_handlers = []
        for handler in handlers:
            self.add_handler(handler, inherit=inherit)

    def set_handler(self, handler: Any, inherit: bool = True) -> None:
        """Replace the handlers with this one."""
        self.set_handlers([handler], inherit=inherit)

    def add_tags(self, tags: list[str], inherit: bool = True) -> None:
        """Add tags (kept once each; also given to nested runs unless ``inherit=False``)."""
        for tag in tags:
            if tag in self.tags:
                self.remove_tags([tag])
        self.tags.extend(tags)
        if inherit:
            self.inheritable_tags.extend(tags)

    def remove_tags(self, tags: list[str]) -> None:
        """Remove tags from both lists."""
        for tag in tags:
            if tag in self.tags:
                self.tags.remove(tag)
            if tag in self.inheritable_tags:
                self.inheritable_tags.remove(tag)

    def add_metadata(self, metadata: dict[str, Any], inherit: bool = True) -> None:
        """Add metadata (also given to nested runs unless ``inherit=False``)."""
        self.metadata.update(metadata)
        if inherit:
            self.inheritable_metadata.update(metadata)

    def remove_metadata(self, keys: list[str]) -> None:
        """Remove metadata keys from both dicts."""
        for key in keys:
            self.metadata.pop(key, None)
            self.inheritable_metadata.pop(key, None)

    def _run_kwargs(self) -> dict[str, Any]:
        return {
            "handlers": self.handlers,
            "inheritable_handlers": self.inheritable_handlers,
            "parent_run_id": self.parent_run_id,
            "tags": self.tags,
            "inheritable_tags": self.inheritable_tags,
            "metadata": self.metadata,
            "inheritable_metadata": self.inheritable_metadata,
        }

    def _start_kwargs(self, run_id: UUID) -> dict[str, Any]:
        return {
            "run_id": run_id,
            "parent_run_id": self.parent_run_id,
            "tags": self.tags,
            "metadata": self.metadata,
        }

    @classmethod
    def _configure(
        cls: type[_M],
        inheritable_callbacks: Callbacks = None,
        local_callbacks: Callbacks = None,
        verbose: bool = False,
        inheritable_tags: list[str] | None = None,
        local_tags: list[str] | None = None,
        inheritable_metadata: dict[str, Any] | None = None,
        local_metadata: dict[str, Any] | None = None,
    ) -> _M:
        if inheritable_callbacks is None or isinstance(inheritable_callbacks, list):
            handlers = list(inheritable_callbacks or [])
            manager = cls(handlers=handlers, inheritable_handlers=handlers.copy())
        elif _is_manager(inheritable_callbacks):
            given: Any = inheritable_callbacks
            manager = cls(
                handlers=list(given.handlers),
                inheritable_handlers=list(given.inheritable_handlers),
                parent_run_id=given.parent_run_id,
                tags=list(given.tags),
                inheritable_tags=list(given.inheritable_tags),
                metadata=dict(given.metadata),
                inheritable_metadata=dict(given.inheritable_metadata),
            )
        else:
            raise ArgumentTypeError(
                f"callbacks must be a list of handlers or a callback manager, got "
                f"{inheritable_callbacks!r}. Pass [handler] rather than the handler itself."
            )
        if local_callbacks is not None:
            local = (
                local_callbacks if isinstance(local_callbacks, list) else local_callbacks.handlers
            )
            for handler in local:
                manager.add_handler(handler, inherit=False)
        if inheritable_tags or local_tags:
            manager.add_tags(inheritable_tags or [])
            manager.add_tags(local_tags or [], inherit=False)
        if inheritable_metadata or local_metadata:
            manager.add_metadata(inheritable_metadata or {})
            manager.add_metadata(local_metadata or {}, inherit=False)
        if verbose:
            from runnables.callbacks.stdout import StdOutCallbackHandler

            if not any(isinstance(h, StdOutCallbackHandler) for h in manager.handlers):
                manager.add_handler(StdOutCallbackHandler(), inherit=False)
        return manager


def _is_manager(value: Any) -> bool:
    """A callback manager, runnables' or one with the same attributes (langchain-core's)."""
    return isinstance(value, BaseCallbackManager) or (
        hasattr(value, "handlers") and hasattr(value, "inheritable_handlers")
    )


Callbacks: TypeAlias = list[Any] | BaseCallbackManager | None
"""What ``config["callbacks"]`` holds: a list of handlers, a callback manager, or None."""


class BaseRunManager:
    """What a run reports the rest of itself to (made by a manager's ``on_*_start``)."""

    def __init__(
        self,
        *,
        run_id: UUID,
        handlers: list[Any],
        inheritable_handlers: list[Any],
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        inheritable_tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        inheritable_metadata: dict[str, Any] | None = None,
    ) -> None:
        self.run_id = run_id
        self.handlers = handlers
        self.inheritable_handlers = inheritable_handlers
        self.parent_run_id = parent_run_id
        self.tags: list[str] = tags or []
        self.inheritable_tags: list[str] = inheritable_tags or []
        self.metadata: dict[str, Any] = metadata or {}
        self.inheritable_metadata: dict[str, Any] = inheritable_metadata or {}

    @classmethod
    def get_noop_manager(cls: type[_R]) -> _R:
        """A run manager with no handlers (for code that needs one when nobody listens)."""
        return cls(run_id=uuid4(), handlers=[], inheritable_handlers=[])

    def _end_kwargs(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "parent_run_id": self.parent_run_id, "tags": self.tags}


_R = TypeVar("_R", bound=BaseRunManager)


class RunManager(BaseRunManager):
    """A sync run manager: ``on_text``, ``on_retry`` and ``on_custom_event``."""

    def on_text(self, text: str, **kwargs: Any) -> None:
        """Report text the run produced."""
        if self.handlers:
            handle_event(self.handlers, "on_text", None, text, **self._end_kwargs(), **kwargs)

    def on_retry(self, retry_state: Any, **kwargs: Any) -> None:
        """Report that the run is retrying."""
        if self.handlers:
            handle_event(
                self.handlers,
                "on_retry",
                "ignore_retry",
                retry_state,
                **self._end_kwargs(),
                **kwargs,
            )

    def on_custom_event(self, name: str, data: Any, **kwargs: Any) -> None:
        """Report a custom event of this run."""
        if self.handlers:
            handle_event(
                self.handlers,
                "on_custom_event",
                "ignore_custom_event",
                name,
                data,
                run_id=self.run_id,
                tags=self.tags,
                metadata=self.metadata,
                **kwargs,
            )


class ParentRunManager(RunManager):
    """A run manager whose runs can have children."""

    def get_child(self, tag: str | None = None) -> CallbackManager:
        """The manager of the runs nested in this one: its inheritable handlers, tags
        and metadata, under this run (``tag`` is given to those runs only)."""
        manager = CallbackManager(handlers=[], parent_run_id=self.run_id)
        _fill_child(manager, self, tag)
        return manager


def _fill_child(manager: BaseCallbackManager, run: BaseRunManager, tag: str | None) -> None:
    manager.set_handlers(run.inheritable_handlers)
    manager.add_tags(run.inheritable_tags)
    manager.add_metadata(run.inheritable_metadata)
    if tag is not None:
        manager.add_tags([tag], inherit=False)


class AsyncRunManager(BaseRunManager):
    """An async run manager: ``on_text``, ``on_retry`` and ``on_custom_event`` awaited."""

    def get_sync(self) -> RunManager:
        """The sync twin of this run manager (same run, same handlers)."""
        return RunManager(**self._copy_kwargs())

    def _copy_kwargs(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "handlers": self.handlers,
            "inheritable_handlers": self.inheritable_handlers,
            "parent_run_id": self.parent_run_id,
            "tags": self.tags,
            "inheritable_tags": self.inheritable_tags,
            "metadata": self.metadata,
            "inheritable_metadata": self.inheritable_metadata,
        }

    async def on_text(self, text: str, **kwargs: Any) -> None:
        """Report text the run produced."""
        if self.handlers:
            await ahandle_event(
                self.handlers, "on_text", None, text, **self._end_kwargs(), **kwargs
            )

    async def on_retry(self, retry_state: Any, **kwargs: Any) -> None:
        """Report that the run is retrying."""
        if self.handlers:
            await ahandle_event(
                self.handlers,
                "on_retry",
                "ignore_retry",
                retry_state,
                **self._end_kwargs(),
                **kwargs,
            )

    async def on_custom_event(self, name: str, data: Any, **kwargs: Any) -> None:
        """Report a custom event of this run."""
        if self.handlers:
            await ahandle_event(
                self.handlers,
                "on_custom_event",
                "ignore_custom_event",
                name,
                data,
                run_id=self.run_id,
                tags=self.tags,
                metadata=self.metadata,
                **kwargs,
            )


class AsyncParentRunManager(AsyncRunManager):
    """An async run manager whose runs can have children."""

    def get_child(self, tag: str | None = None) -> AsyncCallbackManager:
        """The async manager of the runs nested in this one (see ``ParentRunManager``)."""
        manager = AsyncCallbackManager(handlers=[], parent_run_id=self.run_id)
        _fill_child(manager, self, tag)
        return manager


# ---------------------------------------------------------------------- run managers


class CallbackManagerForChainRun(ParentRunManager):
    """The run manager of a chain run."""

    def on_chain_end(self, outputs: Any, **kwargs: Any) -> None:
        """Report the chain's output."""
        if self.handlers:
            handle_event(
                self.handlers,
                "on_chain_end",
                "ignore_chain",
                outputs,
                **self._end_kwargs(),
                **kwargs,
            )

    def on_chain_error(self, error: BaseException, **kwargs: Any) -> None:
        """Report the chain's error."""
        if self.handlers:
            handle_event(
                self.handlers,
                "on_chain_error",
                "ignore_chain",
                error,
                **self._end_kwargs(),
                **kwargs,
            )

    def on_agent_action(self, action: Any, **kwargs: Any) -> None:
        """Report an agent's action."""
        if self.handlers:
            handle_event(
                self.handlers,
                "on_agent_action",
                "ignore_agent",
                action,
                **self._end_kwargs(),
                **kwargs,
            )

    def on_agent_finish(self, finish: Any, **kwargs: Any) -> None:
        """Report an agent's end."""
        if self.handlers:
            handle_event(
                self.handlers,
                "on_agent_finish",
                "ignore_agent",
                finish,
                **self._end_kwargs(),
                **kwargs,
            )


class AsyncCallbackManagerForChainRun(AsyncParentRunManager):
    """The async run manager of a chain run."""

    def get_sync(self) -> CallbackManagerForChainRun:
        """The sync twin of this run manager."""
        return CallbackManagerForChainRun(**self._copy_kwargs())

    async def on_chain_end(self, outputs: Any, **kwargs: Any) -> None:
        """Report the chain's output."""
        if self.handlers:
            await ahandle_event(
                self.handlers,
                "on_chain_end",
                "ignore_chain",
                outputs,
                **self._end_kwargs(),
                **kwargs,
            )

    async def on_chain_error(self, error: BaseException, **kwargs: Any) -> None:
        """Report the chain's error."""
        if self.handlers:
            await ahandle_event(
                self.handlers,
                "on_chain_error",
                "ignore_chain",
                error,
                **self._end_kwargs(),
                **kwargs,
            )

    async def on_agent_action(self, action: Any, **kwargs: Any) -> None:
        """Report an agent's action."""
        if self.handlers:
            await ahandle_event(
                self.handlers,
                "on_agent_action",
                "ignore_agent",
                action,
                **self._end_kwargs(),
                **kwargs,
            )

    async def on_agent_finish(self, finish: Any, **kwargs: Any) -> None:
        """Report an agent's end."""
        if self.handlers:
            await ahandle_event(
                self.handlers,
                "on_agent_finish",
                "ignore_agent",
                finish,
                **self._end_kwargs(),
                **kwargs,
            )


class CallbackManagerForLLMRun(RunManager):
    """The run manager of a chat-model (or LLM) run."""

    def on_llm_new_token(self, token: str, *, chunk: Any = None, **kwargs: Any) -> None:
        """Report a streamed token (``chunk``: its ``ChatGenerationChunk``)."""
        if self.handlers:
            handle_event(
                self.handlers,
                "on_llm_new_token",
                "ignore_llm",
                token,
                **self._end_kwargs(),
                chunk=chunk,
                **kwargs,
            )

    def on_llm_end(self, response: Any, **kwargs: Any) -> None:
        """Report the model's result (an ``LLMResult``)."""
        if self.handlers:
            handle_event(
                self.handlers, "on_llm_end", "ignore_llm", response, **self._end_kwargs(), **kwargs
            )

    def on_llm_error(self, error: BaseException, **kwargs: Any) -> None:
        """Report the model's error."""
        if self.handlers:
            handle_event(
                self.handlers, "on_llm_error", "ignore_llm", error, **self._end_kwargs(), **kwargs
            )


class AsyncCallbackManagerForLLMRun(AsyncRunManager):
    """The async run manager of a chat-model (or LLM) run."""

    def get_sync(self) -> CallbackManagerForLLMRun:
        """The sync twin of this run manager."""
        return CallbackManagerForLLMRun(**self._copy_kwargs())

    async def on_llm_new_token(self, token: str, *, chunk: Any = None, **kwargs: Any) -> None:
        """Report a streamed token (``chunk``: its ``ChatGenerationChunk``)."""
        if self.handlers:
            await ahandle_event(
                self.handlers,
                "on_llm_new_token",
                "ignore_llm",
                token,
                **self._end_kwargs(),
                chunk=chunk,
                **kwargs,
            )

    async def on_llm_end(self, response: Any, **kwargs: Any) -> None:
        """Report the model's result (an ``LLMResult``)."""
        if self.handlers:
            await ahandle_event(
                self.handlers, "on_llm_end", "ignore_llm", response, **self._end_kwargs(), **kwargs
            )

    async def on_llm_error(self, error: BaseException, **kwargs: Any) -> None:
        """Report the model's error."""
        if self.handlers:
            await ahandle_event(
                self.handlers, "on_llm_error", "ignore_llm", error, **self._end_kwargs(), **kwargs
            )


class CallbackManagerForToolRun(ParentRunManager):
    """The run manager of a tool run."""

    def on_tool_end(self, output: Any, **kwargs: Any) -> None:
        """Report the tool's output."""
        if self.handlers:
            handle_event(
                self.handlers, "on_tool_end", "ignore_agent", output, **self._end_kwargs(), **kwargs
            )

    def on_tool_error(self, error: BaseException, **kwargs: Any) -> None:
        """Report the tool's error."""
        if self.handlers:
            handle_event(
                self.handlers,
                "on_tool_error",
                "ignore_agent",
                error,
                **self._end_kwargs(),
                **kwargs,
            )


class AsyncCallbackManagerForToolRun(AsyncParentRunManager):
    """The async run manager of a tool run."""

    def get_sync(self) -> CallbackManagerForToolRun:
        """The sync twin of this run manager."""
        return CallbackManagerForToolRun(**self._copy_kwargs())

    async def on_tool_end(self, output: Any, **kwargs: Any) -> None:
        """Report the tool's output."""
        if self.handlers:
            await ahandle_event(
                self.handlers, "on_tool_end", "ignore_agent", output, **self._end_kwargs(), **kwargs
            )

    async def on_tool_error(self, error: BaseException, **kwargs: Any) -> None:
        """Report the tool's error."""
        if self.handlers:
            await ahandle_event(
                self.handlers,
                "on_tool_error",
                "ignore_agent",
                error,
                **self._end_kwargs(),
                **kwargs,
            )


class CallbackManagerForRetrieverRun(ParentRunManager):
    """The run manager of a retriever run."""

    def on_retriever_end(self, documents: Sequence[Any], **kwargs: Any) -> None:
        """Report the documents found."""
        if self.handlers:
            handle_event(
                self.handlers,
                "on_retriever_end",
                "ignore_retriever",
                documents,
                **self._end_kwargs(),
                **kwargs,
            )

    def on_retriever_error(self, error: BaseException, **kwargs: Any) -> None:
        """Report the retriever's error."""
        if self.handlers:
            handle_event(
                self.handlers,
                "on_retriever_error",
                "ignore_retriever",
                error,
                **self._end_kwargs(),
                **kwargs,
            )


class AsyncCallbackManagerForRetrieverRun(AsyncParentRunManager):
    """The async run manager of a retriever run."""

    def get_sync(self) -> CallbackManagerForRetrieverRun:
        """The sync twin of this run manager."""
        return CallbackManagerForRetrieverRun(**self._copy_kwargs())

    async def on_retriever_end(self, documents: Sequence[Any], **kwargs: Any) -> None:
        """Report the documents found."""
        if self.handlers:
            await ahandle_event(
                self.handlers,
                "on_retriever_end",
                "ignore_retriever",
                documents,
                **self._end_kwargs(),
                **kwargs,
            )

    async def on_retriever_error(self, error: BaseException, **kwargs: Any) -> None:
        """Report the retriever's error."""
        if self.handlers:
            await ahandle_event(
                self.handlers,
                "on_retriever_error",
                "ignore_retriever",
                error,
                **self._end_kwargs(),
                **kwargs,
            )


# ---------------------------------------------------------------------- the managers


def _run_ids(run_id: UUID | None, n: int) -> list[UUID]:
    """One id per prompt: the given one for the first, new ones for the rest."""
    return [run_id if (i == 0 and run_id is not None) else uuid4() for i in range(n)]


class CallbackManager(BaseCallbackManager):
    """Calls its handlers for the runs it starts (see the module docstring).

    >>> from runnables.callbacks import StdOutCallbackHandler
    >>> manager = CallbackManager.configure([StdOutCallbackHandler()])
    >>> run = manager.on_chain_start({"name": "job"}, {"x": 1})
    <BLANKLINE>
    <BLANKLINE>
    \x1b[1m> Entering new job chain...\x1b[0m
    >>> child = run.get_child()  # the manager of the runs nested in "job"
    """

    def on_chain_start(
        self,
        serialized: dict[str, Any] | None,
        inputs: Any,
        run_id: UUID | None = None,
        **kwargs: Any,
    ) -> CallbackManagerForChainRun:
        """Start a chain run and return its run manager."""
        run_id = run_id or uuid4()
        if self.handlers:
            handle_event(
                self.handlers,
                "on_chain_start",
                "ignore_chain",
                serialized,
                inputs,
                **self._start_kwargs(run_id),
                **kwargs,
            )
        return CallbackManagerForChainRun(run_id=run_id, **self._run_kwargs())

    def on_chat_model_start(
        self,
        serialized: dict[str, Any] | None,
        messages: list[list[Any]],
        run_id: UUID | None = None,
        **kwargs: Any,
    ) -> list[CallbackManagerForLLMRun]:
        """Start one chat-model run per message list; their run managers."""
        managers = []
        for message_list, id_ in zip(messages, _run_ids(run_id, len(messages)), strict=True):
            if self.handlers:
                handle_event(
                    self.handlers,
                    "on_chat_model_start",
                    "ignore_chat_model",
                    serialized,
                    [message_list],
                    **self._start_kwargs(id_),
                    **kwargs,
                )
            managers.append(CallbackManagerForLLMRun(run_id=id_, **self._run_kwargs()))
        return managers

    def on_llm_start(
        self,
        serialized: dict[str, Any] | None,
        prompts: list[str],
        run_id: UUID | None = None,
        **kwargs: Any,
    ) -> list[CallbackManagerForLLMRun]:
        """Start one LLM run per prompt; their run managers."""
        managers = []
        for prompt, id_ in zip(prompts, _run_ids(run_id, len(prompts)), strict=True):
            if self.handlers:
                handle_event(
                    self.handlers,
                    "on_llm_start",
                    "ignore_llm",
                    serialized,
                    [prompt],
                    **self._start_kwargs(id_),
                    **kwargs,
                )
            managers.append(CallbackManagerForLLMRun(run_id=id_, **self._run_kwargs()))
        return managers

    def on_tool_start(
        self,
        serialized: dict[str, Any] | None,
        input_str: str,
        run_id: UUID | None = None,
        parent_run_id: UUID | None = None,
        inputs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> CallbackManagerForToolRun:
        """Start a tool run and return its run manager."""
        run_id = run_id or uuid4()
        if self.handlers:
            handle_event(
                self.handlers,
                "on_tool_start",
                "ignore_agent",
                serialized,
                input_str,
                **self._start_kwargs(run_id),
                inputs=inputs,
                **kwargs,
            )
        return CallbackManagerForToolRun(run_id=run_id, **self._run_kwargs())

    def on_retriever_start(
        self,
        serialized: dict[str, Any] | None,
        query: str,
        run_id: UUID | None = None,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> CallbackManagerForRetrieverRun:
        """Start a retriever run and return its run manager."""
        run_id = run_id or uuid4()
        if self.handlers:
            handle_event(
                self.handlers,
                "on_retriever_start",
                "ignore_retriever",
                serialized,
                query,
                **self._start_kwargs(run_id),
                **kwargs,
            )
        return CallbackManagerForRetrieverRun(run_id=run_id, **self._run_kwargs())

    def on_custom_event(
        self, name: str, data: Any, run_id: UUID | None = None, **kwargs: Any
    ) -> None:
        """Report a custom event (``dispatch_custom_event`` calls this for a step's run)."""
        if not self.handlers:
            return
        if kwargs:
            raise InvalidArgumentError(
                f"on_custom_event takes no keyword arguments besides run_id, got "
                f"{sorted(kwargs)}. Put the values in the event's data."
            )
        handle_event(
            self.handlers,
            "on_custom_event",
            "ignore_custom_event",
            name,
            data,
            run_id=run_id or uuid4(),
            tags=self.tags,
            metadata=self.metadata,
        )

    @classmethod
    def configure(
        cls,
        inheritable_callbacks: Callbacks = None,
        local_callbacks: Callbacks = None,
        verbose: bool = False,
        inheritable_tags: list[str] | None = None,
        local_tags: list[str] | None = None,
        inheritable_metadata: dict[str, Any] | None = None,
        local_metadata: dict[str, Any] | None = None,
    ) -> CallbackManager:
        """A manager from a config's callbacks (a list or a manager), tags and metadata:
        the inheritable ones passed down to nested runs, the local ones not."""
        return cls._configure(
            inheritable_callbacks,
            local_callbacks,
            verbose,
            inheritable_tags,
            local_tags,
            inheritable_metadata,
            local_metadata,
        )


class AsyncCallbackManager(BaseCallbackManager):
    """The async twin of :class:`CallbackManager`: its methods are coroutines that await
    async handlers in handler order (sync handlers are called inline)."""

    @property
    def is_async(self) -> bool:
        """Always True."""
        return True

    async def on_chain_start(
        self,
        serialized: dict[str, Any] | None,
        inputs: Any,
        run_id: UUID | None = None,
        **kwargs: Any,
    ) -> AsyncCallbackManagerForChainRun:
        """Start a chain run and return its run manager."""
        run_id = run_id or uuid4()
        if self.handlers:
            await ahandle_event(
                self.handlers,
                "on_chain_start",
                "ignore_chain",
                serialized,
                inputs,
                **self._start_kwargs(run_id),
                **kwargs,
            )
        return AsyncCallbackManagerForChainRun(run_id=run_id, **self._run_kwargs())

    async def on_chat_model_start(
        self,
        serialized: dict[str, Any] | None,
        messages: list[list[Any]],
        run_id: UUID | None = None,
        **kwargs: Any,
    ) -> list[AsyncCallbackManagerForLLMRun]:
        """Start one chat-model run per message list; their run managers."""
        managers = []
        for message_list, id_ in zip(messages, _run_ids(run_id, len(messages)), strict=True):
            if self.handlers:
                await ahandle_event(
                    self.handlers,
                    "on_chat_model_start",
                    "ignore_chat_model",
                    serialized,
                    [message_list],
                    **self._start_kwargs(id_),
                    **kwargs,
                )
            managers.append(AsyncCallbackManagerForLLMRun(run_id=id_, **self._run_kwargs()))
        return managers

    async def on_llm_start(
        self,
        serialized: dict[str, Any] | None,
        prompts: list[str],
        run_id: UUID | None = None,
        **kwargs: Any,
    ) -> list[AsyncCallbackManagerForLLMRun]:
        """Start one LLM run per prompt; their run managers."""
        managers = []
        for prompt, id_ in zip(prompts, _run_ids(run_id, len(prompts)), strict=True):
            if self.handlers:
                await ahandle_event(
                    self.handlers,
                    "on_llm_start",
                    "ignore_llm",
                    serialized,
                    [prompt],
                    **self._start_kwargs(id_),
                    **kwargs,
                )
            managers.append(AsyncCallbackManagerForLLMRun(run_id=id_, **self._run_kwargs()))
        return managers

    async def on_tool_start(
        self,
        serialized: dict[str, Any] | None,
        input_str: str,
        run_id: UUID | None = None,
        parent_run_id: UUID | None = None,
        inputs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> AsyncCallbackManagerForToolRun:
        """Start a tool run and return its run manager."""
        run_id = run_id or uuid4()
        if self.handlers:
            await ahandle_event(
                self.handlers,
                "on_tool_start",
                "ignore_agent",
                serialized,
                input_str,
                **self._start_kwargs(run_id),
                inputs=inputs,
                **kwargs,
            )
        return AsyncCallbackManagerForToolRun(run_id=run_id, **self._run_kwargs())

    async def on_retriever_start(
        self,
        serialized: dict[str, Any] | None,
        query: str,
        run_id: UUID | None = None,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> AsyncCallbackManagerForRetrieverRun:
        """Start a retriever run and return its run manager."""
        run_id = run_id or uuid4()
        if self.handlers:
            await ahandle_event(
                self.handlers,
                "on_retriever_start",
                "ignore_retriever",
                serialized,
                query,
                **self._start_kwargs(run_id),
                **kwargs,
            )
        return AsyncCallbackManagerForRetrieverRun(run_id=run_id, **self._run_kwargs())

    async def on_custom_event(
        self, name: str, data: Any, run_id: UUID | None = None, **kwargs: Any
    ) -> None:
        """Report a custom event (``adispatch_custom_event`` calls this for a step's run)."""
        if not self.handlers:
            return
        if kwargs:
            raise InvalidArgumentError(
                f"on_custom_event takes no keyword arguments besides run_id, got "
                f"{sorted(kwargs)}. Put the values in the event's data."
            )
        await ahandle_event(
            self.handlers,
            "on_custom_event",
            "ignore_custom_event",
            name,
            data,
            run_id=run_id or uuid4(),
            tags=self.tags,
            metadata=self.metadata,
        )

    @classmethod
    def configure(
        cls,
        inheritable_callbacks: Callbacks = None,
        local_callbacks: Callbacks = None,
        verbose: bool = False,
        inheritable_tags: list[str] | None = None,
        local_tags: list[str] | None = None,
        inheritable_metadata: dict[str, Any] | None = None,
        local_metadata: dict[str, Any] | None = None,
    ) -> AsyncCallbackManager:
        """An async manager from a config's callbacks, tags and metadata (see
        :meth:`CallbackManager.configure`)."""
        return cls._configure(
            inheritable_callbacks,
            local_callbacks,
            verbose,
            inheritable_tags,
            local_tags,
            inheritable_metadata,
            local_metadata,
        )


# ---------------------------------------------------------------------- chain groups


class CallbackManagerForChainGroup(CallbackManager):
    """The manager ``trace_as_chain_group`` yields: runs started with it nest under the
    group's run; ``on_chain_end``/``on_chain_error`` end the group early."""

    def __init__(
        self,
        handlers: list[Any],
        inheritable_handlers: list[Any] | None = None,
        parent_run_id: UUID | None = None,
        *,
        parent_run_manager: CallbackManagerForChainRun,
        **kwargs: Any,
    ) -> None:
        super().__init__(handlers, inheritable_handlers, parent_run_id, **kwargs)
        self.parent_run_manager = parent_run_manager
        self.ended = False

    def _own_arguments(self) -> dict[str, Any]:
        """Copies and merges stay under the same group run."""
        return {"parent_run_manager": self.parent_run_manager}

    def on_chain_end(self, outputs: Any, **kwargs: Any) -> None:
        """End the group with these outputs."""
        self.ended = True
        self.parent_run_manager.on_chain_end(outputs, **kwargs)

    def on_chain_error(self, error: BaseException, **kwargs: Any) -> None:
        """End the group with this error."""
        self.ended = True
        self.parent_run_manager.on_chain_error(error, **kwargs)


class AsyncCallbackManagerForChainGroup(AsyncCallbackManager):
    """The async twin of :class:`CallbackManagerForChainGroup`."""

    def __init__(
        self,
        handlers: list[Any],
        inheritable_handlers: list[Any] | None = None,
        parent_run_id: UUID | None = None,
        *,
        parent_run_manager: AsyncCallbackManagerForChainRun,
        **kwargs: Any,
    ) -> None:
        super().__init__(handlers, inheritable_handlers, parent_run_id, **kwargs)
        self.parent_run_manager = parent_run_manager
        self.ended = False

    def _own_arguments(self) -> dict[str, Any]:
        """Copies and merges stay under the same group run."""
        return {"parent_run_manager": self.parent_run_manager}

    async def on_chain_end(self, outputs: Any, **kwargs: Any) -> None:
        """End the group with these outputs."""
        self.ended = True
        await self.parent_run_manager.on_chain_end(outputs, **kwargs)

    async def on_chain_error(self, error: BaseException, **kwargs: Any) -> None:
        """End the group with this error."""
        self.ended = True
        await self.parent_run_manager.on_chain_error(error, **kwargs)


def _group_kwargs(child: BaseCallbackManager) -> dict[str, Any]:
    return {
        "handlers": child.handlers,
        "inheritable_handlers": child.inheritable_handlers,
        "parent_run_id": child.parent_run_id,
        "tags": child.tags,
        "inheritable_tags": child.inheritable_tags,
        "metadata": child.metadata,
        "inheritable_metadata": child.inheritable_metadata,
    }


@contextmanager
def trace_as_chain_group(
    group_name: str,
    callback_manager: CallbackManager | None = None,
    *,
    inputs: dict[str, Any] | None = None,
    project_name: str | None = None,
    example_id: str | UUID | None = None,
    run_id: UUID | None = None,
    tags: list[str] | None = None,
    metadata: dict[str, Any] | None = None,
) -> Iterator[CallbackManagerForChainGroup]:
    """Group the calls made in a ``with`` block under one chain run named ``group_name``.

    Pass the yielded manager as ``config={"callbacks": manager}``; the group ends with
    ``{}`` as output when the block ends (or with the error it raised), unless
    ``manager.on_chain_end(outputs)`` ended it first. ``project_name`` and
    ``example_id`` are LangSmith's and are accepted for compatibility only.

    >>> from runnables import RunnableLambda
    >>> with trace_as_chain_group("batch") as manager:
    ...     RunnableLambda(lambda x: x + 1).invoke(1, {"callbacks": manager})
    2
    """
    manager = CallbackManager.configure(
        inheritable_callbacks=callback_manager, inheritable_tags=tags, inheritable_metadata=metadata
    )
    run_manager = manager.on_chain_start({"name": group_name}, inputs or {}, run_id=run_id)
    child = run_manager.get_child()
    group = CallbackManagerForChainGroup(parent_run_manager=run_manager, **_group_kwargs(child))
    try:
        yield group
    except Exception as exc:
        if not group.ended:
            run_manager.on_chain_error(exc)
        raise
    if not group.ended:
        run_manager.on_chain_end({})


@asynccontextmanager
async def atrace_as_chain_group(
    group_name: str,
    callback_manager: AsyncCallbackManager | None = None,
    *,
    inputs: dict[str, Any] | None = None,
    project_name: str | None = None,
    example_id: str | UUID | None = None,
    run_id: UUID | None = None,
    tags: list[str] | None = None,
    metadata: dict[str, Any] | None = None,
) -> AsyncIterator[AsyncCallbackManagerForChainGroup]:
    """The ``async with`` twin of :func:`trace_as_chain_group`."""
    manager = AsyncCallbackManager.configure(
        inheritable_callbacks=callback_manager, inheritable_tags=tags, inheritable_metadata=metadata
    )
    run_manager = await manager.on_chain_start({"name": group_name}, inputs or {}, run_id=run_id)
    child = run_manager.get_child()
    group = AsyncCallbackManagerForChainGroup(
        parent_run_manager=run_manager, **_group_kwargs(child)
    )
    try:
        yield group
    except Exception as exc:
        if not group.ended:
            await run_manager.on_chain_error(exc)
        raise
    if not group.ended:
        await run_manager.on_chain_end({})
