"""``StrOutputParser``: a model's output as plain text."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from runnables.core.config import Context
from runnables.output_parsers.base import BaseTransformOutputParser, text_of

__all__ = ["StrOutputParser"]


class StrOutputParser(BaseTransformOutputParser[str]):
    """The text of a model's output: a message's (or chunk's) text, or a string as is.

    It streams chunk by chunk with no buffering, so ``prompt | model | StrOutputParser()``
    streams tokens as the model produces them.

    >>> from runnables.messages import AIMessage
    >>> StrOutputParser().invoke(AIMessage("Hello!"))
    'Hello!'
    """

    def parse(self, text: str) -> str:
        """Return the text unchanged."""
        return text

    async def _ainvoke(self, input: Any, ctx: Context) -> str:
        return text_of(input)

    async def _atransform(self, inputs: AsyncIterator[Any], ctx: Context) -> AsyncIterator[str]:
        try:
            async for chunk in inputs:
                # The hot path of every token stream: a chunk's string content is its text.
                if type(chunk) is str:
                    yield chunk
                    continue
                content = getattr(chunk, "content", None)
                yield content if type(content) is str else text_of(chunk)
        finally:
            aclose = getattr(inputs, "aclose", None)
            if aclose is not None:
                await aclose()
