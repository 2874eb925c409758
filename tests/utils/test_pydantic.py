"""runnables.utils.pydantic: langchain-core's pydantic helpers for v2 models."""

from __future__ import annotations

import pydantic.v1
import pytest
from pydantic import BaseModel

from runnables import RunnableLambda, RunnableParallel
from runnables.tools import tool
from runnables.utils.pydantic import model_json_schema, model_validate


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


def test_model_validate_validates_against_a_runnables_input_schema() -> None:
    # langchain-core's helper: validate a value as a runnable's input schema.
    assert model_validate(Args, {"query": "cats"}) == Args(query="cats")
    parallel = RunnableParallel(a=RunnableLambda(lambda d: d["x"]))
    validated = model_validate(parallel.get_input_schema(), {"x": 1})
    assert type(validated).__name__ == "RunnableParallel<a>Input"
    assert validated.model_dump() == {"x": 1}
    with pytest.raises(ValueError, match="query"):
        model_validate(Args, {})


def test_model_validate_names_a_v1_model_and_the_fix() -> None:
    class Old(pydantic.v1.BaseModel):
        query: str

    with pytest.raises(TypeError, match=r"Old.*pydantic v1 models.*pydantic.BaseModel"):
        model_validate(Old, {"query": "q"})  # type: ignore[arg-type]
