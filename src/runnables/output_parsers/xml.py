"""``XMLOutputParser``: a model's XML answer as nested dicts, streamed element by element.

``<movies><movie>Up</movie></movies>`` parses to ``{"movies": [{"movie": "Up"}]}``:
an element with text becomes ``{tag: text}``, one with children ``{tag: [child, ...]}``
(langchain-core's shape). Streaming yields, as each innermost element closes, its path
from the root: ``{"movies": [{"movie": "Up"}]}``; the chunks add up (``AddableDict``).

Model output is untrusted, so the default ``parser="defusedxml"`` refuses entity tricks
and needs the ``xml`` extra; ``parser="xml"`` uses the standard library's parser.
"""

from __future__ import annotations

import contextlib
import re
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Iterator
from typing import Any, Literal

from runnables.core._util import AddableDict
from runnables.core.config import Context
from runnables.errors import InvalidArgumentError, MissingExtraError
from runnables.output_parsers.base import BaseOutputParser, OutputParserException, text_of

__all__ = ["XMLOutputParser"]

XML_FORMAT_INSTRUCTIONS = """The output should be formatted as a XML file.
1. Output should conform to the tags below.
2. If tags are not given, make them on your own.
3. Remember to always open and close all the tags.

As an example, for the tags ["foo", "bar", "baz"]:
1. String "<foo>\n   <bar>\n      <baz></baz>\n   </bar>\n</foo>" is a well-formatted instance of the schema.
2. String "<foo>\n   <bar>\n   </foo>" is a badly-formatted instance.
3. String "<foo>\n   <tag>\n   </tag>\n</foo>" is a badly-formatted instance.

Here are the output tags:
```
{tags}
```"""  # noqa: E501

_XML_START = re.compile(r"<[a-zA-Z:_]")
_FENCE = re.compile(r"```(xml)?(.*)```", re.DOTALL)
_ENCODING = re.compile(r"<([^>]*encoding[^>]*)>\n(.*)", re.MULTILINE | re.DOTALL)


def _defused() -> Any:
    try:
        from defusedxml import ElementTree  # type: ignore[import-untyped]
    except ImportError:
        raise MissingExtraError(
            "XMLOutputParser (parser='defusedxml')", "xml", "defusedxml"
        ) from None
    return ElementTree


def _nested(path: list[str], elem: ET.Element) -> AddableDict:
    if not path:
        return AddableDict({elem.tag: elem.text})
    return AddableDict({path[0]: [_nested(path[1:], elem)]})


class _StreamingParser:
    """Feeds text to a pull parser and yields each innermost element as it closes."""

    def __init__(self, parser: str) -> None:
        target = None
        if parser == "defusedxml":
            from defusedxml.ElementTree import XMLParser  # type: ignore[import-untyped]

            _defused()
            target = XMLParser(target=ET.TreeBuilder())
        self.pull = ET.XMLPullParser(["start", "end"], _parser=target)  # type: ignore[call-arg]
        self.path: list[str] = []
        self.has_children = False
        self.buffer = ""
        self.started = False

    def feed(self, text: str) -> Iterator[AddableDict]:
        self.buffer += text
        if not self.started:
            match = _XML_START.search(self.buffer)
            if match is None:
                return
            self.buffer = self.buffer[match.start() :]
            self.started = True
        self.pull.feed(self.buffer)
        self.buffer = ""
        try:
            for event, elem in self.pull.read_events():  # type: ignore[misc]
                if event == "start":
                    self.path.append(elem.tag)  # type: ignore[union-attr]
                    self.has_children = False
                elif event == "end":
                    self.path.pop()
                    if not self.has_children:
                        yield _nested(self.path, elem)  # type: ignore[arg-type]
                    if self.path:
                        self.has_children = True
                    else:
                        self.started = False
        except ET.ParseError:
            if self.path:
                raise
            # Text after the root element closed (a model's trailing remark): ignored.

    def close(self) -> None:
        with contextlib.suppress(ET.ParseError):
            self.pull.close()


class XMLOutputParser(BaseOutputParser[dict[str, Any]]):
    """Parse a model's XML answer into nested dicts (see the module docstring).

    >>> XMLOutputParser(parser="xml").invoke("<movies><movie>Up</movie></movies>")
    {'movies': [{'movie': 'Up'}]}
    """

    def __init__(
        self,
        tags: list[str] | None = None,
        *,
        parser: Literal["defusedxml", "xml"] = "defusedxml",
        name: str | None = None,
    ) -> None:
        if parser not in ("defusedxml", "xml"):
            raise InvalidArgumentError(
                f"XMLOutputParser's parser must be 'defusedxml' or 'xml', got {parser!r}."
            )
        self.tags = tags
        self.parser = parser
        self.name = name
        self.encoding_matcher = _ENCODING

    def get_format_instructions(self) -> str:
        """Tell the model to answer in XML with these tags (langchain-core's text)."""
        return XML_FORMAT_INSTRUCTIONS.format(tags=self.tags)

    def parse(self, text: str) -> dict[str, Any]:
        """Parse a complete XML answer (a ```` ```xml ```` fence and a declaration are skipped)."""
        et: Any = _defused() if self.parser == "defusedxml" else ET
        fenced = _FENCE.search(text)
        if fenced is not None:
            text = fenced.group(2)
        declared = self.encoding_matcher.search(text)
        if declared is not None:
            text = declared.group(2)
        text = text.strip()
        try:
            root = et.fromstring(text)
        except ET.ParseError as exc:
            raise OutputParserException(
                f"Failed to parse XML format from completion {text}. Got: {exc}",
                llm_output=text,
            ) from exc
        return self._root_to_dict(root)

    def _root_to_dict(self, root: ET.Element) -> dict[str, Any]:
        if root.text and re.search(r"\S", root.text):
            return {root.tag: root.text}
        children: list[Any] = []
        for child in root:
            if len(child) == 0:
                children.append({child.tag: child.text})
            else:
                children.append(self._root_to_dict(child))
        return {root.tag: children}

    async def _atransform(
        self, inputs: AsyncIterator[Any], ctx: Context
    ) -> AsyncIterator[dict[str, Any]]:
        streaming = _StreamingParser(self.parser)
        try:
            async for chunk in inputs:
                if not isinstance(chunk, str):
                    content = getattr(chunk, "content", None)
                    if not isinstance(content, str):
                        continue  # langchain-core skips non-text chunks too
                    chunk = text_of(chunk)
                for out in streaming.feed(chunk):
                    yield out
            streaming.close()
        finally:
            aclose = getattr(inputs, "aclose", None)
            if aclose is not None:
                await aclose()

    @property
    def _type(self) -> str:
        return "xml"
