"""Example selectors backed by a vector store of the examples.

Each example is stored as the text of its values (sorted by key; only ``input_keys``
when given) with the example itself as the document's metadata, so a search returns
the examples.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from runnables.documents.base import Document
from runnables.embeddings.base import Embeddings
from runnables.example_selectors.base import BaseExampleSelector
from runnables.vectorstores.base import VectorStore

__all__ = [
    "MaxMarginalRelevanceExampleSelector",
    "SemanticSimilarityExampleSelector",
    "sorted_values",
]


def sorted_values(values: dict[str, str]) -> list[str]:
    """The values of ``values``, ordered by their keys."""
    return [values[key] for key in sorted(values)]


class _VectorStoreExampleSelector(BaseExampleSelector, BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid")

    vectorstore: VectorStore
    """The store holding the examples (each as a document whose metadata is the example)."""
    k: int = 4
    """How many examples to select."""
    example_keys: list[str] | None = None
    """Keep only these keys of each selected example."""
    input_keys: list[str] | None = None
    """Search with only these input variables (and store examples by them)."""
    vectorstore_kwargs: dict[str, Any] | None = None
    """Extra keyword arguments for the store's search."""

    @staticmethod
    def _example_to_text(example: dict[str, str], input_keys: list[str] | None) -> str:
        if input_keys:
            return " ".join(sorted_values({key: example[key] for key in input_keys}))
        return " ".join(sorted_values(example))

    def _documents_to_examples(self, documents: list[Document]) -> list[dict[str, Any]]:
        examples = [dict(doc.metadata) for doc in documents]
        if self.example_keys:
            examples = [{key: ex[key] for key in self.example_keys} for ex in examples]
        return examples

    def add_example(self, example: dict[str, str]) -> str:
        """Store an example; returns its id in the store."""
        ids = self.vectorstore.add_texts(
            [self._example_to_text(example, self.input_keys)], metadatas=[example]
        )
        return ids[0]

    async def aadd_example(self, example: dict[str, str]) -> str:
        """``add_example`` with the store's async method."""
        ids = await self.vectorstore.aadd_texts(
            [self._example_to_text(example, self.input_keys)], metadatas=[example]
        )
        return ids[0]


class SemanticSimilarityExampleSelector(_VectorStoreExampleSelector):
    """The ``k`` examples most similar to the input.

    >>> from runnables.embeddings import DeterministicFakeEmbedding
    >>> from runnables.vectorstores import InMemoryVectorStore
    >>> selector = SemanticSimilarityExampleSelector.from_examples(
    ...     [{"q": "hi"}, {"q": "bye"}], DeterministicFakeEmbedding(size=8),
    ...     InMemoryVectorStore, k=1,
    ... )
    >>> selector.select_examples({"q": "bye"})
    [{'q': 'bye'}]
    """

    def select_examples(self, input_variables: dict[str, str]) -> list[dict[str, Any]]:
        """The ``k`` stored examples nearest to the input's text."""
        documents = self.vectorstore.similarity_search(
            self._example_to_text(input_variables, self.input_keys),
            k=self.k,
            **(self.vectorstore_kwargs or {}),
        )
        return self._documents_to_examples(documents)

    async def aselect_examples(self, input_variables: dict[str, str]) -> list[dict[str, Any]]:
        """``select_examples`` with the store's async search."""
        documents = await self.vectorstore.asimilarity_search(
            self._example_to_text(input_variables, self.input_keys),
            k=self.k,
            **(self.vectorstore_kwargs or {}),
        )
        return self._documents_to_examples(documents)

    @classmethod
    def from_examples(
        cls,
        examples: list[dict[str, str]],
        embeddings: Embeddings,
        vectorstore_cls: type[VectorStore],
        k: int = 4,
        input_keys: list[str] | None = None,
        *,
        example_keys: list[str] | None = None,
        vectorstore_kwargs: dict[str, Any] | None = None,
        **vectorstore_cls_kwargs: Any,
    ) -> SemanticSimilarityExampleSelector:
        """A selector over a new ``vectorstore_cls`` store of ``examples``."""
        texts = [cls._example_to_text(example, input_keys) for example in examples]
        store = vectorstore_cls.from_texts(
            texts, embeddings, metadatas=examples, **vectorstore_cls_kwargs
        )
        return cls(
            vectorstore=store,
            k=k,
            input_keys=input_keys,
            example_keys=example_keys,
            vectorstore_kwargs=vectorstore_kwargs,
        )

    @classmethod
    async def afrom_examples(
        cls,
        examples: list[dict[str, str]],
        embeddings: Embeddings,
        vectorstore_cls: type[VectorStore],
        k: int = 4,
        input_keys: list[str] | None = None,
        *,
        example_keys: list[str] | None = None,
        vectorstore_kwargs: dict[str, Any] | None = None,
        **vectorstore_cls_kwargs: Any,
    ) -> SemanticSimilarityExampleSelector:
        """``from_examples`` with the store's async constructor."""
        texts = [cls._example_to_text(example, input_keys) for example in examples]
        store = await vectorstore_cls.afrom_texts(
            texts, embeddings, metadatas=examples, **vectorstore_cls_kwargs
        )
        return cls(
            vectorstore=store,
            k=k,
            input_keys=input_keys,
            example_keys=example_keys,
            vectorstore_kwargs=vectorstore_kwargs,
        )


