"""Tool definitions from functions, pydantic models and JSON schemas."""

from __future__ import annotations

from typing import Annotated, NotRequired, TypedDict

import pytest
from pydantic import BaseModel, Field

from runnables.models import convert_to_json_schema, convert_to_openai_tool


def search(query: str, limit: int = 5) -> list[str]:
    """Search the web.

    Args:
        query: What to look for.
        limit: How many results.
    """
    return []


def test_a_typed_function_with_a_docstring_becomes_a_tool() -> None:
    tool = convert_to_openai_tool(search)
    fn = tool["function"]
    assert tool["type"] == "function"
    assert fn["name"] == "search"
    assert fn["description"] == "Search the web."
    props = fn["parameters"]["properties"]
    assert props["query"] == {"type": "string", "description": "What to look for."}
    assert props["limit"]["default"] == 5
    assert fn["parameters"]["required"] == ["query"]


class Weather(BaseModel):
    """Weather for a city."""

    city: str = Field(description="The city")
    days: int = 1


def test_a_pydantic_model_becomes_a_tool_named_after_the_class() -> None:
    fn = convert_to_openai_tool(Weather)["function"]
    assert fn["name"] == "Weather"
    assert fn["description"] == "Weather for a city."
    assert fn["parameters"]["properties"]["city"] == {"type": "string", "description": "The city"}


def test_json_schema_and_openai_dicts_are_accepted() -> None:
    schema = {"title": "pick", "description": "Pick one", "type": "object", "properties": {}}
    assert convert_to_openai_tool(schema)["function"]["name"] == "pick"
    already = convert_to_openai_tool(schema)
    assert convert_to_openai_tool(already) == already
    assert convert_to_json_schema(Weather)["title"] == "Weather"


def test_anything_else_is_an_error_saying_what_is_accepted() -> None:
    with pytest.raises(ValueError, match="needs a 'title'"):
        convert_to_openai_tool({"type": "object"})
    with pytest.raises(TypeError, match="typed Python function"):
        convert_to_openai_tool(42)


class _Person(TypedDict):
    """A person.

    Args:
        name: their name
    """

    name: str
    age: Annotated[int, ..., "years old"]
    nick: Annotated[str, "x", "nickname"]


class _Team(TypedDict):
    """A team."""

    lead: _Person
    size: int


def test_a_typed_dict_becomes_the_same_tool_as_in_langchain_core() -> None:
    from langchain_core.utils.function_calling import convert_to_openai_tool as theirs

    assert convert_to_openai_tool(_Person) == theirs(_Person)


def test_a_nested_typed_dict_becomes_a_nested_object_schema() -> None:
    fn = convert_to_openai_tool(_Team)["function"]
    assert fn["name"] == "_Team" and fn["description"] == "A team."
    params = fn["parameters"]
    assert params["required"] == ["lead", "size"]
    lead = params["$defs"]["_Person"]
    assert lead["required"] == ["name", "age"]
    assert lead["properties"]["age"]["description"] == "years old"


def test_typed_dict_keys_marked_not_required_are_left_out_of_required() -> None:
    class Options(TypedDict):
        a: int
        b: NotRequired[str]

    fn = convert_to_openai_tool(Options)["function"]
    assert fn["parameters"]["required"] == ["a"]
    assert fn["parameters"]["properties"]["b"]["type"] == "string"
    assert "description" not in fn  # not dict's docstring


def test_a_typed_dict_description_annotation_must_be_a_string() -> None:
    class Bad(TypedDict):
        a: Annotated[int, ..., 42]

    with pytest.raises(ValueError, match="must be a string description"):
        convert_to_openai_tool(Bad)
