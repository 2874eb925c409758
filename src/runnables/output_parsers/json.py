"""``JsonOutputParser``: JSON from a model, streamed as partial objects while it arrives."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from runnables.core.config import Context
from runnables.output_parsers.base import BaseOutputParser, OutputParserException, text_of
from runnables.output_parsers.partial_json import PartialJsonParser, parse_json

__all__ = ["JsonOutputParser", "SimpleJsonOutputParser"]

_INSTRUCTIONS = """Answer with a single JSON value and nothing else: no explanation before or \
after it, no markdown code fence, no comments, no trailing commas.

The JSON must be an instance of this JSON schema:
{schema}

For example, for the schema {{"properties": {{"tags": {{"type": "array", "items": \
{{"type": "string"}}}}}}, "required": ["tags"]}} the answer {{"tags": ["a", "b"]}} is right, \
and {{"properties": {{"tags": ["a", "b"]}}}} is wrong: it repeats the schema's structure."""


class JsonOutputParser(BaseOutputParser[Any]):
    """Parse a model's output as JSON; streaming yields the partial value as it grows.

    Markdown code fences (```` ```json ````) and text before the JSON are skipped. While
    streaming, each time the value grows a new partial value is yielded: objects with the
    members so far, arrays with the items so far, strings with the text so far; numbers
    and ``true``/``false``/``null`` appear once complete. The text is read by an
    incremental parser, so streaming costs time linear in the length of the output.

    >>> JsonOutputParser().invoke('```json\\n{"city": "Paris"}\\n```')
    {'city': 'Paris'}

    ``pydantic_object`` (a pydantic model class) only shapes the format instructions,
    as in langchain-core; use :class:`PydanticOutputParser` to validate.

    Partial values share the members that are already complete, so treat them as
    read-only. For very large values, consecutive partial values are coalesced so that
    copying them costs at most ``snapshot_budget`` container entries per input character
    (the last value is always yielded).
    """

    #: Entries of open containers a partial value may copy per character of input.
    snapshot_budget: int = 64

    def __init__(
        self, pydantic_object: type[Any] | None = None, *, name: str | None = None
    ) -> None:
        self.pydantic_object = pydantic_object
        self.name = name

    def parse(self, text: str) -> Any:
        """Parse a complete JSON output (a truncated one gives what was there, like langchain)."""
        try:
            return parse_json(text.strip())
        except OutputParserException as exc:
            exc.llm_output = text
            raise

    def get_format_instructions(self) -> str:
        """Tell the model to answer with JSON (matching ``pydantic_object`` if set)."""
        if self.pydantic_object is None:
            return "Return a JSON object."
        schema = dict(self.pydantic_object.model_json_schema())
        schema.pop("title", None)
        schema.pop("type", None)
        return _INSTRUCTIONS.format(schema=json.dumps(schema, ensure_ascii=False))

    async def _ainvoke(self, input: Any, ctx: Context) -> Any:
        return self.parse(text_of(input))

    def _final(self, value: Any) -> Any:
        """The value yielded last (``PydanticOutputParser`` validates it)."""
        return value

    async def _atransform(self, inputs: AsyncIterator[Any], ctx: Context) -> AsyncIterator[Any]:
        parser = PartialJsonParser()
        feed = parser.feed
        budget = self.snapshot_budget
        since = 0  # characters read since the last partial value was yielded
        seen: list[str] = []
        try:
            try:
                async for chunk in inputs:
                    text = chunk if type(chunk) is str else text_of(chunk)
                    seen.append(text)
                    since += len(text)
                    if feed(text) and parser.snapshot_cost() <= since * budget:
                        since = 0
                        yield parser.snapshot()
                changed = parser.changed
                final = parser.finish()
                changed = changed or parser.changed
            except OutputParserException as exc:
                exc.llm_output = "".join(seen)
                raise
            if changed or self._always_yields_final:
                yield self._final(final)
        finally:
            aclose = getattr(inputs, "aclose", None)
            if aclose is not None:
                await aclose()

    #: Whether streaming always ends with the final value, even if it equals the last one.
    _always_yields_final = False

    def __repr__(self) -> str:
        if self.pydantic_object is None:
            return f"{type(self).__name__}()"
        return f"{type(self).__name__}(pydantic_object={self.pydantic_object.__name__})"


#: langchain-core's older name.
SimpleJsonOutputParser = JsonOutputParser
