"""The guards every request passes before a chain runs: auth, body size, in-flight cap,
the config allow-list, and the helper that cancels work when the client leaves.

- **Auth**: with ``auth_token`` set, a request needs ``Authorization: Bearer <token>``;
  otherwise it is answered 401 with ``WWW-Authenticate: Bearer``. Tokens are compared
  with :func:`hmac.compare_digest` (constant time), against every configured token.
- **Body**: POST bodies must be JSON (415 otherwise: a page in a browser can send
  ``text/plain`` or a form to a local server without the user's say, but not JSON),
  and JSON this server can answer: ``NaN``, lone surrogates and nesting deeper than
  ``MAX_JSON_DEPTH`` are 422 (see :func:`read_json_body`).
- **Body size**: more than ``max_body_bytes`` is answered 413, from ``Content-Length``
  when the client sends one, else while the body is read (the read stops there).
- **In flight**: at most ``max_in_flight`` runs at once per ``add_routes`` call; one
  more is answered 503 with ``Retry-After`` instead of queueing until the server falls
  over. A stream counts until its run ends, not until its connection does. Once
  shutdown has begun (:mod:`runnables.serve.shutdown`) every new run is answered 503.
- **Config**: a request may set only the config keys in ``config_keys`` (default
  ``configurable``, ``tags``, ``metadata``, ``run_name``). Other ``RunnableConfig`` keys
  (``callbacks``, ``max_concurrency``, ``recursion_limit``, ``timeout``, ``run_id``...)
  are *dropped*, as LangServe does: its client always sends ``recursion_limit``, so
  rejecting them would break it. A key that is not a config key at all (a typo such as
  ``configurabel``) is answered 422 naming it, and so is a value of the wrong type.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import math
import sys
from collections.abc import Awaitable, Iterable, Mapping, Sequence
from typing import Any, TypeVar, cast

from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError

from runnables.errors import InvalidArgumentError, InvalidInputError, RunnablesError

__all__ = [
    "DEFAULT_CONFIG_KEYS",
    "MAX_JSON_DEPTH",
    "ClientDisconnectedError",
    "InFlight",
    "check_bearer",
    "decode_json",
    "filter_config",
    "read_json_body",
    "until_disconnect",
]

T = TypeVar("T")

#: The config keys a request may set unless ``add_routes(config_keys=...)`` says otherwise.
DEFAULT_CONFIG_KEYS: tuple[str, ...] = ("configurable", "tags", "metadata", "run_name")

_CONFIG_TYPES: dict[str, tuple[type, ...]] = {
    "configurable": (dict,),
    "tags": (list,),
    "metadata": (dict,),
    "run_name": (str,),
    "max_concurrency": (int, type(None)),
    "recursion_limit": (int,),
    "timeout": (int, float, type(None)),
    "run_id": (str, type(None)),
    "callbacks": (object,),
}


class ClientDisconnectedError(RunnablesError):
    """The client closed the connection before the answer was ready."""


# ---------------------------------------------------------------------- auth


def check_bearer(request: Request, tokens: Sequence[bytes]) -> None:
    """Raise 401 unless the request carries ``Authorization: Bearer`` with one of ``tokens``."""
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() == "bearer" and given:
        offered = given.strip().encode()
        ok = False
        # Compare with every token, so the time taken does not tell which one matched.
        for token in tokens:
            ok |= hmac.compare_digest(offered, token)
        if ok:
            return
    raise HTTPException(
        status_code=401,
        detail="This endpoint needs a valid bearer token: send 'Authorization: Bearer <token>'.",
        headers={"WWW-Authenticate": "Bearer"},
    )


# ---------------------------------------------------------------------- body


#: The deepest nesting of arrays and objects a request body may have (422 past it).
MAX_JSON_DEPTH = 100


async def read_json_body(request: Request, max_bytes: int | None) -> Any:
    """The request's JSON body, checked so that no input can make the server fail.

    415 unless ``Content-Type`` is JSON (``application/json`` or ``application/*+json``):
    a web page can make a browser send ``text/plain`` or form bodies to a local server
    without asking (CSRF), but not JSON. A body sent with no ``Content-Type`` at all is
    read first, so one that is not JSON either gets the 422 naming its JSON error (as
    LangServe answers it), and valid JSON the 415. 413 past ``max_bytes``. 422, naming the
    problem, for a body that is not JSON, or that holds what this server could not
    answer with valid JSON: ``NaN`` or ``Infinity``, a lone UTF-16 surrogate
    (``"\\ud800"``), or arrays and objects nested deeper than :data:`MAX_JSON_DEPTH`.
    """
    content_type = request.headers.get("content-type")
    if content_type is not None:
        _check_json_content_type(content_type)
    if max_bytes is not None:
        length = request.headers.get("content-length")
        if length is not None and length.isdigit():
            if int(length) > max_bytes:
                raise _too_large(int(length), max_bytes)
            # The server delivers no more than Content-Length bytes: read it whole.
            body = await request.body()
        else:
            body = await _read_limited(request, max_bytes)
    else:
        body = await request.body()
    value = decode_json(body)
    if content_type is None:
        _check_json_content_type(None)  # JSON, but undeclared: still refused (CSRF)
    return value


def decode_json(body: bytes) -> Any:
    """``body`` parsed as JSON, or a 422 naming what is wrong with it (see
    :func:`read_json_body`)."""
    # Nesting can only be as deep as there are brackets: counting them (in C) keeps
    # the exact depth walk off the path of ordinary bodies.
    deep = body.count(b"[") + body.count(b"{") > MAX_JSON_DEPTH
    try:
        # What json.loads does with bytes, with one decoder built once (loads with
        # hooks would build a new one per call).
        value = _DECODER.decode(body.decode(json.detect_encoding(body), "surrogatepass"))
    except RecursionError:
        raise _bad_json(
            f"The body nests arrays or objects too deeply; this server accepts at most "
            f"{MAX_JSON_DEPTH} levels."
        ) from None
    except _NonFiniteError as exc:
        raise _bad_json(
            f"The body contains {exc.args[0]}, which is not valid JSON; send numbers that "
            "are finite, or null."
        ) from None
    except ValueError as exc:  # UnicodeDecodeError too
        if "int_max_str_digits" in str(exc):
            raise _bad_json(
                f"The body holds an integer of more than {sys.get_int_max_str_digits()} "
                "digits; send a smaller number, or send it as a string."
            ) from None
        raise _bad_json(f"The body is not valid JSON ({exc}); send a JSON object.") from None
    if deep and _depth_exceeds(value, MAX_JSON_DEPTH):
        raise _bad_json(
            f"The body nests arrays or objects too deeply; this server accepts at most "
            f"{MAX_JSON_DEPTH} levels."
        )
    if (b"\\ud" in body or b"\\uD" in body) and (bad := _lone_surrogate(value)) is not None:
        raise _bad_json(
            f"The body contains the string {bad!r}, which holds a lone UTF-16 surrogate "
            "(an unpaired \\ud800-\\udfff escape) that is not text; send valid Unicode."
        )
    return value


class _NonFiniteError(InvalidInputError):
    pass


def _refuse_constant(name: str) -> Any:
    raise _NonFiniteError(name)


def _finite_float(text: str) -> float:
    # json reads 1e999 as inf, which could not be sent back as JSON.
    value = float(text)
    if math.isinf(value):
        raise _NonFiniteError(f"the number {text[:30]!r}, too large to be a float")
    return value


_DECODER = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_finite_float)


def _bad_json(message: str) -> RequestValidationError:
    return RequestValidationError(
        [{"type": "json_invalid", "loc": ("body",), "msg": message, "input": None}]
    )


def _depth_exceeds(value: Any, limit: int) -> bool:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        elif not isinstance(item, list):
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in item)
    return False


def _lone_surrogate(value: Any) -> str | None:
    """The first string in ``value`` (keys too) that cannot be encoded as UTF-8."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return item[:40]
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None


def _check_json_content_type(value: str | None) -> None:
    media = (value or "").partition(";")[0].strip().lower()
    kind, _, sub = media.partition("/")
    if kind == "application" and (sub == "json" or sub.endswith("+json")):
        return
    raise HTTPException(
        status_code=415,
        detail=f"The request's Content-Type is {value!r}, but this endpoint takes JSON; "
        "send the body with 'Content-Type: application/json'.",
    )


async def _read_limited(request: Request, max_bytes: int) -> bytes:
    """A body without ``Content-Length`` (chunked), read until it passes ``max_bytes``."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise _too_large(size, max_bytes, at_least=True)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(size: int, limit: int, *, at_least: bool = False) -> HTTPException:
    more = "at least " if at_least else ""
    return HTTPException(
        status_code=413,
        detail=f"The request body is {more}{size} bytes, over this server's limit of "
        f"{limit} bytes; send a smaller input.",
    )


# ---------------------------------------------------------------------- in flight


class InFlight:
    """A count of the runs in progress with a cap; over the cap a request gets 503."""

    __slots__ = ("closing", "count", "limit", "retry_after")

    def __init__(self, limit: int | None, retry_after: float = 1.0) -> None:
        if limit is not None and limit < 1:
            raise InvalidArgumentError(f"max_in_flight must be at least 1 or None, got {limit!r}.")
        self.limit = limit
        self.retry_after = retry_after
        self.count = 0
        self.closing = False  # set when shutdown begins: no new runs

    def enter(self) -> None:
        """Count one more run, or raise 503 if the cap is reached or the server is closing."""
        if self.closing:
            raise HTTPException(
                status_code=503,
                detail="The server is shutting down and starts no new runs; retry after the "
                "delay in the Retry-After header.",
                headers={"Retry-After": str(max(1, round(self.retry_after)))},
            )
        if self.limit is not None and self.count >= self.limit:
            raise HTTPException(
                status_code=503,
                detail=f"The server is already running {self.count} requests, its limit; "
                "retry after the delay in the Retry-After header.",
                headers={"Retry-After": str(max(1, round(self.retry_after)))},
            )
        self.count += 1

    def leave(self) -> None:
        """Count one run fewer."""
        self.count -= 1


# ---------------------------------------------------------------------- config


def filter_config(
    raw: Any, allowed: Iterable[str], *, where: tuple[str | int, ...]
) -> dict[str, Any]:
    """The part of a request's ``config`` that the server lets it set.

    ``where`` is the location reported in a 422 (``("body", "config")``).
    """
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise _invalid(where, f"config must be a JSON object, got {type(raw).__name__}.", raw)
    allowed = set(allowed)
    config: dict[str, Any] = {}
    for key, value in cast(Mapping[str, Any], raw).items():
        types = _CONFIG_TYPES.get(key)
        if types is None:
            raise _invalid(
                (*where, key),
                f"{key!r} is not a config key; the keys this server accepts are "
                f"{sorted(allowed)!r}.",
                value,
            )
        if key not in allowed:
            continue  # a real config key the server does not let clients set: dropped
        if not isinstance(value, types):
            raise _invalid(
                (*where, key),
                f"config[{key!r}] must be a {' or '.join(t.__name__ for t in types)}, got "
                f"{type(value).__name__}.",
                value,
            )
        if key == "tags" and not all(isinstance(t, str) for t in cast(list[Any], value)):
            raise _invalid((*where, key), "config['tags'] must be a list of strings.", value)
        config[key] = value
    return config


def _invalid(loc: tuple[str | int, ...], msg: str, value: Any) -> RequestValidationError:
    return RequestValidationError([{"type": "value_error", "loc": loc, "msg": msg, "input": value}])


# ---------------------------------------------------------------------- disconnect


async def until_disconnect(request: Request, work: Awaitable[T], *, may_suspend: bool = True) -> T:
    """Await ``work``, cancelling it as soon as the client disconnects.

    Raises :class:`ClientDisconnectedError` in that case. The request body must have been
    read already: the next ASGI message is then ``http.disconnect``.

    ``work`` runs in the calling task, and one watcher task waits for the disconnect and
    cancels the caller. With ``may_suspend=False`` (a chain that never yields to the loop:
    only cheap sync functions, see ``Runnable._needs_loop``) there is no watcher at all,
    since nothing could observe a disconnect before the work is done anyway.
    """
    if not may_suspend:
        return await work
    from runnables.serve.sse import wait_for_disconnect

    caller = asyncio.current_task()
    assert caller is not None
    state = {"finished": False, "disconnected": False}

    async def watch() -> None:
        await wait_for_disconnect(request.receive)
        if not state["finished"]:
            state["disconnected"] = True
            caller.cancel()

    watcher = asyncio.ensure_future(watch())
    try:
        return await work
    except asyncio.CancelledError:
        if not state["disconnected"]:
            raise
        caller.uncancel()
        raise ClientDisconnectedError() from None
    finally:
        # Set before the watcher can run again, so a disconnect that arrives after the
        # work is done never cancels the response being sent.
        state["finished"] = True
        watcher.cancel()
