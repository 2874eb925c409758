"""Reading a function's source: lambda text, the outer values it reads, ``deps``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from runnables import RunnableLambda
from runnables.core.introspection import (
    get_function_nonlocals,
    get_lambda_source,
    indent_lines_after_first,
)

module_step = RunnableLambda[str, str](lambda x: x * 3)


@pytest.mark.parametrize(
    ("func", "expected"),
    [
        (lambda x: x * 2, "lambda x: x * 2"),
        (lambda a, b: a + b, "lambda a, b: a + b"),
    ],
)
def test_get_lambda_source_returns_the_lambda_text(func: Callable[..., Any], expected: str) -> None:
    assert get_lambda_source(func) == expected


def test_get_lambda_source_falls_back_to_the_name() -> None:
    def named(x: int) -> int:
        return x

    assert get_lambda_source(named) == "named"
    assert get_lambda_source(len) == "len"  # a builtin has no source


def test_indent_lines_after_first_indents_by_prefix_length() -> None:
    assert indent_lines_after_first("a\nb\nc", "ab") == "a\n  b\n  c"


def test_nonlocals_and_deps_list_runnables_the_function_calls() -> None:
    agent = RunnableLambda[str, str](lambda x: x * 2)

    def shadowed(value: str, agent: dict[str, str]) -> str:
        return agent.get("name", value)

    def calls_closure(value: str) -> str:
        return agent.invoke(value)

    def calls_global(value: str) -> str:
        return module_step.invoke(value)

    assert get_function_nonlocals(shadowed) == []
    assert get_function_nonlocals(calls_closure) == [agent.invoke]
    assert RunnableLambda(calls_closure).deps == [agent]
    assert RunnableLambda(calls_global).deps == [module_step]
    # shadowed's second parameter is not a config: a wrong step, on purpose, to inspect.
    assert RunnableLambda(shadowed).deps == []  # type: ignore[arg-type]
