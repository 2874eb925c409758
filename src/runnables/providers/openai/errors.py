"""Errors raised by the OpenAI-compatible client.

Every error carries what the server said: ``status_code`` (``None`` when no response
arrived) and ``message``, the server's own ``{"error": {"message": ...}}`` text when it
sent one. Names follow the official ``openai`` SDK, so ``except RateLimitError`` reads the
same.

The hierarchy::

    RunnablesError
    ├── APIError                        the server or the network failed a request
    │   ├── APIConnectionError          no usable response: refused, reset, closed mid-stream
    │   │   └── APITimeoutError         connect, read or idle-between-chunks time ran out
    │   │                               (also a builtin TimeoutError)
    │   ├── MalformedStreamError        the server sent a stream that is not valid SSE/JSON
    │   └── APIStatusError              the server answered with an HTTP error status
    │       ├── BadRequestError             400 (never retried)
    │       ├── AuthenticationError         401 (never retried)
    │       ├── PermissionDeniedError       403 (never retried)
    │       ├── NotFoundError               404 (never retried)
    │       ├── ConflictError               409 (retried)
    │       ├── UnprocessableEntityError    422
    │       ├── RateLimitError              429 (retried, honouring Retry-After)
    │       └── InternalServerError         5xx (retried)
    └── UserError
        └── ConfigError
            └── MissingCredentialsError     neither an API key nor a base_url was given
"""

from __future__ import annotations

from typing import Any

from runnables.errors import ConfigError, RunnablesError

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "InternalServerError",
    "MalformedStreamError",
    "MissingCredentialsError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "UnprocessableEntityError",
    "status_error",
]


class APIError(RunnablesError):
    """A request to the model server failed.

    ``str(error)`` is a full sentence saying what happened and what to do. ``message``
    is the server's own error message when it sent one (else the sentence), ``status_code`` the
    HTTP status (``None`` when no response arrived), ``body`` the decoded error body,
    ``url`` the endpoint that was called.
    """

    status_code: int | None = None

    def __init__(
        self,
        text: str,
        *,
        message: str | None = None,
        url: str | None = None,
        status_code: int | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(text)
        self.message = message if message is not None else text
        self.url = url
        if status_code is not None:
            self.status_code = status_code
        self.body = body


class APIConnectionError(APIError):
    """No usable response arrived: the connection was refused, reset or closed early."""


class APITimeoutError(APIConnectionError, TimeoutError):
    """A connect, read or idle-between-chunks timeout ran out."""


class MalformedStreamError(APIError):
    """The server's stream was not valid server-sent events carrying JSON."""


class APIStatusError(APIError):
    """The server answered with an HTTP error status (``status_code``)."""

    status_code: int


class BadRequestError(APIStatusError):
    """400: the request is invalid (a bad parameter, too many tokens). Not retried."""

    status_code = 400


class AuthenticationError(APIStatusError):
    """401: the API key is missing or wrong. Not retried."""

    status_code = 401


class PermissionDeniedError(APIStatusError):
    """403: the key may not use this model or endpoint. Not retried."""

    status_code = 403


class NotFoundError(APIStatusError):
    """404: no such model or endpoint (check ``model`` and ``base_url``). Not retried."""

    status_code = 404


class ConflictError(APIStatusError):
    """409: the server reported a conflict. Retried."""

    status_code = 409


class UnprocessableEntityError(APIStatusError):
    """422: the server could not process the request body."""

    status_code = 422


class RateLimitError(APIStatusError):
    """429: too many requests or tokens. Retried after ``Retry-After``."""

    status_code = 429


class InternalServerError(APIStatusError):
    """5xx: the server failed. Retried."""


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}

_HINTS: dict[int, str] = {
    401: " Check the API key (api_key=... or the OPENAI_API_KEY environment variable).",
    403: " Check that this API key may use this model.",
    404: " Check the model name and the base_url (it usually ends in '/v1').",
    429: " Slow down, or raise the rate limit of this account.",
}


#: The most characters of a server's own error text put into an exception's message.
MAX_SERVER_TEXT = 2000


def cap_text(text: str, limit: int = MAX_SERVER_TEXT) -> str:
    """``text`` cut to ``limit`` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text) - limit} more characters)"


def server_message(body: Any) -> str | None:
    """The server's own message from an OpenAI-style error body, if there is one, capped
    at :data:`MAX_SERVER_TEXT` characters."""
    said = _server_message(body)
    return None if said is None else cap_text(said)


def _server_message(body: Any) -> str | None:
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict):
            msg = err.get("message")
            if isinstance(msg, str) and msg:
                return msg
            detail = err.get("detail")
            if isinstance(detail, str) and detail:
                return detail
        elif isinstance(err, str) and err:
            return err
    elif isinstance(body, str) and body.strip():
        return body.strip()
    return None


def status_error(status_code: int, body: Any, url: str) -> APIStatusError:
    """The typed error for an HTTP error response, carrying the server's message."""
    cls = _BY_STATUS.get(status_code)
    if cls is None:
        cls = InternalServerError if status_code >= 500 else APIStatusError
    said = server_message(body)
    text = f"The model server at {url} answered HTTP {status_code}"
    text += f": {said}" if said else " with no error message."
    text += _HINTS.get(status_code, "")
    return cls(text, message=said, url=url, status_code=status_code, body=body)


class MissingCredentialsError(ConfigError):
    """Neither an API key nor a ``base_url`` was given, so no server can be called."""

    def __init__(self) -> None:
        super().__init__(
            "ChatOpenAI has no API key and no base_url. Set the OPENAI_API_KEY environment "
            "variable (and OPENAI_BASE_URL for a compatible server), or pass them: "
            "ChatOpenAI(model=..., base_url='http://localhost:8000/v1', api_key=...). "
            "A server on localhost needs no key. To run offline on the embedded model, "
            "use init_chat_model('local')."
        )
