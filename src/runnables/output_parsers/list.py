"""List output parsers: comma-separated, numbered and markdown lists.

Streaming yields each item as soon as it is complete, as a one-item list (``["a"]``,
then ``["b"]``...), like langchain-core; ``invoke`` returns the whole list.
"""

from __future__ import annotations

import csv
import re
from collections.abc import AsyncIterator, Iterator
from io import StringIO
from typing import Any

from runnables.core.config import Context
from runnables.errors import UnsupportedError
from runnables.output_parsers.base import BaseOutputParser, text_of

__all__ = [
    "CommaSeparatedListOutputParser",
    "ListOutputParser",
    "MarkdownListOutputParser",
    "NumberedListOutputParser",
]


class ListOutputParser(BaseOutputParser[list[str]]):
    """Base of the list parsers: ``parse`` the whole text, stream complete items.

    Subclasses implement ``parse`` and ``_split(buffer, final)``, which returns the
    complete items at the start of the buffer and how much of it they used.
    """

    def _split(self, buffer: str, final: bool) -> tuple[list[str], int]:
        raise UnsupportedError(f"{type(self).__name__} must implement _split().")

    async def _atransform(
        self, inputs: AsyncIterator[Any], ctx: Context
    ) -> AsyncIterator[list[str]]:
        buffer = ""
        try:
            async for chunk in inputs:
                buffer += chunk if type(chunk) is str else text_of(chunk)
                items, used = self._split(buffer, final=False)
                if used:
                    buffer = buffer[used:]
                for item in items:
                    yield [item]
            items, _ = self._split(buffer, final=True)
            for item in items:
                yield [item]
        finally:
            aclose = getattr(inputs, "aclose", None)
            if aclose is not None:
                await aclose()


class CommaSeparatedListOutputParser(ListOutputParser):
    """Parse ``a, b, "c, d"`` into ``["a", "b", "c, d"]`` (CSV quoting is understood).

    >>> CommaSeparatedListOutputParser().invoke("red, green, blue")
    ['red', 'green', 'blue']
    """

    def get_format_instructions(self) -> str:
        """Ask the model for comma-separated values."""
        return (
            "Your response should be a list of comma separated values, "
            "eg: `foo, bar, baz` or `foo,bar,baz`"
        )

    def parse(self, text: str) -> list[str]:
        """Split the whole text into items."""
        try:
            reader = csv.reader(StringIO(text), quotechar='"', delimiter=",", skipinitialspace=True)
            return [item for row in reader for item in row]
        except csv.Error:
            return [part.strip() for part in text.split(",")]

    def _split(self, buffer: str, final: bool) -> tuple[list[str], int]:
        if final:
            return (self.parse(buffer) if buffer.strip() else []), len(buffer)
        # Items end at the last comma outside double quotes; the text after it may go on.
        end = -1
        quoted = False
        for i, c in enumerate(buffer):
            if c == '"':
                quoted = not quoted
            elif c == "," and not quoted:
                end = i
        if end < 0:
            return [], 0
        return self.parse(buffer[:end]), end + 1


class _LineListOutputParser(ListOutputParser):
    pattern: str = ""
    """The regular expression of one item (its first group is the item's text)."""

    def parse(self, text: str) -> list[str]:
        """The items of the list in the whole text."""
        return re.findall(self.pattern, text, re.MULTILINE)

    def parse_iter(self, text: str) -> Iterator[re.Match[str]]:
        """The item matches in ``text``."""
        return re.finditer(self.pattern, text, re.MULTILINE)

    def _split(self, buffer: str, final: bool) -> tuple[list[str], int]:
        # An item is complete once its line is: the text after the last newline may go on.
        end = len(buffer) if final else buffer.rfind("\n") + 1
        if end <= 0:
            return [], 0
        return self.parse(buffer[:end]), end


class NumberedListOutputParser(_LineListOutputParser):
    """Parse ``1. a`` / ``2. b`` lines into ``["a", "b"]``."""

    pattern: str = r"\d+\.\s([^\n]+)"

    def get_format_instructions(self) -> str:
        """Ask the model for a numbered list."""
        return (
            "Your response should be a numbered list with each item on a new line. "
            "For example: \n\n1. foo\n\n2. bar\n\n3. baz"
        )


class MarkdownListOutputParser(_LineListOutputParser):
    """Parse ``- a`` / ``* b`` lines into ``["a", "b"]``."""

    pattern: str = r"^\s*[-*]\s([^\n]+)$"

    def get_format_instructions(self) -> str:
        """Ask the model for a markdown list."""
        return "Your response should be a markdown list, eg: `- foo\n- bar\n- baz`"
