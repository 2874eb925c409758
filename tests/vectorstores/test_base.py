"""VectorStore's defaults: add_texts <-> add_documents, async twins off the loop."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from runnables.documents import Document
from runnables.embeddings import Embeddings, FakeEmbeddings
from runnables.vectorstores import VectorStore


class OnlyAddTexts(VectorStore):
    """Implements add_texts only (plus the two abstract methods)."""

    def __init__(self) -> None:
        self.docs: dict[str, Document] = {}
        self.threads: list[int] = []

    def add_texts(
        self,
        texts: Any,
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        self.threads.append(threading.get_ident())
        out = []
        for i, text in enumerate(texts):
            doc_id = ids[i] if ids else str(len(self.docs))
            self.docs[doc_id] = Document(text, id=doc_id, metadata=(metadatas or [{}] * 99)[i])
            out.append(doc_id)
        return out

    def similarity_search(self, query: str, k: int = 4, **kwargs: Any) -> list[Document]:
        return [d for d in self.docs.values() if query in d.page_content][:k]

    @classmethod
    def from_texts(
        cls,
        texts: list[str],
        embedding: Embeddings,
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> OnlyAddTexts:
        store = cls()
        store.add_texts(texts, metadatas, ids=ids)
        return store


def test_add_documents_defaults_to_add_texts_keeping_ids() -> None:
    store = OnlyAddTexts()
    assert store.add_documents([Document("a", id="x", metadata={"m": 1})]) == ["x"]
    assert store.docs["x"] == Document("a", id="x", metadata={"m": 1})


async def test_async_defaults_run_the_sync_methods_off_the_loop() -> None:
    store = OnlyAddTexts()
    assert await store.aadd_documents([Document("a", id="1")]) == ["1"]
    assert threading.get_ident() not in store.threads
    assert await store.asimilarity_search("a") == [Document("a", id="1")]
    assert await store.as_retriever().ainvoke("a") == [Document("a", id="1")]


async def test_from_documents_and_afrom_documents_build_through_from_texts() -> None:
    docs = [Document("a", id="1"), Document("b", id="2")]
    assert sorted(OnlyAddTexts.from_documents(docs, FakeEmbeddings(size=2)).docs) == ["1", "2"]
    built = await OnlyAddTexts.afrom_documents(docs, FakeEmbeddings(size=2))
    assert sorted(built.docs) == ["1", "2"]


def test_a_store_implementing_neither_add_method_says_which_to_implement() -> None:
    class Neither(OnlyAddTexts):
        add_texts = VectorStore.add_texts

    with pytest.raises(NotImplementedError, match="'add_texts' or 'add_documents'"):
        Neither().add_documents([Document("a")])
