"""HTTP to the host over httpx, sync and async: auth, query encoding, typed errors, and SSE
streams that resume with ``Last-Event-ID`` after a dropped connection."""

from __future__ import annotations

import asyncio
import time
from contextlib import asynccontextmanager, contextmanager
from typing import Any, AsyncIterator, Callable, Iterator, Mapping
from urllib.parse import quote, urlencode

import httpx

from ._config import ConnectionConfig
from ._sse import ServerSentEvent, aiter_events, iter_events
from .errors import ConnectionLostError, error_from_response

__version__ = "0.1.0"

# A stream says something at least every 15 s (heartbeats): a read that waits longer than this
# means the connection is dead, and the follower reconnects.
STREAM_READ_TIMEOUT = 45.0
# Consecutive reconnections without a single event in between before a stream gives up.
STREAM_RETRIES = 5

Done = Callable[[ServerSentEvent], bool]


def api_path(path: str, params: Mapping[str, Any] | None = None) -> str:
    """``path`` with its query string. Spaces are sent as ``%20`` and ``+`` as ``%2B``: every
    decoder reads those the same way (a ``+`` for a space is read as a plus by some)."""
    if not params:
        return path
    pairs = [(k, _query_value(v)) for k, v in params.items() if v is not None]
    return path + ("?" + urlencode(pairs, quote_via=quote, safe="/") if pairs else "")


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _headers(config: ConnectionConfig) -> dict[str, str]:
    return {"Authorization": f"Bearer {config.api_key}", "User-Agent": f"sandbox-host-python/{__version__}"}


def _timeout(config: ConnectionConfig, seconds: float | None) -> httpx.Timeout:
    return httpx.Timeout(config.timeout if seconds is None else seconds, connect=min(10.0, config.timeout))


def _read_timeout(config: ConnectionConfig, deadline: float | None) -> float:
    longest = max(STREAM_READ_TIMEOUT, config.timeout)
    return longest if deadline is None else max(0.05, min(longest, deadline - time.monotonic()))


def _check_deadline(deadline: float | None, path: str, cause: Exception | None = None) -> None:
    if deadline is not None and time.monotonic() >= deadline:
        raise TimeoutError(f"{path}: the wait's deadline passed") from cause


def _backoff(attempt: int) -> float:
    return min(2.0, 0.1 * (2 ** attempt))


class SyncTransport:
    """One ``httpx.Client`` (a connection pool) for a sandbox and what hangs off it."""

    def __init__(self, config: ConnectionConfig, client: httpx.Client | None = None) -> None:
        self.config = config
        self.client = client or httpx.Client(base_url=config.base_url, headers=_headers(config),
                                             timeout=_timeout(config, None))

    def close(self) -> None:
        self.client.close()

    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None, json: Any = None,
                content: Any = None, files: Any = None, data: Any = None, headers: Mapping[str, str] | None = None,
                timeout: float | None = None) -> httpx.Response:
        try:
            response = self.client.request(method, api_path(path, params), json=json, content=content, files=files,
                                           data=data, headers=headers, timeout=_timeout(self.config, timeout))
        except httpx.TransportError as error:
            raise ConnectionLostError(f"{method} {path}: {error!r}") from error
        if response.status_code >= 400:
            raise error_from_response(response.status_code, response.content, response.headers)
        return response

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.request(method, path, **kwargs).json()

    @contextmanager
    def stream(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
               headers: Mapping[str, str] | None = None, timeout: float | None = None) -> Iterator[httpx.Response]:
        """A response whose body is read as it arrives; an error answer raises its typed error."""
        request = self.client.build_request(method, api_path(path, params), headers=headers,
                                            timeout=_timeout(self.config, timeout))
        try:
            response = self.client.send(request, stream=True)
        except httpx.TransportError as error:
            raise ConnectionLostError(f"{method} {path}: {error!r}") from error
        try:
            if response.status_code >= 400:
                raise error_from_response(response.status_code, response.read(), response.headers)
            yield response
        finally:
            response.close()

    def follow(self, path: str, *, params: Mapping[str, Any] | None = None, last_event_id: int | None = None,
               done: Done | None = None, retries: int = STREAM_RETRIES,
               deadline: float | None = None) -> Iterator[ServerSentEvent]:
        """The events of an SSE route, heartbeats left out, until ``done(event)`` or the host
        ends the stream. A connection that drops (or ends before ``done``) is opened again with
        ``Last-Event-ID`` set to the last id received, so nothing comes twice and nothing is
        skipped; after ``retries`` failed attempts in a row it raises ``ConnectionLostError``."""
        last, attempt = last_event_id, 0
        while True:
            _check_deadline(deadline, path)
            headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
            if last is not None:
                headers["Last-Event-ID"] = str(last)
            try:
                with self.stream("GET", path, params=params, headers=headers,
                                 timeout=_read_timeout(self.config, deadline)) as response:
                    for event in iter_events(response.iter_lines()):
                        _check_deadline(deadline, path)
                        if event.event == "ping" or event.type == "ping":
                            continue
                        attempt = 0  # an event, not a heartbeat: the connection is doing its work
                        if event.id is not None:
                            if last is not None and event.id <= last:
                                continue  # a replay the host should not send: never twice
                            last = event.id
                        yield event
                        if done is not None and done(event):
                            return
            except (httpx.TransportError, ConnectionLostError) as error:
                _check_deadline(deadline, path, error)
                cause: Exception = error
            else:
                if done is None:
                    return  # no last event to wait for: the host ended the stream, and so do we
                cause = ConnectionLostError(f"the stream {path} ended before its last event")
            attempt += 1
            if attempt > retries:
                raise ConnectionLostError(f"{path}: gave up after {retries} reconnections: {cause}") from cause
            time.sleep(_backoff(attempt))


