"""HTTP for OpenAI-compatible servers: pooled clients, retries, timeouts, streams.

One ``httpx.AsyncClient`` per (base_url, event loop) is shared by every call to that
endpoint, so concurrent calls reuse connections. The clients of a loop are closed when
the loop shuts down (``asyncio.run`` and pytest close their loops that way), or by
:func:`aclose_clients`.

:class:`OpenAITransport` sends one request with

- retries with exponential backoff and jitter on connection errors, timeouts before the
  first streamed event (or an error object with such a status as the stream's first
  event), 408, 409, 429 and 5xx, honouring ``Retry-After`` (seconds or an HTTP date) and
  ``retry-after-ms``; never on other 4xx; never starting after the call's deadline; a
  ``Retry-After`` longer than :data:`MAX_RETRY_AFTER` or the deadline raises the error
  at once, with a note saying how long the server asked to wait;
- timeouts: ``connect_timeout``, ``timeout`` (the whole of an attempt at a non-streamed
  answer: connecting, the headers and the body) and ``stream_idle_timeout`` (the
  longest silence between two network reads of a stream, including the wait for the
  headers). The silence timer is httpx's per-read
  timeout: it is reset by every read, and the per-read cost is paid by httpx anyway.
  Reads alone do not prove progress (a server can trickle bytes or send keep-alive
  comments for ever), so ``stream_event_timeout`` bounds the time the stream may go
  without an event that carries the answer, checked at each read, with the per-read
  timeout capped by it so a silent connection is caught as soon;
- adaptive concurrency per endpoint (:mod:`.concurrency`);
- streams parsed by :class:`~.sse.SSEDecoder` straight from the network reads, yielding
  each event's decoded JSON. Closing the stream (or cancelling the task reading it)
  closes the HTTP response at once, so the server sees the disconnect.

This module imports httpx; the rest of the library imports it only on first use.
"""

from __future__ import annotations

import asyncio
import email.utils
import ipaddress
import json
import random
import time
import weakref
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import urlsplit

import httpx

from runnables.core.tasks import aclose
from runnables.providers.openai.concurrency import AdaptiveConcurrency, wait_without_slot
from runnables.providers.openai.connection_pool import install as install_fast_pool
from runnables.providers.openai.errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    MalformedStreamError,
    server_message,
    status_error,
)
from runnables.providers.openai.sse import DONE, SSEDecoder
from runnables.wire import dumps, encode

__all__ = [
    "OpenAITransport",
    "aclose_clients",
    "endpoint_concurrency",
    "get_client",
    "is_loopback",
    "pool_connections",
]

RETRY_STATUSES = frozenset((408, 409, 429))
#: The longest Retry-After waited for: a server asking for more gets its error raised
#: (with a note saying how long it asked for) rather than a retry sooner than it asked.
MAX_RETRY_AFTER = 60.0
#: The most bytes of an error response's body that are read (the rest is dropped).
MAX_ERROR_BODY = 65536


class _LoopState:
    """The clients and concurrency limits of one event loop."""

    __slots__ = ("__weakref__", "clients", "closer", "limits")

    def __init__(self) -> None:
        self.clients: dict[tuple[str, bool], httpx.AsyncClient] = {}
        self.limits: dict[str, AdaptiveConcurrency] = {}
        self.closer: Any = None


_STATES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopState] = (
    weakref.WeakKeyDictionary()
)


async def _close_at_loop_shutdown(state: _LoopState) -> AsyncIterator[None]:
    # A loop closes its registered async generators in shutdown_asyncgens(): this one
    # exists so the loop's clients (and their sockets) are closed with it.
    try:
        yield
    finally:
        clients = list(state.clients.values())
        state.clients.clear()
        for client in clients:
            await client.aclose()


def _state() -> _LoopState:
    loop = asyncio.get_running_loop()
    state = _STATES.get(loop)
    if state is None:
        state = _STATES[loop] = _LoopState()
        closer = _close_at_loop_shutdown(state)
        step: Any = closer.__anext__()  # first iteration registers it with the running loop
        try:
            step.send(None)
        except StopIteration:
            pass
        state.closer = closer
    return state


