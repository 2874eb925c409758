"""Token usage added up per model, over every chat-model run a handler sees."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

from runnables.callbacks.base import BaseCallbackHandler
from runnables.messages.base import UsageMetadata

__all__ = ["UsageMetadataCallbackHandler", "get_usage_metadata_callback"]


def _add(left: Any, right: Any) -> Any:
    """Two usage records added key by key (nested token details too)."""
    out = dict(left)
    for key, value in right.items():
        if isinstance(value, dict):
            out[key] = _add(out.get(key) or {}, value)
        elif isinstance(value, (int, float)):
            out[key] = out.get(key, 0) + value
        else:
            out.setdefault(key, value)
    return out


class UsageMetadataCallbackHandler(BaseCallbackHandler):
    """Adds up the ``usage_metadata`` of every chat-model response it sees, per model
    (the response's ``response_metadata["model_name"]``), in ``usage_metadata``.

    >>> handler = UsageMetadataCallbackHandler()
    >>> # model.invoke("hi", {"callbacks": [handler]}); handler.usage_metadata
    >>> handler.usage_metadata
    {}
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.usage_metadata: dict[str, UsageMetadata] = {}

    def __repr__(self) -> str:
        return str(self.usage_metadata)

    def on_llm_end(self, response: Any, **kwargs: Any) -> None:
        """Add the response's usage to its model's total."""
        try:
            message = response.generations[0][0].message
        except (AttributeError, IndexError, TypeError):
            return
        usage = getattr(message, "usage_metadata", None)
        model_name = (getattr(message, "response_metadata", None) or {}).get("model_name")
        if not usage or not model_name:
            return
        with self._lock:
            if model_name in self.usage_metadata:
                usage = _add(self.usage_metadata[model_name], usage)
            self.usage_metadata[model_name] = cast(UsageMetadata, usage)


@contextmanager
def get_usage_metadata_callback(
    name: str = "usage_metadata_callback",
) -> Iterator[UsageMetadataCallbackHandler]:
    """A :class:`UsageMetadataCallbackHandler` that sees every call made in the block,
    without passing it in each call's config (``name`` is accepted for langchain-core
    compatibility).

    >>> with get_usage_metadata_callback() as cb:
    ...     pass  # model.invoke("hi"); cb.usage_metadata == {"gpt-4o": {...}}
    >>> cb.usage_metadata
    {}
    """
    from runnables.core.config import CURRENT, Context
    from runnables.core.tracing import tracers_for

    handler = UsageMetadataCallbackHandler()
    current = CURRENT.get()
    # The calls in the block find this context as their enclosing one, as calls made
    # while OpenTelemetry is on find its tracers (config.ROOT_HOOK).
    if current is None:
        ctx = Context({}, tracers=tracers_for([handler], ()))
    else:
        ctx = current.replace(tracers=tracers_for([handler], current.tracers))
    token = CURRENT.set(ctx)
    try:
        yield handler
    finally:
        CURRENT.reset(token)
