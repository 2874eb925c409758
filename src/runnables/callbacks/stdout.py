"""``StdOutCallbackHandler``: prints where chains start and end, as langchain-core's."""

from __future__ import annotations

from typing import IO, Any

from runnables.callbacks.base import BaseCallbackHandler
from runnables.errors import InvalidArgumentError

__all__ = ["StdOutCallbackHandler", "print_text"]

_COLORS = {"blue": "36;1", "yellow": "33;1", "pink": "38;5;200", "green": "32;1", "red": "31;1"}


def _colored(text: str, color: str) -> str:
    code = _COLORS.get(color)
    if code is None:
        raise InvalidArgumentError(
            f"Unknown text color {color!r}. Use one of {sorted(_COLORS)}, or None for no color."
        )
    return f"\u001b[{code}m\033[1;3m{text}\u001b[0m"


def print_text(
    text: str, color: str | None = None, end: str = "", file: IO[str] | None = None
) -> None:
    """Print ``text`` in ``color`` (blue, yellow, pink, green, red, or None) to ``file``."""
    print(_colored(text, color) if color else text, end=end, file=file)
    if file is not None:
        file.flush()


def _chain_name(serialized: dict[str, Any] | None, kwargs: dict[str, Any]) -> str:
    if kwargs.get("name"):
        return str(kwargs["name"])
    if serialized:
        return str(serialized.get("name", serialized.get("id", ["<unknown>"])[-1]))
    return "<unknown>"


class StdOutCallbackHandler(BaseCallbackHandler):
    """Prints "> Entering new X chain..." and "> Finished chain." around each chain run,
    a tool's output and text runs report (``color``: the default color of that text).

    >>> from runnables import RunnableLambda
    >>> RunnableLambda(lambda x: x, name="echo").invoke(1, {"callbacks": [StdOutCallbackHandler()]})
    <BLANKLINE>
    <BLANKLINE>
    \x1b[1m> Entering new echo chain...\x1b[0m
    <BLANKLINE>
    \x1b[1m> Finished chain.\x1b[0m
    1
    """

    def __init__(self, color: str | None = None) -> None:
        self.color = color

    def on_chain_start(self, serialized: dict[str, Any] | None, inputs: Any, **kwargs: Any) -> None:
        """Print the chain's name."""
        print(f"\n\n\033[1m> Entering new {_chain_name(serialized, kwargs)} chain...\033[0m")

    def on_chain_end(self, outputs: Any, **kwargs: Any) -> None:
        """Print that the chain finished."""
        print("\n\033[1m> Finished chain.\033[0m")

    def on_agent_action(self, action: Any, color: str | None = None, **kwargs: Any) -> Any:
        """Print the action's log."""
        print_text(action.log, color=color or self.color)

    def on_tool_end(
        self,
        output: Any,
        color: str | None = None,
        observation_prefix: str | None = None,
        llm_prefix: str | None = None,
        **kwargs: Any,
    ) -> None:
        """Print the tool's output (between the prefixes, when given)."""
        if observation_prefix is not None:
            print_text(f"\n{observation_prefix}")
        print_text(str(output), color=color or self.color)
        if llm_prefix is not None:
            print_text(f"\n{llm_prefix}")

    def on_text(self, text: str, color: str | None = None, end: str = "", **kwargs: Any) -> None:
        """Print the text."""
        print_text(text, color=color or self.color, end=end)

    def on_agent_finish(self, finish: Any, color: str | None = None, **kwargs: Any) -> None:
        """Print the agent's final log."""
        print_text(finish.log, color=color or self.color, end="\n")
