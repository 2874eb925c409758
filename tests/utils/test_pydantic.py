"""runnables.utils.pydantic: langchain-core's pydantic helpers for v2 models."""

from __future__ import annotations

import pydantic.v1
import pytest
from pydantic import BaseModel

from runnables.tools import tool
from runnables.utils.pydantic import model_json_schema


class Args(BaseModel):
    query: str


def test_model_json_schema_is_the_model_s_own_schema() -> None:
    assert model_json_schema(Args) == Args.model_json_schema()

    @tool
    def search(query: str, limit: int = 3) -> str:
        """Search."""
        return query

    schema = search.tool_call_schema
    assert not isinstance(schema, dict)
    assert list(model_json_schema(schema)["properties"]) == ["query", "limit"]


def test_model_json_schema_names_a_v1_model_and_the_fix() -> None:
    class Old(pydantic.v1.BaseModel):
        query: str

    with pytest.raises(TypeError, match=r"Old.*pydantic v1 models.*pydantic.BaseModel"):
        model_json_schema(Old)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="got 3"):
        model_json_schema(3)  # type: ignore[arg-type]
