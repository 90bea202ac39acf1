"""Connections that answer httpcore's idle check cheaply.

Before every request httpcore asks each pooled connection whether the server closed it
(``get_extra_info("is_readable")``). Its anyio stream answers by rebuilding the socket's whole
attribute table, a ``getpeername`` call included, to fetch the socket it already had: in a
backfill that was 8 % of the event loop's busy time. These streams keep the socket from the
connect and ask it directly, the same poll httpcore makes; everything else is the inner stream's.
"""

from __future__ import annotations

import select
import socket
import ssl
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

__all__ = ["QuickIdleBackend", "quick_idle_checks"]


def _readable(sock: socket.socket | None) -> bool:
    """True when a read would not block: data, or the server's close (as httpcore decides)."""
    if sock is None or sock.fileno() < 0:
        return True  # gone: as if the next read returned the closing b""
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


class _Stream(httpcore.AsyncNetworkStream):
    __slots__ = ("_inner", "_socket")

    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner
        self._socket: socket.socket | None = inner.get_extra_info("socket")

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109  (httpcore's interface)
    ) -> httpcore.AsyncNetworkStream:
        return _Stream(await self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            return _readable(self._socket)
        return self._inner.get_extra_info(info)


class QuickIdleBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend whose streams are :class:`_Stream`."""

    def __init__(self, inner: httpcore.AsyncNetworkBackend) -> None:
        self._inner = inner

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109  (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return _Stream(
            await self._inner.connect_tcp(
                host, port, timeout=timeout, local_address=local_address,
                socket_options=socket_options,
            )
        )  # fmt: skip

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109  (httpcore's interface)
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:  # pragma: no cover - no unix sockets are configured
        return _Stream(
            await self._inner.connect_unix_socket(
                path, timeout=timeout, socket_options=socket_options
            )
        )

    async def sleep(self, seconds: float) -> None:  # pragma: no cover - used by httpcore retries
        await self._inner.sleep(seconds)


def quick_idle_checks(transport: httpx.AsyncBaseTransport) -> None:
    """Give an httpx transport's connection pool :class:`QuickIdleBackend` (other transports,
    such as a test's mock, are left alone)."""
    pool = getattr(transport, "_pool", None)
    backend = getattr(pool, "_network_backend", None)
    if backend is not None and not isinstance(backend, QuickIdleBackend):
        pool._network_backend = QuickIdleBackend(backend)  # type: ignore[union-attr]
