"""``InMemoryVectorStore``: documents and their vectors in a dict, searched exhaustively."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any

from runnables.documents.base import Document
from runnables.embeddings.base import Embeddings
from runnables.errors import ArgumentTypeError, InvalidArgumentError
from runnables.vectorstores.base import VectorStore, cosine_similarity, maximal_marginal_relevance

__all__ = ["InMemoryVectorStore"]

DocFilter = Callable[[Document], bool]


class InMemoryVectorStore(VectorStore):
    """A vector store in a dict (``store``: id -> id, vector, text, metadata).

    Search compares the query with every stored vector by cosine similarity, so it suits
    tests, demos and corpora of a few thousand documents. ``filter`` is a function of a
    :class:`~runnables.documents.Document` that says whether it may be returned.

    >>> from runnables.embeddings import DeterministicFakeEmbedding
    >>> store = InMemoryVectorStore.from_texts(["cats", "dogs"], DeterministicFakeEmbedding(size=8))
    >>> [d.page_content for d in store.similarity_search("cats", k=1)]
    ['cats']

    The async methods embed with the embeddings' async methods; the sync ones with the
    sync methods. Both share the storing and the search below.
    """

    def __init__(self, embedding: Embeddings) -> None:
        if not (
            callable(getattr(embedding, "embed_documents", None))
            and callable(getattr(embedding, "embed_query", None))
        ):
            raise ArgumentTypeError(
                f"InMemoryVectorStore needs an Embeddings object, got {embedding!r} (a "
                f"{type(embedding).__name__}); pass one such as "
                "DeterministicFakeEmbedding(size=8)."
            )
        self.embedding = embedding
        self.store: dict[str, dict[str, Any]] = {}

    @property
    def embeddings(self) -> Embeddings:
        """The embeddings the store uses."""
        return self.embedding

    # ------------------------------------------------------------------ storing

    def _store(
        self, documents: list[Document], vectors: list[list[float]], ids: list[str] | None
    ) -> list[str]:
        if ids and len(ids) != len(documents):
            raise InvalidArgumentError(
                f"Got {len(documents)} documents but {len(ids)} ids; pass one id per "
                "document, or none."
            )
        out: list[str] = []
        for i, (doc, vector) in enumerate(zip(documents, vectors, strict=True)):
            doc_id = (ids[i] if ids else doc.id) or str(uuid.uuid4())
            out.append(doc_id)
            self.store[doc_id] = {
                "id": doc_id,
                "vector": vector,
                "text": doc.page_content,
                "metadata": doc.metadata,
            }
        return out

    def add_documents(
        self, documents: list[Document], ids: list[str] | None = None, **kwargs: Any
    ) -> list[str]:
        """Embed and store documents; returns their ids."""
        vectors = self.embedding.embed_documents([d.page_content for d in documents])
        return self._store(documents, vectors, ids)

    async def aadd_documents(
        self, documents: list[Document], ids: list[str] | None = None, **kwargs: Any
    ) -> list[str]:
        """Embed and store documents; returns their ids."""
        vectors = await self.embedding.aembed_documents([d.page_content for d in documents])
        return self._store(documents, vectors, ids)

    def delete(self, ids: Sequence[str] | None = None, **kwargs: Any) -> None:
        """Remove the documents with these ids (unknown ids are ignored)."""
        for doc_id in ids or ():
            self.store.pop(doc_id, None)

    async def adelete(self, ids: Sequence[str] | None = None, **kwargs: Any) -> None:
        """Remove the documents with these ids (unknown ids are ignored)."""
        self.delete(ids)

    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """The stored documents with these ids, in that order (missing ones skipped)."""
        return [_document(self.store[i]) for i in ids if i in self.store]

    async def aget_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """The stored documents with these ids, in that order (missing ones skipped)."""
        return self.get_by_ids(ids)

    # ------------------------------------------------------------------ searching

    def _search(
        self, vector: list[float], k: int, filter: DocFilter | None
    ) -> list[tuple[Document, float, list[float]]]:
        scored = []
        for entry in self.store.values():
            doc = _document(entry)
            if filter is not None and not filter(doc):
                continue
            scored.append((doc, cosine_similarity(vector, entry["vector"]), entry["vector"]))
        scored.sort(key=lambda item: item[1], reverse=True)
        return scored[:k]

    def similarity_search_with_score_by_vector(
        self, embedding: list[float], k: int = 4, filter: DocFilter | None = None
    ) -> list[tuple[Document, float]]:
        """The ``k`` documents most similar to a vector, with their cosine similarity."""
        return [(doc, score) for doc, score, _ in self._search(embedding, k, filter)]

    def similarity_search_by_vector(
        self, embedding: list[float], k: int = 4, filter: DocFilter | None = None
    ) -> list[Document]:
        """The ``k`` documents most similar to a vector."""
        return [doc for doc, _, _ in self._search(embedding, k, filter)]

    async def asimilarity_search_by_vector(
        self, embedding: list[float], k: int = 4, filter: DocFilter | None = None
    ) -> list[Document]:
        """The ``k`` documents most similar to a vector."""
        return self.similarity_search_by_vector(embedding, k, filter)

    def similarity_search(
        self, query: str, k: int = 4, filter: DocFilter | None = None, **kwargs: Any
    ) -> list[Document]:
        """The ``k`` documents most similar to ``query``, best first."""
        return [doc for doc, _ in self.similarity_search_with_score(query, k, filter, **kwargs)]

    async def asimilarity_search(
        self, query: str, k: int = 4, filter: DocFilter | None = None, **kwargs: Any
    ) -> list[Document]:
        """The ``k`` documents most similar to ``query``, best first."""
        pairs = await self.asimilarity_search_with_score(query, k, filter, **kwargs)
        return [doc for doc, _ in pairs]

    def similarity_search_with_score(
        self, query: str, k: int = 4, filter: DocFilter | None = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """The ``k`` documents most similar to ``query``, with their cosine similarity."""
        _no_extra(kwargs)
        vector = self.embedding.embed_query(query)
        return self.similarity_search_with_score_by_vector(vector, k, filter)

    async def asimilarity_search_with_score(
        self, query: str, k: int = 4, filter: DocFilter | None = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """The ``k`` documents most similar to ``query``, with their cosine similarity."""
        _no_extra(kwargs)
        vector = await self.embedding.aembed_query(query)
        return self.similarity_search_with_score_by_vector(vector, k, filter)

    def max_marginal_relevance_search_by_vector(
        self,
        embedding: list[float],
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: DocFilter | None = None,
    ) -> list[Document]:
        """``k`` of the ``fetch_k`` nearest documents, relevant but unlike each other."""
        found = self._search(embedding, fetch_k, filter)
        picked = maximal_marginal_relevance(
            embedding, [vector for _, _, vector in found], lambda_mult=lambda_mult, k=k
        )
        return [found[i][0] for i in picked]

    def max_marginal_relevance_search(
        self,
        query: str,
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: DocFilter | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        """``k`` of the ``fetch_k`` documents nearest ``query``, unlike each other."""
        _no_extra(kwargs)
        vector = self.embedding.embed_query(query)
        return self.max_marginal_relevance_search_by_vector(vector, k, fetch_k, lambda_mult, filter)

    async def amax_marginal_relevance_search(
        self,
        query: str,
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: DocFilter | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        """``k`` of the ``fetch_k`` documents nearest ``query``, unlike each other."""
        _no_extra(kwargs)
        vector = await self.embedding.aembed_query(query)
        return self.max_marginal_relevance_search_by_vector(vector, k, fetch_k, lambda_mult, filter)

    # ------------------------------------------------------------------ building

    @classmethod
    def from_texts(
        cls,
        texts: list[str],
        embedding: Embeddings,
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> InMemoryVectorStore:
        """A new store holding ``texts``."""
        store = cls(embedding=embedding)
        store.add_texts(texts, metadatas, ids=ids)
        return store

    @classmethod
    async def afrom_texts(
        cls,
        texts: list[str],
        embedding: Embeddings,
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> InMemoryVectorStore:
        """A new store holding ``texts`` (embedded with the async method)."""
        store = cls(embedding=embedding)
        await store.aadd_texts(texts, metadatas, ids=ids)
        return store

    def dump(self, path: str) -> None:
        """Write the store (ids, vectors, texts, metadata) to a JSON file."""
        import json
        from pathlib import Path

        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(self.store))

    @classmethod
    def load(cls, path: str, embedding: Embeddings, **kwargs: Any) -> InMemoryVectorStore:
        """A store read from a file written by :meth:`dump`."""
        import json
        from pathlib import Path

        store = cls(embedding=embedding)
        store.store = json.loads(Path(path).read_text())
        return store


def _document(entry: dict[str, Any]) -> Document:
    return Document(entry["text"], id=entry["id"], metadata=entry["metadata"])


def _no_extra(kwargs: dict[str, Any]) -> None:
    if kwargs:
        raise ArgumentTypeError(
            f"InMemoryVectorStore searches take k, filter (and fetch_k, lambda_mult for MMR); "
            f"got unexpected {sorted(kwargs)!r}."
        )
