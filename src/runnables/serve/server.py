"""What ``runnables serve`` adds around an app and under uvicorn, so that a served app is
safe to run on a developer's machine by default.

- **Host allow-list** (:class:`HostAllowList`, against DNS rebinding): a web page can
  point a name it controls at ``127.0.0.1`` and then talk to a local server from the
  user's browser; the requests carry that name in ``Host``. When ``runnables serve``
  binds a loopback address, it answers only requests whose ``Host`` is a loopback
  name or address (``localhost``, ``*.localhost``, ``127.x.x.x``, ``[::1]``), any port.
  Others get 400 naming the host and the ``--allowed-hosts`` option. Bound elsewhere
  (``--host 0.0.0.0``) there is no check unless ``--allowed-hosts`` names the hosts.
- **Header timeout** (:func:`http_protocol`): uvicorn times out idle keep-alive
  connections but not a request whose headers trickle in forever (slowloris). The
  protocol classes here close a connection whose request headers are not complete
  within ``--header-timeout`` seconds of its opening, or of its previous response.
- With uvicorn's own ``timeout_keep_alive`` and ``limit_concurrency`` (``--limit-
  concurrency``: past it uvicorn answers 503), that bounds what half-sent requests and
  idle connections can hold.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
from collections.abc import Sequence
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from runnables.errors import InvalidArgumentError, MissingExtraError

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # pragma: no cover - httptools comes with the serve extra
    HttpToolsProtocol = None  # type: ignore[assignment, misc]

__all__ = [
    "HEADER_TIMEOUT_ENV",
    "HostAllowList",
    "default_allowed_hosts",
    "http_protocol",
    "is_loopback",
]

#: The environment variable through which ``serve`` tells its protocol class (in every
#: worker process) the header timeout.
HEADER_TIMEOUT_ENV = "RUNNABLES_SERVE_HEADER_TIMEOUT"
DEFAULT_HEADER_TIMEOUT = 10.0

#: What ``default_allowed_hosts`` allows on loopback: any loopback name or address.
LOOPBACK = "loopback"


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address, IPv6 with or without brackets) is loopback."""
    host = host.strip().lower().removeprefix("[").removesuffix("]")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def default_allowed_hosts(bind: str) -> list[str] | None:
    """The ``Host`` values to accept when bound to ``bind``: loopback names on loopback,
    no check (``None``) elsewhere, where the server's public names are not known."""
    return [LOOPBACK] if is_loopback(bind) else None


class HostAllowList:
    """An ASGI middleware that answers 400 to HTTP and WebSocket requests whose ``Host``
    header is not allowed.

    ``allowed``: host names (any port), ``"*.example.com"`` for its subdomains,
    ``"loopback"`` for every loopback name and address, or ``"*"`` for any host.
    """

    def __init__(self, app: ASGIApp, allowed: Sequence[str]) -> None:
        cleaned = [h.strip().lower() for h in allowed if h.strip()]
        if not cleaned:
            raise InvalidArgumentError(
                "HostAllowList needs at least one allowed host, got none; pass '*' to "
                "accept any Host header."
            )
        self.app = app
        self.any = "*" in cleaned
        self.loopback = LOOPBACK in cleaned
        self.exact = {h for h in cleaned if not h.startswith("*.")}
        self.suffixes = tuple(h[1:] for h in cleaned if h.startswith("*."))
        self.allowed = cleaned

    def allows(self, host_header: str) -> bool:
        """Whether a request with this ``Host`` header is let through."""
        if self.any:
            return True
        host = _strip_port(host_header.strip().lower())
        if not host:
            return False
        if self.loopback and is_loopback(host):
            return True
        return host in self.exact or host.endswith(self.suffixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or self.any:
            await self.app(scope, receive, send)
            return
        host = ""
        for name, value in scope.get("headers", ()):
            if name == b"host":
                host = value.decode("latin-1")
                break
        if self.allows(host):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        detail = (
            f"The Host header {host!r} is not one this server answers to (it allows "
            f"{self.allowed!r}); this guards a local server against DNS rebinding. "
            "Start it with --allowed-hosts naming this host (or '*') to accept it."
        )
        body = json.dumps({"detail": detail}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 400,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _strip_port(host: str) -> str:
    if host.startswith("["):  # [::1]:8000
        return host.partition("]")[0] + "]"
    name, sep, port = host.rpartition(":")
    if sep and port.isdigit() and ":" not in name:
        return name
    return host


# ---------------------------------------------------------------------- header timeout


class _HeaderTimeout:
    """Mixed into uvicorn's protocol classes: close a connection whose request headers
    are not complete ``header_timeout`` seconds after it opened or after its last
    response. A request counts as begun once uvicorn has started a new cycle for it."""

    _header_timer: asyncio.TimerHandle | None = None
    _header_cycle: Any = None

    def _header_timeout(self) -> float:
        raw = os.environ.get(HEADER_TIMEOUT_ENV)
        return float(raw) if raw else DEFAULT_HEADER_TIMEOUT

    def _arm_header_timer(self) -> None:
        me: Any = self
        self._disarm_header_timer()
        if me.cycle is not None and not me.cycle.response_complete:
            return  # a request is already under way (pipelined)
        self._header_cycle = me.cycle
        self._header_timer = me.loop.call_later(self._header_timeout(), self._headers_too_slow)

    def _disarm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        me: Any = self
        self._header_timer = None
        if me.cycle is self._header_cycle and not me.transport.is_closing():
            me.transport.close()

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        self._arm_header_timer()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)  # type: ignore[misc]
        me: Any = self
        if self._header_timer is not None and me.cycle is not self._header_cycle:
            self._disarm_header_timer()

    def on_response_complete(self) -> None:
        super().on_response_complete()  # type: ignore[misc]
        me: Any = self
        if not me.transport.is_closing():
            self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_timer()
        super().connection_lost(exc)  # type: ignore[misc]


class H11HeaderTimeoutProtocol(_HeaderTimeout, H11Protocol):
    """uvicorn's h11 protocol with the header timeout."""


if HttpToolsProtocol is not None:

    class HttpToolsHeaderTimeoutProtocol(_HeaderTimeout, HttpToolsProtocol):  # type: ignore[misc, valid-type]
        """uvicorn's httptools protocol with the header timeout."""


def http_protocol(name: str) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol class for ``--http`` ``name`` (``auto``, ``h11``,
    ``httptools``), with the header timeout (see the module docstring)."""
    if name == "h11" or HttpToolsProtocol is None:
        if name == "httptools":
            raise MissingExtraError("--http httptools", "serve", "httptools")
        return H11HeaderTimeoutProtocol
    return HttpToolsHeaderTimeoutProtocol
