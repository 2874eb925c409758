"""A connection pool whose bookkeeping stays cheap with many open streams.

httpcore's ``AsyncConnectionPool`` re-examines every connection each time a request
starts or ends: it polls every idle socket for staleness and, for each idle connection,
counts all connections again (quadratic). It also hands one idle connection to two
requests that start in the same tick, and the loser goes round again. With 50 streams
open that bookkeeping cost several milliseconds per request: most of the client's CPU
when chunks arrive one at a time (W15 paced).

:class:`FastPool` keeps the same decisions in one linear pass: a connection already
handed to a request is not handed out again; an idle connection is checked for
staleness when it is about to be reused (and all idle ones at most once a second);
idle connections beyond ``max_keepalive_connections`` are closed, counting only idle
ones. It relies on httpcore's pool internals, so :func:`install` checks they are there
and leaves the stock pool in place otherwise.
"""

from __future__ import annotations

import time
from typing import Any

import httpcore
from httpcore._async import connection_pool as _pool_module

__all__ = ["FastPool", "install"]

_SWEEP_EVERY = 1.0  # seconds between full staleness checks of the idle connections
_NEEDED = ("_connections", "_requests", "_max_connections", "_max_keepalive_connections")


class FastPool(httpcore.AsyncConnectionPool):
    """``httpcore.AsyncConnectionPool`` with linear-time request assignment."""

    _last_sweep = 0.0

    def _assign_requests_to_connections(self) -> list[Any]:
        closing: list[Any] = []
        requests = self._requests
        claimed = {id(r.connection) for r in requests if r.connection is not None}
        now = time.monotonic()
        sweep = now - self._last_sweep >= _SWEEP_EVERY
        if sweep:
            self._last_sweep = now
        keep: list[Any] = []
        idle: list[Any] = []
        for conn in self._connections:
            if conn.is_closed():
                continue
            if id(conn) not in claimed and conn.is_idle():
                if sweep and conn.has_expired():
                    closing.append(conn)
                    continue
                idle.append(conn)
            keep.append(conn)
        surplus = len(idle) - self._max_keepalive_connections
        if surplus > 0:
            for conn in idle[:surplus]:  # the longest idle go first
                keep.remove(conn)
                closing.append(conn)
            del idle[:surplus]

        for pool_request in [r for r in requests if r.connection is None]:
            origin = pool_request.request.url.origin
            chosen = None
            for i in range(len(idle) - 1, -1, -1):  # the most recently used first
                conn = idle[i]
                if not (conn.can_handle_request(origin) and conn.is_available()):
                    continue
                del idle[i]
                if conn.has_expired():
                    keep.remove(conn)
                    closing.append(conn)
                    continue
                chosen = conn
                break
            if chosen is None:
                if len(keep) >= self._max_connections:
                    if not idle:
                        continue  # stays queued until a connection frees up
                    old = idle.pop(0)
                    keep.remove(old)
                    closing.append(old)
                chosen = self.create_connection(origin)
                keep.append(chosen)
            pool_request.assign_to_connection(chosen)
        self._connections[:] = keep
        return closing


def install(transport: Any) -> bool:
    """Swap ``transport``'s httpcore pool (an ``httpx.AsyncHTTPTransport``) for a FastPool.

    Returns False, leaving the stock pool, if this httpcore's pool is not laid out as
    expected (a newer httpcore may have changed its internals).
    """
    pool = getattr(transport, "_pool", None)
    if type(pool) is not httpcore.AsyncConnectionPool or not all(
        hasattr(pool, name) for name in _NEEDED
    ):
        return False
    request_cls = getattr(_pool_module, "AsyncPoolRequest", None)
    if not hasattr(httpcore.AsyncConnectionPool, "_assign_requests_to_connections") or not (
        hasattr(request_cls, "assign_to_connection") and hasattr(request_cls, "is_queued")
    ):
        return False
    pool.__class__ = FastPool
    return True
