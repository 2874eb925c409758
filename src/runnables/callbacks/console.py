"""``ConsoleCallbackHandler``: every run of a call, as it starts and ends, on the console.

langchain-core ships it with its tracers (``langchain_core.tracers.ConsoleCallbackHandler``,
also what ``set_debug(True)`` turns on); here it is an ordinary callback handler:

    chain.invoke(x, {"callbacks": [ConsoleCallbackHandler()]})

Each line names the run's kind and its place in the call
(``[chain/start] [chain:RunnableSequence > prompt:ChatPromptTemplate]``), then what it
received or returned as JSON; an end line also says how long the run took.
"""

from __future__ import annotations

import json
import sys
import time
from typing import IO, Any
from uuid import UUID

from runnables.callbacks.base import BaseCallbackHandler

__all__ = ["ConsoleCallbackHandler"]

_COLORS = {"start": "\033[32;1m", "end": "\033[36;1m", "error": "\033[31;1m"}
_RESET = "\033[0m"


def _json(value: Any) -> str:
    try:
        return json.dumps(value, indent=2, ensure_ascii=False, default=_fallback)
    except (TypeError, ValueError):
        return repr(value)


def _fallback(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)
    return dump() if callable(dump) else repr(value)


class ConsoleCallbackHandler(BaseCallbackHandler):
    """Prints each run's start (with its input), end (with its output and duration) and
    error, indented under its parent run, to ``file`` (standard output by default)."""

    name = "console_callback_handler"

    def __init__(self, file: IO[str] | None = None, *, color: bool | None = None) -> None:
        self.file = file
        self.color = color
        # run id -> (breadcrumb, start time); a run's children extend its breadcrumb.
        self._runs: dict[UUID, tuple[str, float]] = {}

    # ------------------------------------------------------------------ printing

    def _print(self, kind: str, event: str, crumb: str, text: str) -> None:
        out = self.file if self.file is not None else sys.stdout
        color = self.color if self.color is not None else out.isatty()
        tag = f"[{kind}/{event}]"
        if color:
            tag = f"{_COLORS[event]}{tag}{_RESET}"
        print(f"{tag} [{crumb}] {text}", file=out)

    def _started(
        self, kind: str, name: str, run_id: UUID, parent_run_id: UUID | None, what: str
    ) -> None:
        parent = self._runs.get(parent_run_id) if parent_run_id is not None else None
        crumb = f"{parent[0]} > {kind}:{name}" if parent else f"{kind}:{name}"
        self._runs[run_id] = (crumb, time.perf_counter())
        self._print(kind, "start", crumb, what)

    def _ended(self, kind: str, run_id: UUID, what: str, *, error: bool = False) -> None:
        crumb, started = self._runs.pop(run_id, (f"{kind}:?", time.perf_counter()))
        took = f"[{(time.perf_counter() - started) * 1000:.0f}ms]"
        self._print(kind, "error" if error else "end", crumb, f"{took} {what}")

    @staticmethod
    def _name(serialized: dict[str, Any] | None, kwargs: dict[str, Any], default: str) -> str:
        if kwargs.get("name"):
            return str(kwargs["name"])
        if serialized and serialized.get("name"):
            return str(serialized["name"])
        return default

    # ------------------------------------------------------------------ runs

    def on_chain_start(
        self,
        serialized: dict[str, Any] | None,
        inputs: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        """A chain run began: print its input."""
        name = self._name(serialized, kwargs, "chain")
        self._started(
            "chain", name, run_id, parent_run_id, f"Entering with input:\n{_json(inputs)}"
        )

    def on_chain_end(self, outputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        """A chain run ended: print its output."""
        self._ended("chain", run_id, f"Exiting with output:\n{_json(outputs)}")

    def on_chain_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        """A chain run raised: print the error."""
        self._ended("chain", run_id, f"Failed with error: {error!r}", error=True)

    def on_chat_model_start(
        self,
        serialized: dict[str, Any],
        messages: list[list[Any]],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        """A chat-model run began: print the messages it was given."""
        name = self._name(serialized, kwargs, "chat_model")
        self._started(
            "llm", name, run_id, parent_run_id, f"Entering with messages:\n{_json(messages)}"
        )

    def on_llm_start(
        self,
        serialized: dict[str, Any],
        prompts: list[str],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        """A model run began with string prompts: print them."""
        name = self._name(serialized, kwargs, "llm")
        self._started(
            "llm", name, run_id, parent_run_id, f"Entering with prompts:\n{_json(prompts)}"
        )

    def on_llm_end(self, response: Any, *, run_id: UUID, **kwargs: Any) -> None:
        """A model run ended: print its result."""
        self._ended("llm", run_id, f"Exiting with result:\n{_json(response)}")

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        """A model run raised: print the error."""
        self._ended("llm", run_id, f"Failed with error: {error!r}", error=True)

    def on_tool_start(
        self,
        serialized: dict[str, Any],
        input_str: str,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        """A tool run began: print its input."""
        name = self._name(serialized, kwargs, "tool")
        self._started("tool", name, run_id, parent_run_id, f'Entering with input:\n"{input_str}"')

    def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> None:
        """A tool run ended: print its output."""
        self._ended("tool", run_id, f"Exiting with output:\n{_json(output)}")

    def on_tool_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        """A tool run raised: print the error."""
        self._ended("tool", run_id, f"Failed with error: {error!r}", error=True)

    def on_retriever_start(
        self,
        serialized: dict[str, Any],
        query: str,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        """A retriever run began: print the query."""
        name = self._name(serialized, kwargs, "retriever")
        self._started("retriever", name, run_id, parent_run_id, f"Entering with query: {query!r}")

    def on_retriever_end(self, documents: Any, *, run_id: UUID, **kwargs: Any) -> None:
        """A retriever run ended: print the documents."""
        self._ended("retriever", run_id, f"Exiting with documents:\n{_json(documents)}")

    def on_retriever_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        """A retriever run raised: print the error."""
        self._ended("retriever", run_id, f"Failed with error: {error!r}", error=True)
