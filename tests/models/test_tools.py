"""Tool definitions from functions, pydantic models and JSON schemas."""

from __future__ import annotations

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
