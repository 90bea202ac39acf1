"""The loopback host map: ``POLICYWATCH_HOST_MAP=http://127.0.0.1:PORT`` sends every request to
that server under ``/<original host>/<path>``.

Why it exists: the demo, the tests and the benchmarks serve pages that cite the real ministry
URLs; mapping the hosts keeps those URLs (and so item ids, canonical URLs and the allow-list)
exactly as in production. Only loopback targets are accepted, so the hook cannot send traffic
anywhere else.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Callable

import httpx

from policywatch.errors import StateError
from policywatch.netstream import quick_idle_checks

__all__ = ["HOST_MAP_ENV", "LOOPBACK_HOSTS", "HostMapTransport", "host_map_factory"]

HOST_MAP_ENV = "POLICYWATCH_HOST_MAP"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def _loopback(base: str) -> httpx.URL:
    target = httpx.URL(base)
    if target.host not in LOOPBACK_HOSTS:
        raise StateError(f"{HOST_MAP_ENV}={base}: only a loopback server may be mapped")
    return target


class HostMapTransport(httpx.AsyncBaseTransport):
    """Sends ``https://host/path`` to ``<base>/host/path`` on a loopback server."""

    def __init__(self, base: str, inner: httpx.AsyncBaseTransport | None = None) -> None:
        self._base = _loopback(base)
        self._inner = inner or httpx.AsyncHTTPTransport()
        quick_idle_checks(self._inner)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        mapped = self._base.copy_with(path=f"/{url.host}{url.path}", query=url.query or None)
        headers = [(k, v) for k, v in request.headers.raw if k.lower() != b"host"]
        headers.insert(0, (b"Host", mapped.netloc))
        forwarded = httpx.Request(
            request.method,
            mapped,
            headers=headers,
            stream=request.stream,
            extensions=request.extensions,
        )
        return await self._inner.handle_async_request(forwarded)

    async def aclose(self) -> None:
        await self._inner.aclose()


def host_map_factory() -> Callable[[ssl.SSLContext], HostMapTransport] | None:
    """Makes a mapping transport per host when ``POLICYWATCH_HOST_MAP`` is set, else None
    (production). Checked once, so a bad value fails before any request."""
    base = os.environ.get(HOST_MAP_ENV)
    if not base:
        return None
    _loopback(base)
    return lambda tls: HostMapTransport(base, httpx.AsyncHTTPTransport(verify=tls))
