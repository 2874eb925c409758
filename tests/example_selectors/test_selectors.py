"""Example selectors: length budget, vector-store search, and the async defaults."""

from __future__ import annotations

import threading
from typing import Any

from runnables.embeddings import DeterministicFakeEmbedding
from runnables.example_selectors import (
    BaseExampleSelector,
    LengthBasedExampleSelector,
    MaxMarginalRelevanceExampleSelector,
    SemanticSimilarityExampleSelector,
    sorted_values,
)
from runnables.prompts import FewShotPromptTemplate, PromptTemplate
from runnables.vectorstores import InMemoryVectorStore

EXAMPLES = [
    {"question": "hello there", "answer": "one two three"},
    {"question": "good bye", "answer": "four five"},
    {"question": "thank you", "answer": "six"},
]
EXAMPLE_PROMPT = PromptTemplate.from_template("{question} {answer}")


def test_length_based_keeps_examples_while_they_fit_with_the_input() -> None:
    # Lengths in words: 5, 4, 3; the input "a b" takes 2 of the budget.
    selector = LengthBasedExampleSelector(
        examples=list(EXAMPLES), example_prompt=EXAMPLE_PROMPT, max_length=12
    )
    assert selector.example_text_lengths == [5, 4, 3]
    assert selector.select_examples({"q": "a b"}) == EXAMPLES[:2]
    assert selector.select_examples({"q": "a b c d e f g h"}) == []
    selector.add_example({"question": "x", "answer": "y"})
    assert selector.example_text_lengths[-1] == 2


async def test_length_based_custom_measure_and_async() -> None:
    selector = LengthBasedExampleSelector(
        examples=list(EXAMPLES),
        example_prompt=EXAMPLE_PROMPT,
        get_text_length=len,
        max_length=40,
    )
    assert await selector.aselect_examples({"q": "1234567890"}) == EXAMPLES[:1]


def _store_selector(**kwargs: Any) -> SemanticSimilarityExampleSelector:
    return SemanticSimilarityExampleSelector.from_examples(
        EXAMPLES, DeterministicFakeEmbedding(size=16), InMemoryVectorStore, **kwargs
    )


def test_semantic_similarity_finds_the_example_with_the_same_text() -> None:
    # The fake embedding is the same vector for the same text: the example stored as
    # "good bye" (input_keys) is the nearest to an input whose question is "good bye".
    selector = _store_selector(k=1, input_keys=["question"])
    assert selector.select_examples({"question": "good bye"}) == [EXAMPLES[1]]
    only_answer = _store_selector(k=1, input_keys=["question"], example_keys=["answer"])
    assert only_answer.select_examples({"question": "thank you"}) == [{"answer": "six"}]


async def test_semantic_similarity_async_and_added_examples() -> None:
    selector = await SemanticSimilarityExampleSelector.afrom_examples(
        EXAMPLES, DeterministicFakeEmbedding(size=16), InMemoryVectorStore, k=1
    )
    new = {"question": "what now", "answer": "later"}
    await selector.aadd_example(new)
    assert await selector.aselect_examples(dict(new)) == [new]
    assert len(selector.select_examples({"question": "x", "answer": "y"})) == 1


def test_max_marginal_relevance_selects_k_distinct_examples() -> None:
    selector = MaxMarginalRelevanceExampleSelector.from_examples(
        EXAMPLES, DeterministicFakeEmbedding(size=16), InMemoryVectorStore, k=2, fetch_k=3
    )
    chosen = selector.select_examples({"question": "good bye", "answer": "four five"})
    assert chosen[0] == EXAMPLES[1]
    assert len(chosen) == 2 and chosen[1] != chosen[0]


def test_sorted_values_orders_by_key() -> None:
    assert sorted_values({"b": "2", "a": "1"}) == ["1", "2"]


class _ThreadRecorder(BaseExampleSelector):
    def __init__(self) -> None:
        self.threads: list[int] = []

    def add_example(self, example: dict[str, str]) -> Any:
        self.threads.append(threading.get_ident())

    def select_examples(self, input_variables: dict[str, str]) -> list[dict[str, Any]]:
        self.threads.append(threading.get_ident())
        return [{"question": "q", "answer": "a"}]


async def test_base_selector_async_defaults_run_the_sync_methods_off_the_loop() -> None:
    selector = _ThreadRecorder()
    assert await selector.aselect_examples({}) == [{"question": "q", "answer": "a"}]
    await selector.aadd_example({})
    assert threading.get_ident() not in selector.threads and len(selector.threads) == 2


async def test_few_shot_prompt_uses_a_selector() -> None:
    selector = _store_selector(k=1, input_keys=["question"])
    prompt = FewShotPromptTemplate(
        example_selector=selector,
        example_prompt=EXAMPLE_PROMPT,
        suffix="{question}",
        input_variables=["question"],
    )
    assert prompt.format(question="thank you") == "thank you six\n\nthank you"
    assert (await prompt.ainvoke({"question": "good bye"})).to_string() == (
        "good bye four five\n\ngood bye"
    )
