"""``BaseExampleSelector``: what a few-shot prompt asks of its example selector."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from runnables.core.helpers import run_in_executor

__all__ = ["BaseExampleSelector"]


class BaseExampleSelector(ABC):
    """Chooses the examples a few-shot prompt shows for one input.

    Subclasses implement ``select_examples`` and ``add_example``; the async twins run
    them on a worker thread unless overridden (as in langchain-core), so a selector that
    does I/O never blocks the event loop.
    """

    @abstractmethod
    def add_example(self, example: dict[str, str]) -> Any:
        """Add an example to the ones this selector chooses from."""

    async def aadd_example(self, example: dict[str, str]) -> Any:
        """``add_example`` for async code (on a worker thread unless overridden)."""
        return await run_in_executor(None, self.add_example, example)

    @abstractmethod
    def select_examples(self, input_variables: dict[str, str]) -> list[dict[str, Any]]:
        """The examples to show for these input variables."""

    async def aselect_examples(self, input_variables: dict[str, str]) -> list[dict[str, Any]]:
        """``select_examples`` for async code (on a worker thread unless overridden)."""
        return await run_in_executor(None, self.select_examples, input_variables)
