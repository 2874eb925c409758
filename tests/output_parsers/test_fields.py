"""Output parsers are pydantic models, as langchain-core 1.8.3's are: a subclass's
declared fields and the built-in parsers' settings are constructor keywords, validated,
compared by ``==``, copied by ``model_copy`` and configurable per call."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, Field, ValidationError, field_validator

from runnables import ConfigurableField
from runnables.errors import ConfigError
from runnables.output_parsers import (
    BaseGenerationOutputParser,
    BaseOutputParser,
    BaseTransformOutputParser,
    CommaSeparatedListOutputParser,
    JsonOutputKeyToolsParser,
    JsonOutputParser,
    JsonOutputToolsParser,
    NumberedListOutputParser,
    PydanticOutputParser,
    PydanticToolsParser,
    StrOutputParser,
    XMLOutputParser,
)


class Movie(BaseModel):
    title: str


class Prefixed(BaseTransformOutputParser[str]):
    prefix: str = ">"
    upper: bool = Field(default=False)

    @field_validator("prefix")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value:
            raise ValueError("prefix must not be empty")
        return value

    def parse(self, text: str) -> str:
        return self.prefix + (text.upper() if self.upper else text)


def test_a_subclass_takes_its_declared_fields_as_keywords() -> None:
    class P(BaseOutputParser[str]):
        prefix: str

        def parse(self, text: str) -> str:
            return self.prefix + text

    assert P(prefix="x").invoke("y") == "xy"
    assert list(P.model_fields) == ["name", "prefix"]
    assert Prefixed().invoke("a") == ">a"
    assert Prefixed(prefix="#", upper=True).invoke("a") == "#A"
    assert list(Prefixed().stream("ab")) == [">ab"]


def test_a_bad_or_missing_value_is_a_validation_error_naming_the_field() -> None:
    with pytest.raises(ValidationError, match="prefix"):
        Prefixed(prefix="")
    with pytest.raises(ValueError, match="upper"):
        Prefixed(upper="maybe")

    class Needs(BaseOutputParser[str]):
        prefix: str

        def parse(self, text: str) -> str:
            return text

    with pytest.raises(ValidationError, match="prefix"):
        Needs()


def test_equal_parsers_are_equal_and_different_ones_are_not() -> None:
    assert Prefixed() == Prefixed()
    assert Prefixed(prefix="#") != Prefixed()
    assert StrOutputParser() == StrOutputParser()
    assert CommaSeparatedListOutputParser() == CommaSeparatedListOutputParser()
    assert CommaSeparatedListOutputParser() != NumberedListOutputParser()  # type: ignore[comparison-overlap]
    assert JsonOutputParser(pydantic_object=Movie) == JsonOutputParser(pydantic_object=Movie)
    assert JsonOutputParser(diff=True) != JsonOutputParser()
    assert PydanticOutputParser(pydantic_object=Movie) == PydanticOutputParser(
        pydantic_object=Movie
    )
    assert JsonOutputKeyToolsParser(key_name="a") == JsonOutputKeyToolsParser(key_name="a")
    assert JsonOutputKeyToolsParser(key_name="a") != JsonOutputKeyToolsParser(key_name="b")


def test_builtin_parsers_settings_are_fields() -> None:
    assert list(JsonOutputParser.model_fields) == ["name", "pydantic_object", "diff"]
    assert {"pydantic_object", "diff"} <= set(PydanticOutputParser.model_fields)
    assert list(XMLOutputParser.model_fields) == ["name", "tags", "encoding_matcher", "parser"]
    assert list(JsonOutputKeyToolsParser.model_fields) == [
        "name",
        "strict",
        "return_id",
        "first_tool_only",
        "key_name",
    ]
    assert "tools" in PydanticToolsParser.model_fields
    assert NumberedListOutputParser().pattern == r"\d+\.\s([^\n]+)"
    assert NumberedListOutputParser(pattern=r"(\w+);").invoke("a; b;") == ["a", "b"]


def test_builtin_parsers_validate_their_settings() -> None:
    with pytest.raises(ValidationError, match="parser"):
        XMLOutputParser(parser="lxml")
    with pytest.raises(ValidationError, match="first_tool_only"):
        JsonOutputToolsParser(first_tool_only="maybe")
    with pytest.raises(ValidationError, match="key_name"):
        JsonOutputKeyToolsParser()
    with pytest.raises(ValidationError, match="pydantic_object"):
        PydanticOutputParser()


def test_model_copy_updates_a_parsers_settings() -> None:
    parser: PydanticOutputParser[Movie] = PydanticOutputParser(pydantic_object=Movie)
    diffing = parser.model_copy(update={"diff": True})
    assert diffing.diff is True and parser.diff is False
    key = JsonOutputKeyToolsParser(key_name="a").model_copy(update={"first_tool_only": True})
    assert key.first_tool_only is True and key.key_name == "a"


def test_repr_is_langchain_cores() -> None:
    assert repr(StrOutputParser()) == "StrOutputParser()"
    assert repr(JsonOutputParser()) == "JsonOutputParser()"
    assert repr(JsonOutputParser(pydantic_object=Movie)) == (
        f"JsonOutputParser(pydantic_object={Movie!r})"
    )
    assert repr(XMLOutputParser(tags=["a"])) == "XMLOutputParser(tags=['a'])"
    assert repr(JsonOutputKeyToolsParser(key_name="a", first_tool_only=True)) == (
        "JsonOutputKeyToolsParser(first_tool_only=True, key_name='a')"
    )
    assert repr(Prefixed(prefix="#")) == "Prefixed(prefix='#')"


def test_configurable_fields_on_a_parsers_own_field_take_effect_for_that_call() -> None:
    parser = Prefixed().configurable_fields(prefix=ConfigurableField(id="prefix"))
    assert parser.invoke("x", {"configurable": {"prefix": "#"}}) == "#x"
    assert parser.invoke("x") == ">x"
    with pytest.raises(ConfigError, match="prefix"):
        parser.invoke("x", {"configurable": {"prefix": ""}})
    json_diff = JsonOutputParser().configurable_fields(diff=ConfigurableField(id="diff"))
    ops: list[Any] = list(json_diff.stream('{"a": 1}', {"configurable": {"diff": True}}))
    assert ops == [[{"op": "replace", "path": "", "value": {"a": 1}}]]


def test_a_generation_parser_subclass_takes_fields() -> None:
    class Head(BaseGenerationOutputParser[str]):
        n: int

        def parse_result(self, result: list[Any], *, partial: bool = False) -> str:
            text: str = result[0].text
            return text[: self.n]

    assert Head(n=2).invoke("hello") == "he"
    assert Head(n=2) == Head(n=2)
    assert repr(Head(n=2)) == "Head(n=2)"