class AsyncTransport:
    """One ``httpx.AsyncClient`` for an async sandbox and what hangs off it."""

    def __init__(self, config: ConnectionConfig, client: httpx.AsyncClient | None = None) -> None:
        self.config = config
        self.client = client or httpx.AsyncClient(base_url=config.base_url, headers=_headers(config),
                                                  timeout=_timeout(config, None))

    async def close(self) -> None:
        await self.client.aclose()

    async def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None, json: Any = None,
                      content: Any = None, files: Any = None, data: Any = None,
                      headers: Mapping[str, str] | None = None, timeout: float | None = None) -> httpx.Response:
        try:
            response = await self.client.request(method, api_path(path, params), json=json, content=content,
                                                 files=files, data=data, headers=headers,
                                                 timeout=_timeout(self.config, timeout))
        except httpx.TransportError as error:
            raise ConnectionLostError(f"{method} {path}: {error!r}") from error
        if response.status_code >= 400:
            raise error_from_response(response.status_code, response.content, response.headers)
        return response

    async def json(self, method: str, path: str, **kwargs: Any) -> Any:
        return (await self.request(method, path, **kwargs)).json()

    @asynccontextmanager
    async def stream(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                     headers: Mapping[str, str] | None = None,
                     timeout: float | None = None) -> AsyncIterator[httpx.Response]:
        request = self.client.build_request(method, api_path(path, params), headers=headers,
                                            timeout=_timeout(self.config, timeout))
        try:
            response = await self.client.send(request, stream=True)
        except httpx.TransportError as error:
            raise ConnectionLostError(f"{method} {path}: {error!r}") from error
        try:
            if response.status_code >= 400:
                raise error_from_response(response.status_code, await response.aread(), response.headers)
            yield response
        finally:
            await response.aclose()

    async def follow(self, path: str, *, params: Mapping[str, Any] | None = None, last_event_id: int | None = None,
                     done: Done | None = None, retries: int = STREAM_RETRIES,
                     deadline: float | None = None) -> AsyncIterator[ServerSentEvent]:
        """As :meth:`SyncTransport.follow`, for ``async for``."""
        last, attempt = last_event_id, 0
        while True:
            _check_deadline(deadline, path)
            headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
            if last is not None:
                headers["Last-Event-ID"] = str(last)
            try:
                async with self.stream("GET", path, params=params, headers=headers,
                                       timeout=_read_timeout(self.config, deadline)) as response:
                    async for event in aiter_events(response.aiter_lines()):
                        _check_deadline(deadline, path)
                        if event.event == "ping" or event.type == "ping":
                            continue
                        attempt = 0  # an event, not a heartbeat: the connection is doing its work
                        if event.id is not None:
                            if last is not None and event.id <= last:
                                continue
                            last = event.id
                        yield event
                        if done is not None and done(event):
                            return
            except (httpx.TransportError, ConnectionLostError) as error:
                _check_deadline(deadline, path, error)
                cause: Exception = error
            else:
                if done is None:
                    return  # no last event to wait for: the host ended the stream, and so do we
                cause = ConnectionLostError(f"the stream {path} ended before its last event")
            attempt += 1
            if attempt > retries:
                raise ConnectionLostError(f"{path}: gave up after {retries} reconnections: {cause}") from cause
            await asyncio.sleep(_backoff(attempt))