def is_loopback(base_url: str) -> bool:
    """True when ``base_url`` names this machine (no API key needed, no proxy used)."""
    host = (urlsplit(base_url).hostname or "").strip("[]")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def get_client(base_url: str) -> httpx.AsyncClient:
    """The shared client for ``base_url`` on the running loop (created on first use)."""
    state = _state()
    loopback = is_loopback(base_url)
    key = (base_url, loopback)
    client = state.clients.get(key)
    if client is None or client.is_closed:
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=256)
        # A proxy from the environment must not catch requests to this machine
        # (HTTP_PROXY without NO_PROXY=localhost gives "connection refused").
        transport = httpx.AsyncHTTPTransport(limits=limits, trust_env=not loopback)
        install_fast_pool(transport)  # linear-time pool bookkeeping (see .pool)
        client = httpx.AsyncClient(
            transport=transport, trust_env=not loopback, limits=limits, timeout=None
        )
        state.clients[key] = client
    return client


def endpoint_concurrency(base_url: str, max_limit: int | None = None) -> AdaptiveConcurrency:
    """The adaptive concurrency limit shared by every call to ``base_url`` on this loop.

    Its ceiling is the largest ``max_limit`` asked for so far (256 if none was): the
    endpoint's shared state (how far 429s have cut it) is one, while each model's own
    ``max_concurrency`` is held by the model itself (:class:`OpenAITransport`). Without
    ``max_limit`` this only looks the limit up.
    """
    state = _state()
    limit = state.limits.get(base_url)
    if limit is None:
        limit = state.limits[base_url] = AdaptiveConcurrency(max_limit or 256)
    elif max_limit is not None and max_limit > limit.max_limit:
        limit.raise_max(max_limit)
    return limit


async def aclose_clients() -> None:
    """Close the running loop's shared HTTP clients (they are re-created on next use)."""
    state = _STATES.get(asyncio.get_running_loop())
    if state is None:
        return
    clients = list(state.clients.values())
    state.clients.clear()
    for client in clients:
        await client.aclose()


def pool_connections(base_url: str) -> tuple[int, int]:
    """``(open, busy)`` connections in the shared pool for ``base_url`` on this loop.

    For tests and diagnostics: after every call has finished, ``busy`` must be 0.
    """
    state = _STATES.get(asyncio.get_running_loop())
    client = state.clients.get((base_url, is_loopback(base_url))) if state else None
    if client is None:
        return 0, 0
    pool = getattr(client._transport, "_pool", None)
    conns = list(getattr(pool, "connections", ()))
    open_ = [c for c in conns if not c.is_closed()]
    return len(open_), sum(1 for c in open_ if not c.is_idle())


