"""Output parsers: turn a model's output into text, JSON, pydantic models or lists."""

from runnables.output_parsers.base import (
    BaseGenerationOutputParser,
    BaseOutputParser,
    BaseTransformOutputParser,
    OutputParserException,
)
from runnables.output_parsers.json import JsonOutputParser, SimpleJsonOutputParser
from runnables.output_parsers.list import (
    CommaSeparatedListOutputParser,
    ListOutputParser,
    MarkdownListOutputParser,
    NumberedListOutputParser,
)
from runnables.output_parsers.openai_tools import (
    JsonOutputKeyToolsParser,
    JsonOutputToolsParser,
    PydanticToolsParser,
)
from runnables.output_parsers.partial_json import (
    PartialJsonParser,
    parse_json,
    parse_partial_json,
)
from runnables.output_parsers.pydantic import PydanticOutputParser
from runnables.output_parsers.string import StrOutputParser
from runnables.output_parsers.xml import XMLOutputParser

__all__ = [
    "BaseGenerationOutputParser",
    "BaseOutputParser",
    "BaseTransformOutputParser",
    "CommaSeparatedListOutputParser",
    "JsonOutputKeyToolsParser",
    "JsonOutputParser",
    "JsonOutputToolsParser",
    "ListOutputParser",
    "MarkdownListOutputParser",
    "NumberedListOutputParser",
    "OutputParserException",
    "PartialJsonParser",
    "PydanticOutputParser",
    "PydanticToolsParser",
    "SimpleJsonOutputParser",
    "StrOutputParser",
    "XMLOutputParser",
    "parse_json",
    "parse_partial_json",
]
