"""The ``Embeddings`` interface and the fake embeddings shipped for tests."""

from __future__ import annotations

import hashlib
import math
import random
from abc import ABC, abstractmethod

from runnables.errors import InvalidArgumentError

__all__ = ["DeterministicFakeEmbedding", "Embeddings", "FakeEmbeddings"]


class Embeddings(ABC):
    """Turns texts into vectors (langchain-core's interface).

    Implement ``embed_documents`` and ``embed_query``. The async methods default to
    running the sync ones on a worker thread; override them when the provider has an
    async client, so async code never blocks its loop.
    """

    @abstractmethod
    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """One vector per text, for storing."""

    @abstractmethod
    def embed_query(self, text: str) -> list[float]:
        """The vector of a search query."""

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        """``embed_documents`` without blocking the event loop."""
        from runnables.core.function import _to_thread

        return await _to_thread(self.embed_documents, texts)

    async def aembed_query(self, text: str) -> list[float]:
        """``embed_query`` without blocking the event loop."""
        from runnables.core.function import _to_thread

        return await _to_thread(self.embed_query, text)


def _check_size(size: object) -> int:
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise InvalidArgumentError(
            f"An embedding size must be a positive integer, got size={size!r}; pass the "
            "number of dimensions, such as size=8."
        )
    return size


class FakeEmbeddings(Embeddings):
    """Random unit-free vectors of ``size`` dimensions (a new one every call)."""

    def __init__(self, *, size: int) -> None:
        self.size = _check_size(size)

    def _vector(self) -> list[float]:
        return [random.gauss(0.0, 1.0) for _ in range(self.size)]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """A random vector per text."""
        return [self._vector() for _ in texts]

    def embed_query(self, text: str) -> list[float]:
        """A random vector."""
        return self._vector()

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        """A random vector per text (no thread: nothing blocks)."""
        return self.embed_documents(texts)

    async def aembed_query(self, text: str) -> list[float]:
        """A random vector (no thread: nothing blocks)."""
        return self.embed_query(text)


class DeterministicFakeEmbedding(FakeEmbeddings):
    """The same vector for the same text, in every process (seeded by its SHA-256).

    Different texts get unrelated vectors, so similarity between different texts is
    noise; a text is always most similar to itself, which is what tests of retrieval
    plumbing need. (The numbers differ from langchain-core's, which come from numpy's
    generator; the guarantees are the same.)

    >>> fake = DeterministicFakeEmbedding(size=4)
    >>> fake.embed_query("hi") == fake.embed_query("hi")
    True
    """

    def _vector_for(self, text: str) -> list[float]:
        seed = int(hashlib.sha256(text.encode("utf-8")).hexdigest(), 16) % 10**8
        rng = random.Random(seed)
        vector = [rng.gauss(0.0, 1.0) for _ in range(self.size)]
        norm = math.sqrt(sum(v * v for v in vector)) or 1.0
        return [v / norm for v in vector]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """The text's fixed vector, per text."""
        return [self._vector_for(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        """The text's fixed vector."""
        return self._vector_for(text)
