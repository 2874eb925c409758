"""``LengthBasedExampleSelector``: as many examples as fit a length budget."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from runnables.example_selectors.base import BaseExampleSelector
from runnables.prompts.string import PromptTemplate

__all__ = ["LengthBasedExampleSelector"]


def _get_length_based(text: str) -> int:
    # langchain-core's measure: pieces between newlines and spaces (about words).
    return len(re.split(r"\n| ", text))


class LengthBasedExampleSelector(BaseExampleSelector, BaseModel):
    """The examples, in order, while the input and the examples so far fit ``max_length``.

    Each example is measured once, formatted with ``example_prompt``, by
    ``get_text_length`` (words by default); the input's values count against the
    budget too.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    examples: list[dict[str, Any]]
    """The examples to choose from, in the order they are preferred."""
    example_prompt: PromptTemplate
    """The template each example is formatted with (to measure it)."""
    get_text_length: Callable[[str], int] = _get_length_based
    """How a text is measured (words by default)."""
    max_length: int = 2048
    """The budget for the input and the chosen examples together."""
    example_text_lengths: list[int] = Field(default_factory=list)
    """Each example's length (computed when not given)."""

    @model_validator(mode="after")
    def _measure_examples(self) -> Self:
        if not self.example_text_lengths:
            self.example_text_lengths = [
                self.get_text_length(self.example_prompt.format(**example))
                for example in self.examples
            ]
        return self

    def add_example(self, example: dict[str, str]) -> None:
        """Add an example at the end (measured now)."""
        self.examples.append(example)
        self.example_text_lengths.append(
            self.get_text_length(self.example_prompt.format(**example))
        )

    async def aadd_example(self, example: dict[str, str]) -> None:
        """``add_example`` (it is CPU-only, so no thread is needed)."""
        self.add_example(example)

    def select_examples(self, input_variables: dict[str, str]) -> list[dict[str, Any]]:
        """The first examples that fit what the input leaves of ``max_length``."""
        remaining = self.max_length - self.get_text_length(" ".join(input_variables.values()))
        chosen: list[dict[str, Any]] = []
        for example, length in zip(self.examples, self.example_text_lengths, strict=False):
            if remaining <= 0 or remaining - length < 0:
                break
            chosen.append(example)
            remaining -= length
        return chosen

    async def aselect_examples(self, input_variables: dict[str, str]) -> list[dict[str, Any]]:
        """``select_examples`` (it is CPU-only, so no thread is needed)."""
        return self.select_examples(input_variables)
