"""Arguments a tool receives from the application, not from the model."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel

from runnables.callbacks import BaseCallbackHandler
from runnables.tools import InjectedToolArg, StructuredTool, tool
from runnables.tools.base import _DirectlyInjectedToolArg


@dataclass
class Runtime(_DirectlyInjectedToolArg):
    user: str


@tool
def whoami(greeting: str, runtime: Runtime) -> str:
    """Greet the user the application says is calling."""
    return f"{greeting}, {runtime.user}"


def test_directly_injected_type_is_hidden_from_the_model_and_passed_to_the_tool() -> None:
    schema = whoami.tool_call_schema
    assert not isinstance(schema, dict)
    assert list(schema.model_json_schema()["properties"]) == ["greeting"]
    assert whoami.invoke({"greeting": "hi", "runtime": Runtime("ann")}) == "hi, ann"


def test_injected_keys_come_from_the_signature_even_with_postponed_annotations() -> None:
    # Under ``from __future__ import annotations`` (this module) every annotation is a
    # string; one that resolves nowhere must not hide its injected sibling.
    def lookup(query: NotDefinedAnywhere, runtime: Runtime) -> str:  # type: ignore[name-defined]  # noqa: F821
        return f"{query} for {runtime.user}"

    class Args(BaseModel):
        query: str

    t = StructuredTool.from_function(lookup, description="Look up.", args_schema=Args)
    assert t._injected_args_keys == frozenset({"runtime"})
    assert t.invoke({"query": "q", "runtime": Runtime("bo")}) == "q for bo"


def test_argument_bound_by_a_partial_is_not_injected() -> None:
    def add(x: int, runtime: Runtime, y: int) -> int:
        return x + y

    class Args(BaseModel):
        y: int

    t = StructuredTool.from_function(
        functools.partial(add, 1, Runtime("bo")), name="add", description="Add.", args_schema=Args
    )
    assert t._injected_args_keys == frozenset()
    assert t.invoke({"y": 2}) == 3


def test_handlers_do_not_see_injected_arguments() -> None:
    class Starts(BaseCallbackHandler):
        def __init__(self) -> None:
            self.inputs: list[Any] = []

        def on_tool_start(self, serialized: Any, input_str: str, **kw: Any) -> None:
            self.inputs.append((input_str, kw.get("inputs")))

    class Args(BaseModel):
        query: str

    def search(query: str, state: Annotated[dict[str, int], InjectedToolArg()]) -> str:
        """Search."""
        return query

    def ranked(query: str, runtime: Runtime) -> str:
        """Search with a runtime the schema does not declare."""
        return query

    inferred = tool(search)
    custom = StructuredTool.from_function(ranked, args_schema=Args)
    handler = Starts()
    config: Any = {"callbacks": [handler]}
    assert inferred.invoke({"query": "q", "state": {"user": 1}}, config) == "q"
    call = {"name": "search", "args": {"query": "q", "state": {}}, "id": "c", "type": "tool_call"}
    inferred.invoke(call, config)
    assert custom.invoke({"query": "q", "runtime": Runtime("ann")}, config) == "q"
    assert handler.inputs == [("{'query': 'q'}", {"query": "q"})] * 3