class MaxMarginalRelevanceExampleSelector(_VectorStoreExampleSelector):
    """``k`` examples relevant to the input but unlike each other (max marginal
    relevance over the ``fetch_k`` nearest)."""

    fetch_k: int = 20
    """How many nearest examples to rerank."""

    def select_examples(self, input_variables: dict[str, str]) -> list[dict[str, Any]]:
        """``k`` examples by max marginal relevance."""
        documents = self.vectorstore.max_marginal_relevance_search(
            self._example_to_text(input_variables, self.input_keys),
            k=self.k,
            fetch_k=self.fetch_k,
        )
        return self._documents_to_examples(documents)

    async def aselect_examples(self, input_variables: dict[str, str]) -> list[dict[str, Any]]:
        """``select_examples`` with the store's async search."""
        documents = await self.vectorstore.amax_marginal_relevance_search(
            self._example_to_text(input_variables, self.input_keys),
            k=self.k,
            fetch_k=self.fetch_k,
        )
        return self._documents_to_examples(documents)

    @classmethod
    def from_examples(
        cls,
        examples: list[dict[str, str]],
        embeddings: Embeddings,
        vectorstore_cls: type[VectorStore],
        k: int = 4,
        input_keys: list[str] | None = None,
        fetch_k: int = 20,
        example_keys: list[str] | None = None,
        vectorstore_kwargs: dict[str, Any] | None = None,
        **vectorstore_cls_kwargs: Any,
    ) -> MaxMarginalRelevanceExampleSelector:
        """A selector over a new ``vectorstore_cls`` store of ``examples``."""
        texts = [cls._example_to_text(example, input_keys) for example in examples]
        store = vectorstore_cls.from_texts(
            texts, embeddings, metadatas=examples, **vectorstore_cls_kwargs
        )
        return cls(
            vectorstore=store,
            k=k,
            fetch_k=fetch_k,
            input_keys=input_keys,
            example_keys=example_keys,
            vectorstore_kwargs=vectorstore_kwargs,
        )

    @classmethod
    async def afrom_examples(
        cls,
        examples: list[dict[str, str]],
        embeddings: Embeddings,
        vectorstore_cls: type[VectorStore],
        *,
        k: int = 4,
        input_keys: list[str] | None = None,
        fetch_k: int = 20,
        example_keys: list[str] | None = None,
        vectorstore_kwargs: dict[str, Any] | None = None,
        **vectorstore_cls_kwargs: Any,
    ) -> MaxMarginalRelevanceExampleSelector:
        """``from_examples`` with the store's async constructor."""
        texts = [cls._example_to_text(example, input_keys) for example in examples]
        store = await vectorstore_cls.afrom_texts(
            texts, embeddings, metadatas=examples, **vectorstore_cls_kwargs
        )
        return cls(
            vectorstore=store,
            k=k,
            fetch_k=fetch_k,
            input_keys=input_keys,
            example_keys=example_keys,
            vectorstore_kwargs=vectorstore_kwargs,
        )
