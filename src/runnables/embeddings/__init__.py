"""Embeddings: text to vectors, with a deterministic fake for tests.

Implement :class:`Embeddings` for a provider (``embed_documents`` and ``embed_query``,
optionally their async twins); :class:`DeterministicFakeEmbedding` gives the same
vector for the same text, offline.
"""

from runnables.embeddings.base import DeterministicFakeEmbedding, Embeddings, FakeEmbeddings

__all__ = ["DeterministicFakeEmbedding", "Embeddings", "FakeEmbeddings"]
