"""InMemoryVectorStore and its retriever."""

from __future__ import annotations

import pytest

from runnables import RunnableLambda
from runnables.documents import Document
from runnables.embeddings import DeterministicFakeEmbedding
from runnables.vectorstores import InMemoryVectorStore, VectorStoreRetriever


def _store() -> InMemoryVectorStore:
    return InMemoryVectorStore.from_texts(
        ["foo", "bar", "baz"],
        DeterministicFakeEmbedding(size=16),
        metadatas=[{"n": 1}, {"n": 2}, {"n": 3}],
        ids=["1", "2", "3"],
    )


def test_similarity_search_finds_the_same_text_first_with_its_id() -> None:
    assert _store().similarity_search("foo", k=1) == [Document("foo", id="1", metadata={"n": 1})]


async def test_async_search_agrees_with_sync_search() -> None:
    store = await InMemoryVectorStore.afrom_texts(
        ["foo", "bar"], DeterministicFakeEmbedding(size=8)
    )
    sync = store.similarity_search_with_score("bar", k=2)
    assert await store.asimilarity_search_with_score("bar", k=2) == sync
    assert sync[0][0].page_content == "bar" and sync[0][1] > sync[1][1]
    assert sync[0][1] == pytest.approx(1.0)


async def test_add_get_and_delete_by_id() -> None:
    store = InMemoryVectorStore(embedding=DeterministicFakeEmbedding(size=6))
    assert store.add_texts(["a", "b"], ids=["x", "y"]) == ["x", "y"]
    assert await store.aadd_documents([Document("c", id="z")]) == ["z"]
    assert sorted(store.store) == ["x", "y", "z"]
    assert store.get_by_ids(["z", "missing", "x"]) == [Document("c", id="z"), Document("a", id="x")]
    store.delete(["x"])
    assert await store.aget_by_ids(["x"]) == []
    generated = store.add_documents([Document("no id")])
    assert len(generated) == 1 and generated[0] in store.store


def test_filter_and_mmr() -> None:
    store = _store()
    only_even = store.similarity_search("foo", k=3, filter=lambda d: d.metadata["n"] % 2 == 0)
    assert [d.page_content for d in only_even] == ["bar"]
    picked = store.max_marginal_relevance_search("foo", k=10, lambda_mult=0.1)
    assert len(picked) == 3 and picked[0].page_content == "foo"


def test_mismatched_ids_and_unknown_search_arguments_are_clear_errors() -> None:
    store = InMemoryVectorStore(embedding=DeterministicFakeEmbedding(size=4))
    with pytest.raises(ValueError, match="2 documents but 1 ids"):
        store.add_documents([Document("a"), Document("b")], ids=["1"])
    with pytest.raises(TypeError, match="'top_n'"):
        store.similarity_search("a", top_n=3)
    with pytest.raises(TypeError, match="needs an Embeddings object"):
        InMemoryVectorStore(embedding="nope")  # type: ignore[arg-type]


def test_as_retriever_is_a_step_with_search_kwargs() -> None:
    retriever = _store().as_retriever(search_kwargs={"k": 1})
    assert isinstance(retriever, VectorStoreRetriever)
    chain = retriever | RunnableLambda[list[Document], list[str]](
        lambda docs: [d.page_content for d in docs]
    )
    assert chain.invoke("baz") == ["baz"]
    assert retriever.invoke("baz", k=2)[0].page_content == "baz"
    assert len(retriever.invoke("baz", k=2)) == 2


async def test_retriever_search_types() -> None:
    store = _store()
    mmr = store.as_retriever(search_type="mmr", search_kwargs={"k": 2})
    assert len(await mmr.ainvoke("foo")) == 2
    threshold = store.as_retriever(
        search_type="similarity_score_threshold", search_kwargs={"score_threshold": 0.99}
    )
    assert [d.page_content for d in await threshold.ainvoke("foo")] == ["foo"]
    with pytest.raises(ValueError, match="'nearest' is not allowed"):
        store.as_retriever(search_type="nearest")
    with pytest.raises(ValueError, match="needs a float score_threshold"):
        store.as_retriever(search_type="similarity_score_threshold")
