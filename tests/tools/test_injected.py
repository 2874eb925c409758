"""Arguments a tool receives from the application, not from the model."""

from __future__ import annotations

from dataclasses import dataclass

from runnables.tools import tool
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