def parse_retry_after(headers: httpx.Headers) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or a date)."""
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            return float(ms) / 1000.0
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return float(when.timestamp() - time.time())


@dataclass
class OpenAITransport:
    """Requests to one OpenAI-compatible endpoint, with retries and timeouts.

    ``base_url`` ends before the endpoint path (``http://host:8000/v1``).
    """

    base_url: str
    api_key: str | None = field(default=None, repr=False)  # never in reprs or logs
    connect_timeout: float = 10.0
    timeout: float = 600.0
    stream_idle_timeout: float = 120.0
    stream_event_timeout: float = 300.0
    write_timeout: float = 30.0
    max_retries: int = 2
    backoff_initial: float = 0.5
    backoff_max: float = 8.0
    max_concurrency: int = 256
    adaptive_concurrency: bool = True
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")
        common = {"content-type": "application/json", **self.headers}
        if self.api_key:
            common["authorization"] = f"Bearer {self.api_key}"
        self._loop_limits: (
            tuple[
                weakref.ref[asyncio.AbstractEventLoop],
                AdaptiveConcurrency,
                AdaptiveConcurrency | None,
            ]
            | None
        ) = None
        self._json_headers = {**common, "accept": "application/json"}
        # identity: the stream is parsed from the raw network reads, undecoded.
        self._sse_headers = {
            **common,
            "accept": "text/event-stream",
            "accept-encoding": "identity",
        }

    # ------------------------------------------------------------------ policy

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None and retry_after >= 0:
            return retry_after
        delay = min(self.backoff_initial * 2.0**attempt, self.backoff_max)
        return delay * (1 - 0.25 * random.random())  # jitter spreads out retry storms

    @staticmethod
    def _retryable(err: APIError) -> bool:
        if isinstance(err, APIStatusError):
            return err.status_code in RETRY_STATUSES or err.status_code >= 500
        return isinstance(err, APIConnectionError)

    def _timeout(self, read: float, deadline: float | None) -> httpx.Timeout:
        connect = self.connect_timeout
        if deadline is not None:
            # A little past the deadline: the engine's own timer fires first and names
            # the step; this only stops the request if no timer is running.
            left = max(deadline - time.monotonic(), 0.0) + 0.05
            read, connect = min(read, left), min(connect, left)
        return httpx.Timeout(connect=connect, read=read, write=self.write_timeout, pool=None)

    # ------------------------------------------------------------------ sending

    def _limits(self) -> tuple[AdaptiveConcurrency, AdaptiveConcurrency | None]:
        """This model's own cap and the endpoint's shared adaptive limit, on this loop."""
        loop = asyncio.get_running_loop()
        cached = self._loop_limits
        if cached is not None and cached[0]() is loop:
            return cached[1], cached[2]
        n = self.max_concurrency
        # A fixed cap (min = max): a 429 never moves it; the shared limit adapts.
        own = AdaptiveConcurrency(n, min_limit=n)
        shared = endpoint_concurrency(self.base_url, n) if self.adaptive_concurrency else None
        # A weak reference: a model must not keep a finished loop alive.
        self._loop_limits = (weakref.ref(loop), own, shared)
        return own, shared

    async def _acquire(self) -> tuple[AdaptiveConcurrency, AdaptiveConcurrency | None, int]:
        own, shared = self._limits()
        if own.try_acquire() is None:
            await wait_without_slot(own.acquire)
        if shared is None:
            return own, None, 0
        try:
            epoch = shared.try_acquire()
            if epoch is None:
                epoch = await wait_without_slot(shared.acquire)
        except BaseException:
            own.release(0)
            raise
        return own, shared, epoch

    @staticmethod
    def _release(
        own: AdaptiveConcurrency,
        shared: AdaptiveConcurrency | None,
        epoch: int,
        *,
        rate_limited: bool,
        ok: bool,
    ) -> None:
        if shared is not None:
            shared.release(epoch, rate_limited=rate_limited, ok=ok)
        own.release(0)

    async def _send(
        self, path: str, content: bytes, stream: bool, deadline: float | None, attempt: int
    ) -> tuple[httpx.Response | None, APIError | None, float | None]:
        """One attempt: the response (status < 400), or the error and any Retry-After."""
        url = self.base_url + path
        client = get_client(self.base_url)
        request = client.build_request(
            "POST",
            url,
            content=content,
            headers=self._sse_headers if stream else self._json_headers,
            timeout=self._timeout(
                min(self.stream_idle_timeout, self.stream_event_timeout)
                if stream
                else self.timeout,
                deadline,
            ),
        )
        try:
            response = await client.send(request, stream=True)
        except httpx.TimeoutException as exc:
            what = (
                "connecting" if isinstance(exc, httpx.ConnectTimeout) else "waiting for an answer"
            )
            return None, _timeout_error(url, what, exc, attempt), None
        except httpx.TransportError as exc:
            return None, _connection_error(url, exc, attempt), None
        if response.status_code < 400:
            return response, None, None
        raw = bytearray()
        try:
            # An error body is read only up to a cap: a hostile or broken server must
            # not make the client buffer (or put into an exception) megabytes of text.
            async for piece in response.aiter_bytes():
                raw += piece
                if len(raw) > MAX_ERROR_BODY:
                    del raw[MAX_ERROR_BODY:]
                    break
        except httpx.HTTPError:
            pass
        finally:
            await response.aclose()
        try:
            body: Any = json.loads(raw) if raw else None
        except (ValueError, RecursionError):
            body = raw.decode("utf-8", "replace")
        err = status_error(response.status_code, body, url)
        return None, err, parse_retry_after(response.headers)

    async def _retry_wait(
        self, err: APIError, attempt: int, retry_after: float | None, deadline: float | None
    ) -> None:
        """Sleep before the next attempt, or raise ``err`` if there is none."""
        if not self._retryable(err) or attempt >= self.max_retries:
            if attempt:
                err.add_note(f"Gave up after {attempt + 1} attempts.")
            raise err
        delay = self._backoff(attempt, retry_after)
        asked = retry_after is not None and retry_after >= 0
        if asked and delay > MAX_RETRY_AFTER:
            err.add_note(
                f"Not retried: the server asked to wait {delay:g} s (Retry-After), more than "
                f"the {MAX_RETRY_AFTER:g} s this client waits. Try again later."
            )
            raise err
        if deadline is not None and time.monotonic() + delay >= deadline:
            if asked:
                err.add_note(
                    f"Not retried: the server asked to wait {delay:g} s (Retry-After), past "
                    "the call's deadline."
                )
            else:
                err.add_note(
                    "Not retried: the call's deadline comes before the next attempt "
                    f"(in {delay:.2g} s)."
                )
            raise err
        await wait_without_slot(lambda: asyncio.sleep(delay))

    async def post(self, path: str, body: dict[str, Any], *, deadline: float | None = None) -> Any:
        """POST ``body`` as JSON and return the decoded JSON answer."""
        content = encode(dumps(body))
        url = self.base_url + path
        attempt = 0
        while True:
            own, limit, epoch = await self._acquire()
            rate_limited = ok = False
            try:
                # ``timeout`` bounds the whole attempt (connect, headers and body), not
                # each network read: a server trickling an answer cannot stretch it.
                whole = asyncio.timeout(self.timeout)
                try:
                    async with whole:
                        response, err, retry_after = await self._send(
                            path, content, False, deadline, attempt
                        )
                        if response is not None:
                            try:
                                raw = await response.aread()
                            except httpx.TimeoutException as exc:
                                err = _timeout_error(url, "reading the answer", exc, 0)
                            except httpx.TransportError as exc:
                                err = _connection_error(url, exc, 0)
                            finally:
                                await response.aclose()
                            if err is None:
                                ok = True
                                return _loads(raw, url)
                except TimeoutError:
                    if not whole.expired():
                        raise
                    err, retry_after = _whole_timeout_error(url, self.timeout), None
                rate_limited = isinstance(err, APIStatusError) and err.status_code == 429
            finally:
                self._release(own, limit, epoch, rate_limited=rate_limited, ok=ok)
            assert err is not None
            await self._retry_wait(err, attempt, retry_after, deadline)
            attempt += 1

    async def stream(
        self,
        path: str,
        body: dict[str, Any],
        *,
        deadline: float | Callable[[], float | None] | None = None,
        convert: Callable[[dict[str, Any]], Any] | None = None,
    ) -> AsyncIterator[Any]:
        """POST ``body`` and yield the decoded JSON of each server-sent event.

        ``convert``, if given, turns each event's JSON object into what is yielded
        instead: one item, a list of items, or ``None`` for nothing (a caller that
        converts saves a generator layer per event on the hot path). ``deadline`` may be
        a function, called when the stream starts: a generator's body runs in the
        context its first item is pulled in, which may not be the one it was made in.

        Ends at the ``[DONE]`` event. Failures before the first event are retried like
        a failed request; after it, they raise (the caller has seen part of the answer).
        An error object sent inside the stream (``{"error": ...}`` with a non-null error,
        or an ``error`` event) raises :class:`APIError` with its message; as the first
        event, with a retryable status in its ``code``, it is retried like that HTTP
        status. Other named events (``ping``...) are skipped, as the openai SDK does.
        """
        content = encode(dumps(body))
        url = self.base_url + path
        attempt = 0
        if callable(deadline):
            deadline = deadline()
        while True:
            own, limit, epoch = await self._acquire()
            rate_limited = False
            attempt_state = _StreamAttempt()
            response: httpx.Response | None = None
            try:
                response, err, retry_after = await self._send(
                    path, content, True, deadline, attempt
                )
                if response is not None:
                    _check_event_stream(response, url)
                    items = self._read(response, url, convert, attempt, attempt_state)
                    try:
                        async for item in items:
                            yield item
                    finally:
                        await aclose(items)
                    if attempt_state.ok:
                        return
                    err = attempt_state.err
                rate_limited = isinstance(err, APIStatusError) and err.status_code == 429
            finally:
                if response is not None:
                    await response.aclose()
                ok = attempt_state.ok or attempt_state.started
                self._release(own, limit, epoch, rate_limited=rate_limited, ok=ok)
            assert err is not None
            await self._retry_wait(err, attempt, retry_after, deadline)
            attempt += 1

    async def _read(
        self,
        response: httpx.Response,
        url: str,
        convert: Callable[[dict[str, Any]], Any] | None,
        attempt: int,
        state: _StreamAttempt,
    ) -> AsyncIterator[Any]:
        """One attempt's answer: the items of each event, until ``[DONE]`` or the end.

        Ends with ``state.ok`` set when the answer is complete, or ``state.err`` set to
        an error the attempt may be retried for (nothing was yielded yet); raises one
        that may not be (after the first item, the caller has seen part of the answer).
        """
        decoder = SSEDecoder(url=url)
        reads = cast(AsyncIterator[bytes], response.stream).__aiter__()
        event_timeout = self.stream_event_timeout
        monotonic = time.monotonic
        # Reset after the consumer has taken an event's items, so a slow consumer
        # never counts against the server.
        last_event = monotonic()
        try:
            done = False
            while not done:
                try:
                    chunk = await reads.__anext__()
                except StopAsyncIteration:
                    events = decoder.close()
                    done = True
                else:
                    events = decoder.feed(chunk)
                answered = False
                for event, data in events:
                    if data == DONE:
                        state.ok = True
                        if not done:
                            await _drain(reads)
                        return
                    if event is not None and event != "error":
                        # As the openai SDK does: named events other than "error"
                        # (ping, keep-alive...) carry no answer.
                        continue
                    answered = True
                    obj = _event_json(url, data)
                    if event is not None or obj.get("error"):
                        failure = _stream_error(url, event, obj, state.started)
                        if state.started or not self._retryable(failure):
                            raise failure
                        # Nothing was yielded yet: retried like the same status
                        # answered over HTTP.
                        state.err = failure
                        return
                    # started: the caller has been given part of the answer (from
                    # then on a failure cannot be retried).
                    if convert is None:
                        state.started = True
                        yield obj
                        continue
                    out = convert(obj)
                    if out is None:
                        continue
                    state.started = True
                    if out.__class__ is list:
                        for item in out:
                            yield item
                    else:
                        yield out
                if answered:
                    last_event = monotonic()
                elif monotonic() - last_event > event_timeout:
                    state.err = _event_timeout_error(url, event_timeout)
                    if state.started:
                        raise state.err
                    return
            if not state.started:
                raise APIConnectionError(
                    f"The server at {url} ended the stream without sending any part of an answer.",
                    url=url,
                )
            # Some servers end without [DONE]; a clean end of the body is fine.
            state.ok = True
        except httpx.TimeoutException as exc:
            state.err = _timeout_error(url, "between streamed chunks", exc, attempt)
            if state.started:
                raise state.err from None
        except httpx.TransportError as exc:
            state.err = _connection_error(url, exc, attempt)
            if state.started:
                raise state.err from None
        finally:
            await aclose(reads)


class _StreamAttempt:
    """What one attempt of :meth:`OpenAITransport.stream` came to."""

    __slots__ = ("err", "ok", "started")

    def __init__(self) -> None:
        self.ok = False  # the answer is complete
        self.started = False  # part of it was yielded: no retry from then on
        self.err: APIError | None = None  # the error to retry for


def _event_json(url: str, data: bytes) -> dict[str, Any]:
    """One event's data as the JSON object it must be."""
    try:
        # raw_decode skips json.loads' encoding sniffing; anything unusual gets
        # json.loads' own verdict.
        text = data.decode()
        obj, end = _RAW_DECODE(text)
        whole = end == len(text)
    except ValueError:
        whole = False
    if not whole:
        try:
            obj = json.loads(data)
        except ValueError:
            raise _bad_json(url, data) from None
    if obj.__class__ is not dict:
        raise _not_an_object(url, data)
    return cast(dict[str, Any], obj)


async def _drain(reads: AsyncIterator[bytes]) -> None:
    # The end of the body usually follows [DONE] at once; reading it lets the
    # connection go back to the pool instead of being closed with the response.
    try:
        async with asyncio.timeout(0.25):
            left = 65536
            async for chunk in reads:
                left -= len(chunk)
                if left < 0:
                    return
    except (TimeoutError, httpx.HTTPError):
        pass


_RAW_DECODE = json.JSONDecoder().raw_decode


def _loads(raw: bytes, url: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        raise MalformedStreamError(
            f"The server at {url} answered with a body that is not JSON: {raw[:200]!r}. "
            "Check that base_url points at an OpenAI-compatible server.",
            url=url,
        ) from None


def _check_event_stream(response: httpx.Response, url: str) -> None:
    kind = response.headers.get("content-type", "")
    if kind and "event-stream" not in kind and "json" not in kind:
        raise MalformedStreamError(
            f"The server at {url} answered a streaming request with content type {kind!r}, "
            "not text/event-stream. Check that base_url points at an OpenAI-compatible server.",
            url=url,
        )


def _bad_json(url: str, data: bytes) -> MalformedStreamError:
    return MalformedStreamError(
        f"The server at {url} sent a streamed event whose data is not JSON: {data[:200]!r}.",
        url=url,
    )


def _not_an_object(url: str, data: bytes) -> MalformedStreamError:
    return MalformedStreamError(
        f"The server at {url} sent a streamed event whose data is JSON but not an object: "
        f"{data[:200]!r}. Check that base_url points at an OpenAI-compatible server.",
        url=url,
    )


def _stream_error(url: str, event: str | None, obj: dict[str, Any], started: bool) -> APIError:
    """The error for an error object sent inside a stream (``{"error": ...}``)."""
    said = server_message(obj) or json.dumps(obj)[:500]
    error = obj.get("error")
    code = error.get("code") if isinstance(error, dict) else None
    if isinstance(code, str) and code.isdigit():
        code = int(code)  # some servers send the status as a string
    status = code if isinstance(code, int) and 400 <= code < 600 else None
    if status is not None:
        err = status_error(status, obj, url)
        err.add_note(
            "The error arrived inside the stream, after the answer had started."
            if started
            else "The error arrived as the first event of the stream."
        )
        return err
    kind = f" ({event!r} event)" if event else ""
    return APIError(
        f"The server at {url} sent an error inside the stream{kind}: {said}",
        message=said,
        url=url,
        body=obj,
    )


def _timeout_error(url: Any, what: str, exc: Exception, attempt: int) -> APITimeoutError:
    return APITimeoutError(
        f"The request to {url} timed out {what} ({type(exc).__name__}). Raise the timeout "
        "(connect_timeout, timeout or stream_idle_timeout) or check that the server is up.",
        url=str(url),
    )


def _event_timeout_error(url: str, timeout: float) -> APITimeoutError:
    return APITimeoutError(
        f"The stream from {url} sent no event for more than {timeout:g} s "
        "(stream_event_timeout), though the connection was not silent (keep-alive comments, "
        "pings or a trickle of bytes). Raise stream_event_timeout if the model is known to "
        "think that long, or check the server.",
        url=url,
    )


def _whole_timeout_error(url: str, timeout: float) -> APITimeoutError:
    return APITimeoutError(
        f"The request to {url} timed out waiting for the whole answer (timeout={timeout:g} s). "
        "Raise timeout, or stream the answer (astream) to see it as it is written.",
        url=url,
    )


def _connection_error(url: str, exc: Exception, attempt: int) -> APIConnectionError:
    detail = str(exc) or type(exc).__name__
    return APIConnectionError(
        f"The connection to {url} failed: {detail}. Check that the server is running and "
        "that base_url is right.",
        url=url,
    )
