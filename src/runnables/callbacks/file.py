"""``FileCallbackHandler``: what ``StdOutCallbackHandler`` prints, written to a file."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Self, TextIO, cast

from runnables.callbacks.base import BaseCallbackHandler
from runnables.callbacks.stdout import _chain_name, print_text
from runnables.errors import StateError

__all__ = ["FileCallbackHandler"]

_WARNED = False


class FileCallbackHandler(BaseCallbackHandler):
    """Writes chain starts and ends, tool outputs and text to ``filename``.

    Use it as a context manager, which closes the file::

        with FileCallbackHandler("run.log") as handler:
            chain.invoke(x, {"callbacks": [handler]})
    """

    def __init__(self, filename: str, mode: str = "a", color: str | None = None) -> None:
        self.filename = filename
        self.mode = mode
        self.color = color
        self._file_opened_in_context = False
        self.file: TextIO = cast(TextIO, Path(filename).open(mode, encoding="utf-8"))  # noqa: SIM115

    def __enter__(self) -> Self:
        self._file_opened_in_context = True
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()

    def close(self) -> None:
        """Close the file (writing afterwards raises RuntimeError)."""
        file = getattr(self, "file", None)
        if file is not None and not file.closed:
            file.close()

    def _write(self, text: str, color: str | None = None, end: str = "") -> None:
        global _WARNED
        if not self._file_opened_in_context and not _WARNED:
            warnings.warn(
                "Using FileCallbackHandler without a context manager is deprecated. Use "
                "'with FileCallbackHandler(...) as handler:' instead.",
                PendingDeprecationWarning,
                stacklevel=3,
            )
            _WARNED = True
        if self.file.closed:
            raise StateError(
                f"FileCallbackHandler's file {self.filename!r} is closed. Use the handler as "
                "a context manager and pass it to calls made inside the with block."
            )
        print_text(text, file=self.file, color=color, end=end)

    def on_chain_start(self, serialized: dict[str, Any] | None, inputs: Any, **kwargs: Any) -> None:
        """Write the chain's name."""
        self._write(f"\n\n> Entering new {_chain_name(serialized, kwargs)} chain...", end="\n")

    def on_chain_end(self, outputs: Any, **kwargs: Any) -> None:
        """Write that the chain finished."""
        self._write("\n> Finished chain.", end="\n")

    def on_agent_action(self, action: Any, color: str | None = None, **kwargs: Any) -> Any:
        """Write the action's log."""
        self._write(action.log, color=color or self.color)

    def on_tool_end(
        self,
        output: Any,
        color: str | None = None,
        observation_prefix: str | None = None,
        llm_prefix: str | None = None,
        **kwargs: Any,
    ) -> None:
        """Write the tool's output (between the prefixes, when given)."""
        if observation_prefix is not None:
            self._write(f"\n{observation_prefix}")
        self._write(str(output))
        if llm_prefix is not None:
            self._write(f"\n{llm_prefix}")

    def on_text(self, text: str, color: str | None = None, end: str = "", **kwargs: Any) -> None:
        """Write the text."""
        self._write(text, color=color or self.color, end=end)

    def on_agent_finish(self, finish: Any, color: str | None = None, **kwargs: Any) -> None:
        """Write the agent's final log."""
        self._write(finish.log, color=color or self.color, end="\n")
