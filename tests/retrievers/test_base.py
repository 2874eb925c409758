"""BaseRetriever: subclasses written as for langchain-core, run as steps."""

from __future__ import annotations

import threading
from typing import Any

from runnables import RunnableLambda
from runnables.documents import Document
from runnables.retrievers import BaseRetriever

DOCS = [Document("a cat"), Document("a dog"), Document("two cats")]


class Keyword(BaseRetriever):
    docs: list[Document]
    k: int = 5

    def _get_relevant_documents(
        self, query: str, *, run_manager: Any, k: int | None = None
    ) -> list[Document]:
        assert run_manager.get_child() is None  # langchain-core code may call it
        found = [d for d in self.docs if query in d.page_content]
        return found[: k or self.k]


def test_a_sync_retriever_subclass_takes_fields_and_runs_inline() -> None:
    retriever = Keyword(docs=DOCS, k=1)
    assert retriever.invoke("cat") == [Document("a cat")]
    assert Keyword(docs=DOCS).invoke("cat") == [Document("a cat"), Document("two cats")]


def test_invoke_keyword_arguments_reach_the_retrieval_method() -> None:
    assert Keyword(docs=DOCS).invoke("cat", k=1) == [Document("a cat")]


async def test_a_sync_retriever_runs_on_a_worker_thread_from_async_code() -> None:
    seen: list[int] = []

    class Where(BaseRetriever):
        def _get_relevant_documents(self, query: str, **kwargs: Any) -> list[Document]:
            seen.append(threading.get_ident())
            return [Document(query)]

    assert await Where().ainvoke("q") == [Document("q")]
    assert seen and seen[0] != threading.get_ident()


async def test_an_async_retriever_uses_its_async_method() -> None:
    class Native(BaseRetriever):
        def _get_relevant_documents(self, query: str, **kwargs: Any) -> list[Document]:
            raise AssertionError("the sync method must not run")

        async def _aget_relevant_documents(self, query: str, **kwargs: Any) -> list[Document]:
            return [Document(query.upper())]

    assert await Native().ainvoke("q") == [Document("Q")]
    assert await Native().abatch(["a", "b"]) == [[Document("A")], [Document("B")]]


async def test_retriever_runs_are_retriever_events_in_a_chain() -> None:
    chain = Keyword(docs=DOCS) | RunnableLambda(lambda docs: len(docs))
    events = [e async for e in chain.astream_events("cat")]
    names = [(e["event"], e["name"]) for e in events]
    assert ("on_retriever_start", "Keyword") in names
    assert ("on_retriever_end", "Keyword") in names
    assert events[-1]["data"]["output"] == 2
    # langchain-core's retriever runs take a query: the events show {"query": ...}
    start = next(e for e in events if e["event"] == "on_retriever_start")
    end = next(e for e in events if e["event"] == "on_retriever_end")
    assert start["data"] == {"input": {"query": "cat"}}
    assert end["data"]["input"] == {"query": "cat"}


def test_a_retriever_error_is_raised_unchanged_with_a_note() -> None:
    class Broken(BaseRetriever):
        def _get_relevant_documents(self, query: str, **kwargs: Any) -> list[Document]:
            raise KeyError(query)

    try:
        Broken().invoke("q")
    except KeyError as exc:
        assert "Broken" in "".join(getattr(exc, "__notes__", []))
    else:  # pragma: no cover
        raise AssertionError("expected KeyError")
