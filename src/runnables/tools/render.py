"""Tools described as plain text, for prompts of models without native tool calling."""

from __future__ import annotations

from collections.abc import Callable
from inspect import signature

from runnables.tools.base import BaseTool

__all__ = ["ToolsRenderer", "render_text_description", "render_text_description_and_args"]

ToolsRenderer = Callable[[list[BaseTool]], str]
"""A function that renders a list of tools as text."""


def _describe(tool: BaseTool) -> str:
    func = getattr(tool, "func", None)
    if func:
        return f"{tool.name}{signature(func)} - {tool.description}"
    return f"{tool.name} - {tool.description}"


def render_text_description(tools: list[BaseTool]) -> str:
    """One line per tool: ``name(signature) - description`` (the signature when the
    tool wraps a function)."""
    return "\n".join(_describe(t) for t in tools)


def render_text_description_and_args(tools: list[BaseTool]) -> str:
    """As :func:`render_text_description`, each line followed by ``, args: {...}``
    (the JSON schema properties of the tool's arguments)."""
    return "\n".join(f"{_describe(t)}, args: {t.args}" for t in tools)
