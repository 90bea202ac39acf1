"""The one polite HTTP client every fetch goes through.

Why one place: politeness (per-host concurrency and spacing), retries, the size cap, the host
allow-list (names, and the addresses they resolve to: ``policywatch.netguard``) and challenge
detection must hold for every request, whoever makes it. Bodies are decoded in bounded steps
(``policywatch.decompress``), so the size cap bounds memory on compressed responses too. Tests
inject a transport or point the client at a loopback server; a ``sleep`` hook makes waits
observable. Runs on several workers share each host's limit through a ``host_slot`` hook that
the caller supplies (the flows use Prefect's global concurrency limits; nothing here knows that).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
import socket
import ssl
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType

import httpx

from parsers.challenge import looks_like_challenge
from parsers.charset import decode, detect_encoding
from policywatch.decompress import ACCEPT_ENCODING, DecodingError, decoder_for
from policywatch.errors import (
    BlockedError,
    DisallowedHostError,
    FetchError,
    NotFoundError,
    TooLargeError,
    UnresolvedHostError,
)
from policywatch.netguard import PrivateAddressError, guard
from policywatch.netstream import quick_idle_checks
from policywatch.settings import HttpSettings

__all__ = ["FetchResult", "HostSlot", "PoliteClient", "fetch_url", "host_allowed", "host_key"]

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
# host_slot(host_key): held around each request, inside the host's local gate. Several processes
# that share a host's limit (a fan-out over workers) pass one; a single process needs none.
HostSlot = Callable[[str], AbstractAsyncContextManager[object]]

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
BLOCK_STATUSES = frozenset({412, 521})
GONE_STATUSES = frozenset({404, 410})
_CHALLENGE_SCAN_BYTES = 65_536


@dataclass
class FetchResult:
    url: str
    status: int
    content: bytes
    content_type: str | None
    encoding: str | None
    etag: str | None
    last_modified: str | None
    not_modified: bool
    attempts: int

    @property
    def text(self) -> str:
        """The body decoded with ``encoding`` (HTTP charset, <meta charset>, then detection)."""
        return decode(self.content, self.encoding)


@dataclass
class _Response:
    url: str
    status: int
    headers: httpx.Headers
    content: bytes


# getaddrinfo's "no such name" answers (Linux/macOS, Linux's "no address", Windows): retrying a
# lookup seconds later does not help, unlike EAI_AGAIN ("temporary failure"), which is retried.
_NAME_NOT_FOUND = frozenset(
    code for code in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", None), 11001) if code
)
_NO_DNS = "check the network connection and the host name"


def _name_not_found(exc: BaseException) -> bool:
    """Whether a connect error came from a host name that does not resolve."""
    seen: BaseException | None = exc
    for _ in range(8):  # httpx -> httpcore -> (anyio) -> socket.gaierror
        if seen is None:
            return False
        if isinstance(seen, socket.gaierror):
            return seen.errno in _NAME_NOT_FOUND
        seen = seen.__cause__ or seen.__context__
    return False


def _network_reason(exc: httpx.HTTPError) -> str:
    """httpx's own words for a network error; a connection reset or dropped mid-response has
    none (anyio's BrokenResourceError carries no message), so it is named here."""
    if str(exc):
        return str(exc)
    if isinstance(exc, httpx.ReadError | httpx.WriteError):
        return f"connection reset or closed by the server ({type(exc).__name__})"
    return type(exc).__name__


class _Transient(Exception):
    """A network failure worth retrying (connect error, timeout, reset, truncated body)."""


class _HostGate:
    """Per-host politeness: a semaphore for in-flight requests and spaced request starts."""

    def __init__(self, concurrency: int, interval: float) -> None:
        self.semaphore = asyncio.Semaphore(concurrency)
        self.interval = interval
        self.next_start = 0.0

    def reserve(self, now: float) -> float:
        """Book the next start slot; returns how long to wait for it."""
        start = max(now, self.next_start)
        self.next_start = start + self.interval
        return start - now


@functools.lru_cache(maxsize=4096)
def url_parts(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) of ``url`` as httpx reads it; raises httpx.InvalidURL as httpx does.
    Cached (a refusal is not): a backfill asks this about each of its 660 URLs several times,
    and httpx checks every character each time (a tenth of the run's own CPU)."""
    parsed = httpx.URL(url)
    return parsed.scheme, parsed.host, parsed.port


def host_key(url: str | httpx.URL) -> str:
    """``host`` or ``host:port`` when the port is not the scheme's default."""
    if isinstance(url, httpx.URL):
        host, port = url.host, url.port
    else:
        _, host, port = url_parts(url)
    return f"{host}:{port}" if port is not None else host or ""


def host_allowed(host: str, allow_list: tuple[str, ...] | list[str]) -> bool:
    """Exact host match, or a ``*.example.org`` entry matching any subdomain."""
    host = host.lower().rstrip(".")
    for entry in allow_list:
        entry = entry.lower()
        if entry.startswith("*.") and host.endswith(entry[1:]):
            return True
        if host == entry:
            return True
    return False


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Parse ``Retry-After`` given as seconds or as an HTTP date; None when absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _challenge_in(response: _Response, encoding: str | None = None) -> str | None:
    """The challenge marker in an HTML or text response's first 64 KB, if any."""
    content_type = response.headers.get("content-type") or "text/html"
    if "html" not in content_type.lower() and "text/plain" not in content_type.lower():
        return None
    head = response.content[:_CHALLENGE_SCAN_BYTES]
    return looks_like_challenge(decode(head, encoding or detect_encoding(head, content_type)))


_tls_lock = threading.Lock()
_tls: ssl.SSLContext | None = None


def tls_context() -> ssl.SSLContext:
    """The process's one TLS context for every client and host: loading the CA bundle costs about
    0.1 s, and a context is safe to share once built."""
    global _tls
    with _tls_lock:
        if _tls is None:
            _tls = httpx.create_ssl_context()
        return _tls


def warm_up() -> None:
    """What a run's first request would otherwise load: the TLS context, and anyio's asyncio
    backend, which httpcore imports on its first request (about 40 ms)."""
    tls_context()
    import anyio

    anyio.run(anyio.sleep, 0)


def prewarm() -> None:
    """``warm_up`` in the background (``policywatch run`` does while Prefect starts)."""
    threading.Thread(target=warm_up, daemon=True, name="policywatch-http-warm-up").start()


class PoliteClient:
    """Async context manager wrapping the only ``httpx.AsyncClient`` of the application."""

    def __init__(
        self,
        settings: HttpSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        transport_factory: Callable[[ssl.SSLContext], httpx.AsyncBaseTransport] | None = None,
        sleep: Sleep = asyncio.sleep,
        host_slot: HostSlot | None = None,
    ) -> None:
        self.settings = settings
        self._sleep = sleep
        self._host_slot = host_slot
        self._allow = settings.allow_list()
        self._gates: dict[str, _HostGate] = {}
        self._blocked_hosts: set[str] = set()
        self.unresolved_hosts: set[str] = set()  # host keys whose name did not resolve
        self._random = random.Random()
        self.requests_made: dict[str, int] = {}
        self._factory = transport_factory
        # One connection pool per host, sized to the per-host limit: httpcore's pool does work
        # per event that grows with the square of its connections, so one pool for every host
        # cost several ms of CPU per request in a backfill. An injected transport is shared.
        self._clients: dict[str, httpx.AsyncClient] = {}
        self._shared = self._new_client(transport) if transport is not None else None
        self._global = (
            asyncio.Semaphore(settings.max_connections) if settings.max_connections else None
        )

    def _context(self) -> ssl.SSLContext:
        return tls_context()

    def _new_client(
        self, transport: httpx.AsyncBaseTransport | None, proxy: str | None = None
    ) -> httpx.AsyncClient:
        settings, limit = self.settings, self.settings.per_host_concurrency
        client = httpx.AsyncClient(
            transport=transport,
            proxy=proxy,
            verify=self._context(),
            headers={"User-Agent": settings.user_agent, "Accept-Encoding": ACCEPT_ENCODING},
            timeout=httpx.Timeout(
                connect=settings.connect_timeout,
                read=settings.read_timeout,
                write=settings.read_timeout,
                pool=settings.total_timeout,
            ),
            limits=httpx.Limits(max_connections=limit, max_keepalive_connections=limit),
            follow_redirects=False,
        )
        if transport is None and proxy is None:  # the host map and a proxy go where they say
            quick_idle_checks(client._transport)
            guard(client, lambda host: host_allowed(host, settings.allow_private_hosts))
        return client

    def _client_for(self, url: str) -> httpx.AsyncClient:
        if self._shared is not None:
            return self._shared
        key = host_key(url)
        client = self._clients.get(key)
        if client is None:
            proxy = self.settings.proxy_for(httpx.URL(url).host)
            factory = self._factory if proxy is None else None
            transport = factory(self._context()) if factory is not None else None
            client = self._clients[key] = self._new_client(transport, proxy)
        return client

    async def __aenter__(self) -> PoliteClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        clients = [*self._clients.values(), *([self._shared] if self._shared else [])]
        self._clients.clear()
        for client in clients:
            await client.aclose()

    def is_allowed(self, url: str) -> bool:
        try:
            scheme, host, _ = url_parts(url)
        except (httpx.InvalidURL, TypeError):
            return False
        return scheme in ("http", "https") and host_allowed(host, self._allow)

    async def get(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        referer: str | None = None,
    ) -> FetchResult:
        """GET ``url`` politely; follow allowed redirects; raise one typed FetchError on failure."""
        headers = self._headers(etag, last_modified, referer)
        current, seen = url, {url}
        for _hop in range(self.settings.max_redirects + 1):
            self._check_allowed(current, url)
            response, attempts = await self._with_retries(current, headers)
            if response.status not in REDIRECT_STATUSES:
                return self._finish(response, attempts, etag, last_modified)
            current = self._redirect_target(response, attempts)
            if current in seen:
                raise FetchError(
                    url, f"redirect loop at {current}", status=response.status, attempts=attempts
                )
            seen.add(current)
        raise FetchError(url, f"more than {self.settings.max_redirects} redirects")

    # -- one request -------------------------------------------------------------------------

    @staticmethod
    def _headers(
        etag: str | None, last_modified: str | None, referer: str | None
    ) -> dict[str, str]:
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        if referer:
            headers["Referer"] = referer
        return headers

    def _check_allowed(self, url: str, origin: str) -> None:
        if self.is_allowed(url):
            return
        reason = "host not in the allow-list"
        if url != origin:
            reason = f"redirect from {origin} leaves the allow-list"
        raise DisallowedHostError(
            url, reason, attempts=0, hint="add the host to http.allowed_hosts if it is trusted"
        )

    @staticmethod
    def _redirect_target(response: _Response, attempts: int) -> str:
        location = response.headers.get("location")
        try:
            if location:
                return str(httpx.URL(response.url).join(location).copy_with(fragment=None))
        except httpx.InvalidURL:
            pass
        raise FetchError(
            response.url,
            f"redirect to an unusable Location {location!r}",
            status=response.status,
            attempts=attempts,
        )

    async def _with_retries(self, url: str, headers: dict[str, str]) -> tuple[_Response, int]:
        attempts = self.settings.max_attempts
        for attempt in range(1, attempts + 1):
            try:
                response = await self._attempt(url, headers, attempt)
            except _Transient as exc:
                if attempt == attempts:
                    raise FetchError(url, str(exc), attempts=attempt) from exc
                await self._sleep(self._backoff(attempt))
                continue
            self._raise_for_final(response, attempt)
            if not self._retryable(response.status):
                return response, attempt
            if attempt == attempts:
                raise FetchError(
                    url, "server kept failing", status=response.status, attempts=attempt
                )
            await self._sleep(self._retry_delay(response, attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _retryable(status: int) -> bool:
        return status >= 500 or status in (408, 429)

    def _raise_for_final(self, response: _Response, attempt: int) -> None:
        if response.status in BLOCK_STATUSES:
            self._blocked(
                response.url, f"challenge (HTTP {response.status})", response.status, attempt
            )
        if response.status in GONE_STATUSES:
            raise NotFoundError(response.url, "not found", status=response.status, attempts=attempt)
        if response.status >= 400 and response.content:
            # A challenge page is often served as 403 or 503 ("Just a moment..."): no retry helps.
            marker = _challenge_in(response)
            if marker:
                reason = f"challenge page (HTTP {response.status}, {marker!r})"
                self._blocked(response.url, reason, response.status, attempt)

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter: somewhere in [d/2, d] for d = base * 2^(n-1)."""
        delay = min(self.settings.backoff_max, self.settings.backoff_base * 2.0 ** (attempt - 1))
        return delay * (0.5 + self._random.random() / 2)

    def _retry_delay(self, response: _Response, attempt: int) -> float:
        after = retry_after_seconds(response.headers.get("retry-after"))
        if after is None:
            return self._backoff(attempt)
        return min(after, self.settings.retry_after_cap)

    async def _attempt(self, url: str, headers: dict[str, str], attempt: int) -> _Response:
        key = host_key(url)
        if key in self.unresolved_hosts:
            raise UnresolvedHostError(
                url, "host name did not resolve earlier in this run", attempts=0, hint=_NO_DNS
            )
        gate = self._gates.get(key)
        if gate is None:
            gate = self._gates[key] = _HostGate(
                self.settings.per_host_concurrency, self.settings.per_host_interval
            )
        async with gate.semaphore:
            wait = gate.reserve(asyncio.get_running_loop().time())
            if wait > 0:
                await self._sleep(wait)
            self.requests_made[key] = self.requests_made.get(key, 0) + 1
            if self._host_slot is None:
                return await self._send_capped(url, headers, attempt)
            return await self._send_in_slot(self._host_slot, key, url, headers, attempt)

    async def _send_in_slot(
        self, slot: HostSlot, key: str, url: str, headers: dict[str, str], attempt: int
    ) -> _Response:
        """Inside the local gate, so a process never queues more than its own limit for the
        host's shared slots; a slot that cannot be had fails the request as a FetchError."""
        async with contextlib.AsyncExitStack() as stack:
            try:
                await stack.enter_async_context(slot(key))
            except FetchError:
                raise
            except Exception as exc:
                reason = f"no request slot for host {key}: {type(exc).__name__}: {exc}"
                raise FetchError(url, reason, attempts=attempt) from exc
            return await self._send_capped(url, headers, attempt)

    async def _send_capped(self, url: str, headers: dict[str, str], attempt: int) -> _Response:
        if self._global is None:
            return await self._send_guarded(url, headers, attempt)
        async with self._global:
            return await self._send_guarded(url, headers, attempt)

    async def _send_guarded(self, url: str, headers: dict[str, str], attempt: int) -> _Response:
        try:
            async with asyncio.timeout(self.settings.total_timeout):
                return await self._send(url, headers, attempt)
        except TimeoutError as exc:
            raise _Transient(f"no complete response within {self.settings.total_timeout}s") from exc
        except httpx.TimeoutException as exc:
            raise _Transient(f"timeout ({type(exc).__name__})") from exc
        except PrivateAddressError as exc:
            raise DisallowedHostError(
                url, str(exc), attempts=0,
                hint=f"if {exc.host} is meant to be on your network (an intranet mirror), "
                "list it in http.allow_private_hosts",
            ) from None  # fmt: skip
        except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            if isinstance(exc, httpx.ConnectError) and _name_not_found(exc):
                self.unresolved_hosts.add(host_key(url))
                reason = f"host name does not resolve: {exc}"
                raise UnresolvedHostError(url, reason, attempts=attempt, hint=_NO_DNS) from exc
            raise _Transient(f"connection failed: {_network_reason(exc)}") from exc
        except httpx.HTTPError as exc:
            raise FetchError(url, f"{type(exc).__name__}: {exc}", attempts=attempt) from exc

    async def _send(self, url: str, headers: dict[str, str], attempt: int) -> _Response:
        log.debug("GET %s (attempt %d)", url, attempt)
        client = self._client_for(url)
        async with client.stream("GET", url, headers=headers) as resp:
            content = b""
            if 200 <= resp.status_code < 300:
                content = await self._read_capped(url, resp, attempt)
            elif resp.status_code >= 400:
                content = await self._read_head(resp)
            return _Response(url, resp.status_code, resp.headers, content)

    @staticmethod
    async def _read_head(resp: httpx.Response) -> bytes:
        """The start of an error page, enough to recognise a challenge served as 403/503."""
        head = bytearray()
        try:
            async for chunk in _decoded(resp):
                head += chunk[: _CHALLENGE_SCAN_BYTES - len(head)]
                if len(head) >= _CHALLENGE_SCAN_BYTES:
                    break
        except DecodingError:
            pass  # an undecodable error page is just not a challenge page
        return bytes(head)

    async def _read_capped(self, url: str, resp: httpx.Response, attempt: int) -> bytes:
        """The decoded body, refused as soon as the decoded bytes exceed ``max_bytes``."""
        cap = self.settings.max_bytes
        declared = resp.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            raise TooLargeError(
                url,
                f"Content-Length {declared} exceeds {cap} bytes",
                status=resp.status_code,
                attempts=attempt,
            )
        body = bytearray()
        try:
            async for chunk in _decoded(resp):
                if len(body) + len(chunk) > cap:
                    raise TooLargeError(
                        url, f"body exceeds {cap} bytes", status=resp.status_code, attempts=attempt
                    )
                body += chunk
        except DecodingError as exc:
            raise FetchError(
                url, f"cannot decode the body: {exc}", status=resp.status_code, attempts=attempt
            ) from None
        return bytes(body)

    # -- results -----------------------------------------------------------------------------

    def _finish(
        self, response: _Response, attempts: int, etag: str | None, last_modified: str | None
    ) -> FetchResult:
        status, headers = response.status, response.headers
        if status == 304:
            return FetchResult(
                url=response.url, status=304, content=b"",
                content_type=headers.get("content-type"), encoding=None,
                etag=headers.get("etag") or etag,
                last_modified=headers.get("last-modified") or last_modified,
                not_modified=True, attempts=attempts,
            )  # fmt: skip
        if not 200 <= status < 300:
            raise FetchError(
                response.url, f"unexpected HTTP {status}", status=status, attempts=attempts
            )
        content_type = headers.get("content-type")
        encoding = detect_encoding(response.content, content_type)
        self._check_challenge(response, encoding, attempts)
        return FetchResult(
            url=response.url, status=status, content=response.content,
            content_type=content_type, encoding=encoding, etag=headers.get("etag"),
            last_modified=headers.get("last-modified"), not_modified=False, attempts=attempts,
        )  # fmt: skip

    def _check_challenge(self, response: _Response, encoding: str | None, attempts: int) -> None:
        marker = _challenge_in(response, encoding)
        if marker:
            self._blocked(response.url, f"challenge page ({marker!r})", response.status, attempts)

    def _blocked(self, url: str, reason: str, status: int, attempts: int) -> None:
        key = host_key(url)
        if key not in self._blocked_hosts:
            self._blocked_hosts.add(key)
            log.warning(
                "%s: %s; not bypassing, further challenges from this host are quiet", key, reason
            )
        raise BlockedError(
            url, reason, status=status, attempts=attempts,
            hint="the site asks for a browser challenge; policywatch records it and moves on",
        )  # fmt: skip


async def _decoded(resp: httpx.Response) -> AsyncIterator[bytes]:
    """The body as its Content-Encoding decodes it, at most ``decompress.STEP`` bytes a piece."""
    decoder = decoder_for(resp.headers.get("content-encoding"))
    async for raw in resp.aiter_raw():
        for piece in decoder.feed(raw):
            yield piece


def fetch_url(url: str, settings: HttpSettings) -> FetchResult:
    """Synchronous one-off fetch for the CLI (one event loop, one client)."""

    async def run() -> FetchResult:
        async with PoliteClient(settings) as client:
            return await client.get(url)

    return asyncio.run(run())
