"""Parsers written for langchain-core: overriding parse, parse_result, or the generation parser."""

from __future__ import annotations

from typing import Any

import pytest

from runnables.messages import AIMessage
from runnables.models import ChatGeneration, Generation, GenericFakeChatModel
from runnables.output_parsers import (
    BaseGenerationOutputParser,
    BaseOutputParser,
    BaseTransformOutputParser,
    OutputParserException,
)


class InvertCase(BaseGenerationOutputParser[str]):
    def parse_result(self, result: list[Any], *, partial: bool = False) -> str:
        generation = result[0]
        if not isinstance(generation, ChatGeneration):
            raise OutputParserException("This output parser only reads chat generations.")
        return str(generation.message.content).swapcase()


def test_a_generation_parser_gets_a_chat_generation_of_the_message() -> None:
    model = GenericFakeChatModel(messages=iter([AIMessage("hEllo")]))
    assert (model | InvertCase()).invoke("") == "HeLLO"


def test_a_transform_parser_overriding_parse_result_parses_each_chunk_through_it() -> None:
    class Upper(BaseTransformOutputParser[str]):
        def parse(self, text: str) -> str:
            raise NotImplementedError

        def parse_result(self, result: list[Any], *, partial: bool = False) -> str:
            return str(result[0].message.content).upper()

    model = GenericFakeChatModel(messages=iter([AIMessage("hello world")]))
    assert list((model | Upper()).stream("")) == ["HELLO", " ", "WORLD"]


def test_a_text_input_reaches_parse_result_as_a_generation() -> None:
    seen: list[Any] = []

    class Record(BaseOutputParser[str]):
        def parse_result(self, result: list[Any], *, partial: bool = False) -> str:
            seen.append(result)
            text: str = result[0].text
            return text

    assert Record().invoke("plain") == "plain"
    assert seen == [[Generation("plain")]]


def test_a_parser_overriding_only_parse_is_unchanged() -> None:
    class Rev(BaseOutputParser[str]):
        def parse(self, text: str) -> str:
            return text[::-1]

    assert Rev().invoke(AIMessage("abc")) == "cba"
    assert Rev._uses_parse_result is False


def test_asdict_and_deprecated_dict() -> None:
    from runnables.errors import LangChainDeprecationWarning
    from runnables.output_parsers import JsonOutputParser
    from runnables.output_parsers.base import BaseOutputParser

    class Upper(BaseOutputParser[str]):
        def parse(self, text: str) -> str:
            return text.upper()

    assert Upper().asdict() == {"name": None}  # as langchain-core: name is a field
    parser = JsonOutputParser()
    assert parser.asdict(exclude_none=True) == {"diff": False}
    assert parser.asdict(include={"diff", "name"}) == {"diff": False, "name": None}
    with pytest.warns(LangChainDeprecationWarning, match="asdict"):
        assert parser.dict(exclude_none=True) == {"diff": False}
    with pytest.raises(TypeError, match="by_alias"):
        parser.asdict(by_alias=True)
