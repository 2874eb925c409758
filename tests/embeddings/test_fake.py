"""The Embeddings interface and its fakes."""

from __future__ import annotations

import math
import threading

import pytest

from runnables.embeddings import DeterministicFakeEmbedding, Embeddings, FakeEmbeddings


def test_deterministic_fake_gives_the_same_unit_vector_for_the_same_text() -> None:
    fake = DeterministicFakeEmbedding(size=10)
    one = fake.embed_query("Hello world!")
    assert one == DeterministicFakeEmbedding(size=10).embed_query("Hello world!")
    assert one != fake.embed_query("Goodbye world!")
    assert len(one) == 10 and math.isclose(sum(v * v for v in one), 1.0)
    assert fake.embed_documents(["a", "b"]) == [fake.embed_query("a"), fake.embed_query("b")]


async def test_fake_async_methods_agree_with_the_sync_ones() -> None:
    fake = DeterministicFakeEmbedding(size=4)
    assert await fake.aembed_query("x") == fake.embed_query("x")
    assert await fake.aembed_documents(["x"]) == fake.embed_documents(["x"])
    assert len(await FakeEmbeddings(size=3).aembed_query("x")) == 3


async def test_a_sync_only_embeddings_runs_off_the_loop_in_async_code() -> None:
    threads: list[int] = []

    class Counting(Embeddings):
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            threads.append(threading.get_ident())
            return [[float(len(t))] for t in texts]

        def embed_query(self, text: str) -> list[float]:
            threads.append(threading.get_ident())
            return [float(len(text))]

    assert await Counting().aembed_query("abc") == [3.0]
    assert await Counting().aembed_documents(["a"]) == [[1.0]]
    assert threading.get_ident() not in threads


@pytest.mark.parametrize("size", [0, -1, 2.5, True])
def test_a_bad_size_is_an_error_naming_it(size: object) -> None:
    with pytest.raises(ValueError, match=f"size={size!r}"):
        DeterministicFakeEmbedding(size=size)  # type: ignore[arg-type]
