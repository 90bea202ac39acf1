"""Addresses, not only names: a host is resolved once, refused when it resolves to an address
that is not public, and connected to at the very address that was checked.

Why: the allow-list checks host names. A listed name whose DNS answer points at 127.0.0.1, a
private network or a link-local metadata service (DNS rebinding, or a hijacked record) would
otherwise reach inside. Resolving once and connecting to that checked address leaves a
rebinding server no second answer to give. TLS (SNI and the certificate check) and the Host
header still use the name: httpcore takes them from the URL; only the TCP connect goes to the
address.

Not guarded, by design: requests through an injected transport (the loopback host map of the
tests and the demo goes to loopback on purpose), requests through an HTTP proxy from the
environment (the proxy resolves the name), and IP addresses written in ``http.allowed_hosts``
(the user chose the address). Hosts in ``http.allow_private_hosts`` (an intranet mirror) may
resolve to private addresses.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from typing import Any

import anyio
import httpcore
import httpx

__all__ = ["CheckedBackend", "PrivateAddressError", "guard", "not_public"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class PrivateAddressError(Exception):
    """A host resolved to an address that is not public; nothing was connected."""

    def __init__(self, host: str, address: str, kind: str) -> None:
        self.host, self.address, self.kind = host, address, kind
        super().__init__(f"{host} resolves to {address} ({kind}), not a public address")


def not_public(ip: IPAddress) -> str | None:
    """What kind of non-public address ``ip`` is, or None when it is a public one."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    kinds = (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("reserved", ip.is_reserved),
        ("private", ip.is_private),
    )
    found = next((kind for kind, hit in kinds if hit), None)
    return found or (None if ip.is_global else "not globally routable")


class CheckedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend with the address check between the lookup and the connect."""

    def __init__(
        self, may_be_private: Callable[[str], bool], inner: httpcore.AsyncNetworkBackend
    ) -> None:
        self._may_be_private = may_be_private
        self._inner = inner

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109  (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self._checked(host, port, lookup_limit=timeout)
        failure: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address,
                    socket_options=socket_options,
                )  # fmt: skip
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None  # _checked never returns an empty list
        raise failure

    async def _checked(self, host: str, port: int, *, lookup_limit: float | None) -> list[str]:
        """The addresses of ``host``, each checked; an IP literal is used as written."""
        try:
            ipaddress.ip_address(host)
        except ValueError:
            pass
        else:
            return [host]
        found = await _resolve(host, port, lookup_limit)
        if not self._may_be_private(host):
            for address in found:
                kind = not_public(ipaddress.ip_address(address))
                if kind:
                    raise PrivateAddressError(host, address, kind)
        return found

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109  (httpcore's interface)
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:  # pragma: no cover - no unix sockets are configured
        return await self._inner.connect_unix_socket(
            path, timeout=timeout, socket_options=socket_options
        )

    async def sleep(self, seconds: float) -> None:  # pragma: no cover - used by httpcore retries
        await self._inner.sleep(seconds)


async def _resolve(host: str, port: int, limit: float | None) -> list[str]:
    """One lookup; errors become httpcore's (the socket error kept as the cause)."""
    try:
        with anyio.fail_after(limit):
            infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except TimeoutError as exc:
        raise httpcore.ConnectTimeout(f"no answer for {host} within {limit}s") from exc
    except OSError as exc:  # socket.gaierror: no such name, temporary failure
        raise httpcore.ConnectError(str(exc)) from exc
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise httpcore.ConnectError(f"{host} has no address")
    return addresses


def guard(client: httpx.AsyncClient, may_be_private: Callable[[str], bool]) -> None:
    """Route the direct connections of ``client``'s own transport through ``CheckedBackend``
    (its proxy mounts from the environment, if any, are left as they are)."""
    transport = client._transport  # httpx's default transport, built from the client's options
    pool = getattr(transport, "_pool", None)
    if not hasattr(pool, "_network_backend"):  # an httpx/httpcore that changed: fail, not open
        raise RuntimeError("cannot guard this httpx client: no connection pool backend found")
    pool._network_backend = CheckedBackend(may_be_private, pool._network_backend)  # type: ignore[union-attr]
