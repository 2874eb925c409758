"""``BaseRetriever``: a step from a query to the documents relevant to it."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, ClassVar

from runnables.core.base import Runnable
from runnables.core.config import CURRENT, Context
from runnables.core.leaf import run_leaf
from runnables.core.notes import note_step
from runnables.core.serializable import RunnableSerializable
from runnables.documents.base import Document
from runnables.errors import UnsupportedError

__all__ = ["BaseRetriever"]


class _NoRunManager:
    """Stands in for langchain-core's callback run manager in ``run_manager=`` arguments.

    runnables reports runs through events and tracers, not callback managers, but
    retrievers written for langchain-core declare ``run_manager`` and may call its
    methods (``get_child()``, ``on_text(...)``); those are no-ops here.
    """

    def get_child(self, tag: str | None = None) -> None:
        """No child callbacks: nested runnables inherit the call's config instead."""
        return None

    def get_sync(self) -> _NoRunManager:
        """Itself."""
        return self

    def __getattr__(self, name: str) -> Callable[..., None]:
        def ignore(*args: Any, **kwargs: Any) -> None:
            return None

        return ignore


NO_RUN_MANAGER = _NoRunManager()


def _takes_run_manager(func: Callable[..., Any]) -> bool:
    try:
        return "run_manager" in inspect.signature(func).parameters
    except (TypeError, ValueError):
        return False


class BaseRetriever(RunnableSerializable[str, list[Document]]):
    """A runnable that returns the documents relevant to a query.

    >>> class Keyword(BaseRetriever):
    ...     docs: list[Document]
    ...     def _get_relevant_documents(self, query: str, *, run_manager=None):
    ...         return [d for d in self.docs if query in d.page_content]
    >>> Keyword(docs=[Document("a cat"), Document("a dog")]).invoke("cat")
    [Document(metadata={}, page_content='a cat')]

    A retriever with only the sync method runs it inline from sync ``invoke`` and on a
    worker thread from async code; implement ``_aget_relevant_documents`` to make the
    async path native. Keyword arguments of ``invoke(query, k=2)`` reach the method.
    """

    _run_type: ClassVar[str] = "retriever"  # type: ignore[misc]
    _is_leaf: ClassVar[bool] = True  # type: ignore[misc]

    tags: list[str] | None = None
    """Tags added to this retriever's runs."""
    metadata: dict[str, Any] | None = None
    """Metadata added to this retriever's runs."""

    def _get_relevant_documents(self, query: str, *, run_manager: Any) -> list[Document]:
        """The documents relevant to ``query`` (sync). Subclasses implement this.

        Typed as langchain-core's, so a subclass written as its docs show type-checks;
        one that takes ``**kwargs`` as well also receives the call's bound arguments.
        """
        raise UnsupportedError(
            f"{type(self).__name__} must implement '_get_relevant_documents(self, query, *, "
            "run_manager)' or '_aget_relevant_documents'."
        )

    async def _aget_relevant_documents(self, query: str, **kwargs: Any) -> list[Document]:
        """The documents relevant to ``query`` (async); defaults to the sync method on a
        worker thread."""
        from runnables.core.function import _to_thread

        return await _to_thread(self._get_relevant_documents, query, **kwargs)

    def _has_async(self) -> bool:
        return type(self)._aget_relevant_documents is not BaseRetriever._aget_relevant_documents

    def _needs_loop(self) -> bool:
        return self._has_async()

    def _with_kwargs(self, kwargs: dict[str, Any]) -> Runnable[str, list[Document]]:
        return _RetrieverCall(self, kwargs)

    async def _ainvoke(self, input: str, ctx: Context) -> list[Document]:
        return await self._retrieve(input, ctx, {})

    async def _retrieve(self, query: str, ctx: Context, kwargs: dict[str, Any]) -> list[Document]:
        if ctx.limiter is not None or ctx.running is not None:
            return await run_leaf(self, ctx, lambda: self._work(query, ctx, kwargs))  # type: ignore[no-any-return]
        return await self._work(query, ctx, kwargs)

    async def _work(self, query: str, ctx: Context, kwargs: dict[str, Any]) -> list[Document]:
        is_async = self._has_async()
        method = self._aget_relevant_documents if is_async else self._get_relevant_documents
        call_kwargs = dict(kwargs)
        if _takes_run_manager(method):
            call_kwargs["run_manager"] = NO_RUN_MANAGER
        token = None if ctx.is_root else CURRENT.set(ctx)
        try:
            if is_async:
                return await self._aget_relevant_documents(query, **call_kwargs)
            if ctx.sync:
                return self._get_relevant_documents(query, **call_kwargs)
            from runnables.core.function import _to_thread

            return await _to_thread(self._get_relevant_documents, query, **call_kwargs)
        except Exception as exc:
            note_step(exc, self.get_name())
            raise
        finally:
            if token is not None:
                CURRENT.reset(token)


class _RetrieverCall(Runnable[str, list[Document]]):
    """A retriever called with keyword arguments (``retriever.invoke(q, k=2)``)."""

    _run_type = "retriever"
    _is_leaf = True

    def __init__(self, retriever: BaseRetriever, kwargs: dict[str, Any]) -> None:
        self.retriever = retriever
        self.kwargs = kwargs
        self.name = retriever.get_name()

    def _needs_loop(self) -> bool:
        return self.retriever._needs_loop()

    async def _ainvoke(self, input: str, ctx: Context) -> list[Document]:
        return await self.retriever._retrieve(input, ctx, self.kwargs)
