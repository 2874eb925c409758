"""``VectorStore`` (the interface) and ``VectorStoreRetriever`` (a store as a step)."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar, TypeVar

from pydantic import Field, model_validator

from runnables.documents.base import Document
from runnables.embeddings.base import Embeddings
from runnables.errors import InvalidArgumentError, UnsupportedError
from runnables.retrievers.base import BaseRetriever

__all__ = ["VectorStore", "VectorStoreRetriever", "cosine_similarity", "maximal_marginal_relevance"]

VST = TypeVar("VST", bound="VectorStore")
T = TypeVar("T")


def cosine_similarity(a: Sequence[float], b: Sequence[float]) -> float:
    """The cosine of the angle between two vectors (0.0 when either is all zeros)."""
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


def maximal_marginal_relevance(
    query: Sequence[float], candidates: Sequence[Sequence[float]], *, lambda_mult: float, k: int
) -> list[int]:
    """Indices of ``k`` candidates, each chosen for relevance to ``query`` minus its
    similarity to those already chosen (``lambda_mult`` 1: relevance only, 0: diversity)."""
    if not candidates or k <= 0:
        return []
    relevance = [cosine_similarity(query, c) for c in candidates]
    chosen = [max(range(len(candidates)), key=relevance.__getitem__)]
    while len(chosen) < min(k, len(candidates)):
        best, best_score = -1, -math.inf
        for i, candidate in enumerate(candidates):
            if i in chosen:
                continue
            redundancy = max(cosine_similarity(candidate, candidates[j]) for j in chosen)
            score = lambda_mult * relevance[i] - (1 - lambda_mult) * redundancy
            if score > best_score:
                best, best_score = i, score
        chosen.append(best)
    return chosen


class VectorStore(ABC):
    """A store of documents searchable by the similarity of their embeddings.

    As in langchain-core, an implementation provides ``similarity_search`` and
    ``from_texts`` plus either ``add_texts`` or ``add_documents`` (each defaults to the
    other). Every async method defaults to its async sibling when the store overrides
    one (``aadd_texts`` <-> ``aadd_documents``), else to the sync method on a worker
    thread, so async callers never block their loop; a store with an async client
    overrides the async methods to make that path native.
    """

    @property
    def embeddings(self) -> Embeddings | None:
        """The embeddings the store uses, if it exposes them."""
        return None

    # ------------------------------------------------------------------ adding

    def add_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        """Store texts (with ``metadatas``, one per text); returns their ids."""
        if type(self).add_documents is VectorStore.add_documents:
            raise UnsupportedError(_neither(self, "add_texts", "add_documents"))
        if ids is not None:
            kwargs["ids"] = ids
        return self.add_documents(_documents(texts, metadatas, ids), **kwargs)

    def add_documents(self, documents: list[Document], **kwargs: Any) -> list[str]:
        """Store documents; returns their ids (a document's own ``id`` is kept)."""
        if type(self).add_texts is VectorStore.add_texts:
            raise UnsupportedError(_neither(self, "add_texts", "add_documents"))
        if "ids" not in kwargs and any(doc.id for doc in documents):
            kwargs["ids"] = [doc.id for doc in documents]
        texts = [doc.page_content for doc in documents]
        return self.add_texts(texts, [doc.metadata for doc in documents], **kwargs)

    async def aadd_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        """Store texts (with ``metadatas``, one per text); returns their ids."""
        if ids is not None:
            kwargs["ids"] = ids
        if type(self).aadd_documents is not VectorStore.aadd_documents:
            return await self.aadd_documents(_documents(texts, metadatas, ids), **kwargs)
        return await _thread(self.add_texts, list(texts), metadatas, **kwargs)

    async def aadd_documents(self, documents: list[Document], **kwargs: Any) -> list[str]:
        """Store documents; returns their ids (a document's own ``id`` is kept)."""
        if type(self).aadd_texts is not VectorStore.aadd_texts:
            if "ids" not in kwargs and any(doc.id for doc in documents):
                kwargs["ids"] = [doc.id for doc in documents]
            texts = [doc.page_content for doc in documents]
            return await self.aadd_texts(texts, [doc.metadata for doc in documents], **kwargs)
        return await _thread(self.add_documents, documents, **kwargs)

    def delete(self, ids: list[str] | None = None, **kwargs: Any) -> bool | None:
        """Remove documents by id."""
        raise UnsupportedError(f"{type(self).__name__} does not implement delete.")

    async def adelete(self, ids: list[str] | None = None, **kwargs: Any) -> bool | None:
        """Remove documents by id."""
        return await _thread(self.delete, ids, **kwargs)

    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """The stored documents with these ids (missing ids are skipped)."""
        raise UnsupportedError(f"{type(self).__name__} does not implement get_by_ids.")

    async def aget_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """The stored documents with these ids (missing ids are skipped)."""
        return await _thread(self.get_by_ids, ids)

    # ------------------------------------------------------------------ searching

    @abstractmethod
    def similarity_search(self, query: str, k: int = 4, **kwargs: Any) -> list[Document]:
        """The ``k`` documents most similar to ``query``, best first."""

    async def asimilarity_search(self, query: str, k: int = 4, **kwargs: Any) -> list[Document]:
        """The ``k`` documents most similar to ``query``, best first."""
        return await _thread(self.similarity_search, query, k, **kwargs)

    def similarity_search_with_score(
        self, query: str, k: int = 4, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """The ``k`` most similar documents with their similarity, best first."""
        raise UnsupportedError(
            f"{type(self).__name__} does not implement similarity_search_with_score."
        )

    async def asimilarity_search_with_score(
        self, query: str, k: int = 4, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """The ``k`` most similar documents with their similarity, best first."""
        return await _thread(self.similarity_search_with_score, query, k, **kwargs)

    def similarity_search_with_relevance_scores(
        self, query: str, k: int = 4, *, score_threshold: float | None = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """Like ``similarity_search_with_score``, keeping scores at or above the threshold."""
        pairs = self.similarity_search_with_score(query, k, **kwargs)
        return _above(pairs, score_threshold)

    async def asimilarity_search_with_relevance_scores(
        self, query: str, k: int = 4, *, score_threshold: float | None = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """Like ``asimilarity_search_with_score``, keeping scores at or above the threshold."""
        pairs = await self.asimilarity_search_with_score(query, k, **kwargs)
        return _above(pairs, score_threshold)

    def max_marginal_relevance_search(
        self, query: str, k: int = 4, fetch_k: int = 20, lambda_mult: float = 0.5, **kwargs: Any
    ) -> list[Document]:
        """``k`` documents relevant to ``query`` but unlike each other."""
        raise UnsupportedError(f"{type(self).__name__} does not implement MMR search.")

    async def amax_marginal_relevance_search(
        self, query: str, k: int = 4, fetch_k: int = 20, lambda_mult: float = 0.5, **kwargs: Any
    ) -> list[Document]:
        """``k`` documents relevant to ``query`` but unlike each other."""
        return await _thread(
            self.max_marginal_relevance_search, query, k, fetch_k, lambda_mult, **kwargs
        )

    def search(self, query: str, search_type: str, **kwargs: Any) -> list[Document]:
        """Search by ``search_type``: similarity, similarity_score_threshold or mmr."""
        if search_type == "similarity":
            return self.similarity_search(query, **kwargs)
        if search_type == "similarity_score_threshold":
            pairs = self.similarity_search_with_relevance_scores(query, **kwargs)
            return [doc for doc, _ in pairs]
        if search_type == "mmr":
            return self.max_marginal_relevance_search(query, **kwargs)
        raise InvalidArgumentError(_bad_search_type(search_type))

    async def asearch(self, query: str, search_type: str, **kwargs: Any) -> list[Document]:
        """Search by ``search_type``: similarity, similarity_score_threshold or mmr."""
        if search_type == "similarity":
            return await self.asimilarity_search(query, **kwargs)
        if search_type == "similarity_score_threshold":
            pairs = await self.asimilarity_search_with_relevance_scores(query, **kwargs)
            return [doc for doc, _ in pairs]
        if search_type == "mmr":
            return await self.amax_marginal_relevance_search(query, **kwargs)
        raise InvalidArgumentError(_bad_search_type(search_type))

    # ------------------------------------------------------------------ building

    @classmethod
    @abstractmethod
    def from_texts(
        cls: type[VST],
        texts: list[str],
        embedding: Embeddings,
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> VST:
        """A new store holding ``texts``."""

    @classmethod
    async def afrom_texts(
        cls: type[VST],
        texts: list[str],
        embedding: Embeddings,
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> VST:
        """A new store holding ``texts``."""
        if ids is not None:
            kwargs["ids"] = ids
        return await _thread(cls.from_texts, texts, embedding, metadatas, **kwargs)

    @classmethod
    def from_documents(
        cls: type[VST], documents: list[Document], embedding: Embeddings, **kwargs: Any
    ) -> VST:
        """A new store holding ``documents`` (their ids kept when they have them)."""
        if "ids" not in kwargs and any(doc.id for doc in documents):
            kwargs["ids"] = [doc.id for doc in documents]
        texts = [doc.page_content for doc in documents]
        return cls.from_texts(texts, embedding, [doc.metadata for doc in documents], **kwargs)

    @classmethod
    async def afrom_documents(
        cls: type[VST], documents: list[Document], embedding: Embeddings, **kwargs: Any
    ) -> VST:
        """A new store holding ``documents`` (their ids kept when they have them)."""
        if "ids" not in kwargs and any(doc.id for doc in documents):
            kwargs["ids"] = [doc.id for doc in documents]
        texts = [doc.page_content for doc in documents]
        return await cls.afrom_texts(
            texts, embedding, [doc.metadata for doc in documents], **kwargs
        )

    def as_retriever(
        self,
        *,
        search_type: str = "similarity",
        search_kwargs: dict[str, Any] | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        name: str | None = None,
    ) -> VectorStoreRetriever:
        """This store as a retriever step: ``store.as_retriever(search_kwargs={"k": 2})``."""
        return VectorStoreRetriever(
            vectorstore=self,
            search_type=search_type,
            search_kwargs=search_kwargs or {},
            tags=[*(tags or []), type(self).__name__, *_embedding_tag(self)],
            metadata=metadata,
            name=name,
        )


async def _thread(func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    from runnables.core.function import _to_thread

    return await _to_thread(func, *args, **kwargs)


def _neither(store: VectorStore, a: str, b: str) -> str:
    return f"{type(store).__name__} must implement {a!r} or {b!r} (each defaults to the other)."


def _embedding_tag(store: VectorStore) -> list[str]:
    embeddings = store.embeddings
    return [type(embeddings).__name__] if embeddings is not None else []


def _bad_search_type(search_type: str) -> str:
    return (
        f"search_type of {search_type!r} is not allowed; use one of "
        f"{list(VectorStoreRetriever.allowed_search_types)!r}."
    )


def _above(
    pairs: list[tuple[Document, float]], threshold: float | None
) -> list[tuple[Document, float]]:
    if threshold is None:
        return pairs
    return [(doc, score) for doc, score in pairs if score >= threshold]


def _documents(
    texts: Iterable[str], metadatas: list[dict[str, Any]] | None, ids: list[str] | None
) -> list[Document]:
    texts = list(texts)
    if metadatas is not None and len(metadatas) != len(texts):
        raise InvalidArgumentError(
            f"Got {len(texts)} texts but {len(metadatas)} metadatas; pass one metadata "
            "dict per text, or none."
        )
    return [
        Document(
            text,
            metadata=metadatas[i] if metadatas else {},
            id=ids[i] if ids and i < len(ids) else None,
        )
        for i, text in enumerate(texts)
    ]


class VectorStoreRetriever(BaseRetriever):
    """A vector store as a retriever: ``search_kwargs`` go to each search (``k``...)."""

    vectorstore: VectorStore
    """The store searched."""
    search_type: str = "similarity"
    """``"similarity"``, ``"similarity_score_threshold"`` or ``"mmr"``."""
    search_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Keyword arguments of each search, such as ``{"k": 2}``."""

    allowed_search_types: ClassVar[tuple[str, ...]] = (
        "similarity",
        "similarity_score_threshold",
        "mmr",
    )

    @model_validator(mode="before")
    @classmethod
    def _check_search_type(cls, values: Any) -> Any:
        if isinstance(values, dict):
            search_type = values.get("search_type", "similarity")
            if search_type not in cls.allowed_search_types:
                raise InvalidArgumentError(_bad_search_type(search_type))
            if search_type == "similarity_score_threshold":
                threshold = (values.get("search_kwargs") or {}).get("score_threshold")
                if not isinstance(threshold, float):
                    raise InvalidArgumentError(
                        "search_type='similarity_score_threshold' needs a float "
                        f"score_threshold in search_kwargs, got {threshold!r}; pass "
                        "search_kwargs={'score_threshold': 0.5}."
                    )
        return values

    def _get_relevant_documents(self, query: str, **kwargs: Any) -> list[Document]:
        kwargs.pop("run_manager", None)
        return self.vectorstore.search(query, self.search_type, **(self.search_kwargs | kwargs))

    async def _aget_relevant_documents(self, query: str, **kwargs: Any) -> list[Document]:
        kwargs.pop("run_manager", None)
        return await self.vectorstore.asearch(
            query, self.search_type, **(self.search_kwargs | kwargs)
        )

    def add_documents(self, documents: list[Document], **kwargs: Any) -> list[str]:
        """Add documents to the store."""
        return self.vectorstore.add_documents(documents, **kwargs)

    async def aadd_documents(self, documents: list[Document], **kwargs: Any) -> list[str]:
        """Add documents to the store."""
        return await self.vectorstore.aadd_documents(documents, **kwargs)
