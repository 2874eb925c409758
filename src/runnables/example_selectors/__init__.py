"""Example selectors: pick the examples a few-shot prompt shows, per input.

:class:`BaseExampleSelector` is the interface (``select_examples``/``add_example``,
with async twins); :class:`LengthBasedExampleSelector` keeps as many examples as fit a
length budget; :class:`SemanticSimilarityExampleSelector` and
:class:`MaxMarginalRelevanceExampleSelector` search a vector store of the examples.
Pass one as ``example_selector=`` to a few-shot prompt.

>>> from runnables.prompts import PromptTemplate
>>> selector = LengthBasedExampleSelector(
...     examples=[{"q": "2+2", "a": "4"}, {"q": "3+3", "a": "6"}],
...     example_prompt=PromptTemplate.from_template("{q}={a}"),
...     max_length=2,
... )
>>> selector.select_examples({"q": "5+5"})
[{'q': '2+2', 'a': '4'}]
"""

from runnables.example_selectors.base import BaseExampleSelector
from runnables.example_selectors.length_based import LengthBasedExampleSelector
from runnables.example_selectors.semantic_similarity import (
    MaxMarginalRelevanceExampleSelector,
    SemanticSimilarityExampleSelector,
    sorted_values,
)

__all__ = [
    "BaseExampleSelector",
    "LengthBasedExampleSelector",
    "MaxMarginalRelevanceExampleSelector",
    "SemanticSimilarityExampleSelector",
    "sorted_values",
]
