"""``JsonOutputParser``: JSON from a model, streamed as partial objects while it arrives."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any, ClassVar

from pydantic import SkipValidation

from runnables.core.config import Context
from runnables.output_parsers.base import BaseOutputParser, OutputParserException, text_of
from runnables.output_parsers.partial_json import PartialJsonParser, parse_json

__all__ = ["JsonOutputParser", "SimpleJsonOutputParser", "json_patch"]

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

    With ``diff=True`` streaming yields JSON Patch operations from each partial value to
    the next instead of the values (langchain-core's ``diff`` mode).

    Partial values share the members that are already complete, so treat them as
    read-only. For very large values, consecutive partial values are coalesced so that
    copying them costs at most ``snapshot_budget`` container entries per input character
    (the last value is always yielded).
    """

    #: Entries of open containers a partial value may copy per character of input.
    snapshot_budget: ClassVar[int] = 64

    # Not validated, as in langchain-core: a pydantic (or pydantic.v1) model class, used
    # only for the format instructions.
    pydantic_object: Annotated[type[Any] | None, SkipValidation()] = None
    """The pydantic model the JSON should match (shapes the format instructions)."""
    diff: bool = False
    """Stream JSON Patch operations from each partial value to the next."""

    def __init__(self, pydantic_object: type[Any] | None = None, /, **fields: Any) -> None:
        # The model class may also be given by position (runnables' older signature).
        if pydantic_object is not None:
            fields["pydantic_object"] = pydantic_object
        super().__init__(**fields)

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
        model = self.pydantic_object
        # A pydantic.v1 model (langchain-core accepts both) has ``schema()`` instead.
        dump = getattr(model, "model_json_schema", None) or model.schema
        schema = dict(dump())
        schema.pop("title", None)
        schema.pop("type", None)
        return _INSTRUCTIONS.format(schema=json.dumps(schema, ensure_ascii=False))

    async def _ainvoke(self, input: Any, ctx: Context) -> Any:
        return self.parse(text_of(input))

    def _final(self, value: Any) -> Any:
        """The value yielded last (``PydanticOutputParser`` validates it)."""
        return value

    def _atransform(self, inputs: AsyncIterator[Any], ctx: Context) -> AsyncIterator[Any]:
        # A plain function returning the stream, so the default path has no extra layer.
        values = self._values(inputs)
        return self._diffs(values) if self.diff else values

    async def _diffs(self, values: AsyncIterator[Any]) -> AsyncIterator[Any]:
        """JSON Patch operations (RFC 6902) from each streamed value to the next, as
        langchain-core's ``diff=True`` yields them (jsonpatch's ``make_patch`` order)."""
        previous: Any = None
        try:
            async for value in values:
                yield json_patch(previous, value)
                previous = copy.deepcopy(value)
        finally:
            await values.aclose()  # type: ignore[attr-defined]

    async def _values(self, inputs: AsyncIterator[Any]) -> AsyncIterator[Any]:
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
    _always_yields_final: ClassVar[bool] = False


def _pointer(path: str, key: Any) -> str:
    return f"{path}/{str(key).replace('~', '~0').replace('/', '~1')}"


def json_patch(src: Any, dst: Any, path: str = "") -> list[dict[str, Any]]:
    """The JSON Patch operations that turn ``src`` into ``dst`` (RFC 6902).

    Dicts and lists are compared member by member (removed keys, then added keys, then
    changed ones; list items by position, extra items added or removed at the end);
    anything else that differs is replaced. ``json_patch(None, v)`` replaces the root.
    """
    if isinstance(src, dict) and isinstance(dst, dict):
        ops: list[dict[str, Any]] = []
        for key in src.keys() - dst.keys():
            ops.append({"op": "remove", "path": _pointer(path, key)})
        for key in [k for k in dst if k not in src]:
            ops.append({"op": "add", "path": _pointer(path, key), "value": dst[key]})
        for key in [k for k in src if k in dst]:
            ops.extend(json_patch(src[key], dst[key], _pointer(path, key)))
        return ops
    if isinstance(src, list) and isinstance(dst, list):
        ops = []
        common = min(len(src), len(dst))
        for i in range(common):
            ops.extend(json_patch(src[i], dst[i], _pointer(path, i)))
        for _ in range(len(dst), len(src)):
            ops.append({"op": "remove", "path": _pointer(path, len(dst))})
        for i in range(len(src), len(dst)):
            ops.append({"op": "add", "path": _pointer(path, i), "value": dst[i]})
        return ops
    if src != dst or type(src) is not type(dst):
        return [{"op": "replace", "path": path, "value": dst}]
    return []


#: langchain-core's older name.
SimpleJsonOutputParser = JsonOutputParser
