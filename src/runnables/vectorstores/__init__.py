"""Vector stores: documents indexed by their embeddings, searched by similarity.

:class:`InMemoryVectorStore` keeps everything in a dict (for tests, demos and small
corpora); ``as_retriever()`` turns any store into a retriever step for a chain.
"""

from runnables.vectorstores.base import VectorStore, VectorStoreRetriever
from runnables.vectorstores.in_memory import InMemoryVectorStore

__all__ = ["InMemoryVectorStore", "VectorStore", "VectorStoreRetriever"]
