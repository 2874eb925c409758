"""What a tool's schema looks like to a model, to JSON dumps and to pickle."""

from __future__ import annotations

import json
import pickle
from typing import Any

import pytest
from pydantic import BaseModel, Field
from pydantic.v1 import BaseModel as BaseModelV1

from runnables.tools import BaseTool, StructuredTool, convert_to_openai_tool, tool


class Query(BaseModel):
    query: str = Field(description="What to look up.")


class Lookup(BaseTool):
    name: str = "lookup"
    description: str = "Look something up."
    args_schema: type[BaseModel] = Query

    def _run(self, query: str) -> str:
        return query


def test_dict_schema_title_and_description_are_not_parameters() -> None:
    schema = {
        "type": "object",
        "title": "ignored",
        "properties": {"title": {"type": "string", "title": "T", "description": "The title."}},
        "description": "foo",
    }

    @tool(args_schema=schema)
    def save(**kwargs: Any) -> str:
        """Save an item."""
        return "ok"

    fn = convert_to_openai_tool(save)["function"]
    assert fn["description"] == "Save an item."
    assert fn["parameters"] == {
        "type": "object",
        "properties": {"title": {"type": "string", "description": "The title."}},
    }


def test_structured_tool_dumps_to_json() -> None:
    @tool
    def write(path: str, text: str) -> str:
        """Write text to a path."""
        return "ok"

    dumped = write.model_dump(mode="json")
    json.dumps(dumped)
    assert set(dumped["args_schema"]["properties"]) == {"path", "text"}
    assert "write" in dumped["func"]
    assert callable(write.model_dump()["func"])  # python mode keeps the objects
    plain = StructuredTool(name="d", description="d", func=len, args_schema={"type": "object"})
    assert plain.model_dump(mode="json")["args_schema"] == {"type": "object"}


def test_tool_pickles_after_its_tool_call_schema_was_built() -> None:
    t = Lookup()
    built = t.tool_call_schema
    restored = pickle.loads(pickle.dumps(t))
    assert not isinstance(restored.tool_call_schema, dict)
    assert restored.tool_call_schema.model_json_schema()["title"] == "lookup"
    assert t.tool_call_schema is built


def test_tool_call_schema_json_schema_is_computed_once() -> None:
    schema = Lookup().tool_call_schema
    assert not isinstance(schema, dict)
    assert schema.model_json_schema() is schema.model_json_schema()
    assert schema.model_json_schema(by_alias=False) is not schema.model_json_schema()


def test_tool_output_mixin_instances_pass_through_a_tool_call_unwrapped() -> None:
    from runnables.messages import ToolOutputMixin

    class Goto(ToolOutputMixin):
        def __init__(self, node: str) -> None:
            self.node = node

    @tool
    def jump(node: str) -> Goto:
        """Jump to a node."""
        return Goto(node)

    out = jump.invoke({"name": "jump", "args": {"node": "end"}, "id": "1", "type": "tool_call"})
    assert isinstance(out, Goto)
    assert out.node == "end"


def test_docstring_describing_an_unknown_argument_is_refused_with_langchain_core_text() -> None:
    import pytest

    def foo(bar: str) -> str:
        """The foo.

        Args:
            banana: The bar.
        """
        return bar

    with pytest.raises(ValueError, match="Arg banana in docstring not found in function signature"):
        tool(foo, parse_docstring=True)


def test_tool_without_schema_or_description_says_what_it_needs() -> None:
    import pytest

    def echo(text: str) -> str:
        return text

    with pytest.raises(ValueError, match="Function must have either a docstring or description"):
        tool(infer_schema=False)(echo)


def test_star_args_and_kwargs_are_optional_schema_fields_and_never_passed_by_default() -> None:
    @tool
    def f(a: int, *args: Any, **kwargs: Any) -> str:
        """Echo."""
        return f"{a} {args} {kwargs}"

    assert f.args["args"] == {"default": None, "items": {}, "title": "Args", "type": "array"}
    assert f.args["kwargs"]["type"] == "object"
    assert f.invoke({"a": 1}) == "1 () {}"

    class VarArgs(BaseTool):
        name: str = "v"
        description: str = "Var args."

        def _run(self, *args: Any, run_manager: Any = None, **kwargs: Any) -> str:
            return "foo"

    assert VarArgs().is_single_input


class Box(BaseModel):
    rows: list[UndefinedRow] = Field(default_factory=list)  # type: ignore[name-defined]  # noqa: F821


def test_unresolved_forward_reference_in_an_argument_fails_naming_it() -> None:
    import pytest
    from pydantic import PydanticUndefinedAnnotation

    @tool
    def pack(label: str, box: Box) -> str:
        """Pack a box."""
        return label

    with pytest.raises(PydanticUndefinedAnnotation, match="UndefinedRow"):
        convert_to_openai_tool(pack)


class _OldArgs(BaseModelV1):
    foo: str


class _NewArgs(BaseModel):
    bar: str


def _mixed(old: _OldArgs, new: _NewArgs) -> None:
    """Take both."""


def _only_old(old: _OldArgs) -> None:
    """Take the old one."""


@pytest.mark.parametrize("func", [_mixed, _only_old], ids=["mixed", "v1 only"])
def test_a_tool_with_a_pydantic_v1_model_argument_is_refused_when_made(func: Any) -> None:
    # langchain-core raises NotImplementedError for a function mixing v1 and v2 models;
    # runnables (v2 only) accepted either, then failed obscurely reading the schema.
    with pytest.raises(NotImplementedError, match=r"'old'.*pydantic v1 model _OldArgs"):
        tool(func)
