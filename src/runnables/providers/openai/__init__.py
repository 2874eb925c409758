"""The OpenAI Chat Completions API, for OpenAI and compatible servers.

``ChatOpenAI`` and the typed errors import without httpx; the HTTP layer
(:mod:`.transport`) is imported when a ``ChatOpenAI`` is created.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runnables.providers.openai.chat import ChatOpenAI
from runnables.providers.openai.concurrency import AdaptiveConcurrency
from runnables.providers.openai.errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    MalformedStreamError,
    MissingCredentialsError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    UnprocessableEntityError,
)

if TYPE_CHECKING:
    from runnables.providers.openai.transport import aclose_clients

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AdaptiveConcurrency",
    "AuthenticationError",
    "BadRequestError",
    "ChatOpenAI",
    "ConflictError",
    "InternalServerError",
    "MalformedStreamError",
    "MissingCredentialsError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "UnprocessableEntityError",
    "aclose_clients",
]


def __getattr__(name: str) -> Any:
    if name == "aclose_clients":
        from runnables.providers.openai.transport import aclose_clients

        return aclose_clients
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
