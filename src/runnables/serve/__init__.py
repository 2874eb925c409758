"""Serving runnables over HTTP with FastAPI (the ``serve`` extra).

``add_routes(app, runnable, path="/chat")`` adds LangServe-compatible routes
(``invoke``, ``batch``, ``stream``, ``stream_events``, the schemas and the playground);
``add_openai_routes(app, runnable)`` serves a chat model or chain as OpenAI's
``/v1/chat/completions`` and ``/v1/models``.

Importing ``runnables`` never imports FastAPI; these names load it on first use and
raise :class:`~runnables.errors.MissingExtraError` (``pip install 'runnables[serve]'``)
when it is missing.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runnables.serve.openai_compat import add_openai_routes
    from runnables.serve.replay import RunStore
    from runnables.serve.routes import add_routes

__all__ = ["RunStore", "add_openai_routes", "add_routes"]

_LAZY = {
    "add_routes": "runnables.serve.routes",
    "add_openai_routes": "runnables.serve.openai_compat",
    "RunStore": "runnables.serve.replay",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'runnables.serve' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
