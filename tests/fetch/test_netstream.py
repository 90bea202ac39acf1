"""The quick idle check: a connection the server closed is never reused, over TCP and TLS."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest

from policywatch.netstream import QuickIdleBackend, _Stream, quick_idle_checks
from policywatch.transport import HostMapTransport

pytestmark = pytest.mark.anyio

REPLY = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok"


class ClosingServer:
    """Answers each connection's first request with a keep-alive reply, then hangs up: the
    client's pooled connection is dead by its next request."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.connections = 0
        self._tls = tls
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            stream = self._tls.wrap_socket(conn, server_side=True) if self._tls else conn
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = stream.recv(4096)
                if not chunk:
                    return
                data += chunk
            stream.sendall(REPLY)
            time.sleep(0.02)
            if self._tls:
                stream.close()

    def close(self) -> None:
        self._listener.close()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def certificate(tmp_path: Path) -> Path:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed: no certificate for the TLS server")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "cert.pem"),
         "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return tmp_path


@pytest.fixture
def plain_server() -> Iterator[ClosingServer]:
    server = ClosingServer()
    yield server
    server.close()


async def _twice(client: httpx.AsyncClient, url: str) -> list[httpx.Response]:
    """Two requests; the server address each one's connection reports is kept in its
    extensions (read while the connection is open)."""
    responses = []
    for _ in range(2):
        response = await client.get(url)
        stream = response.extensions["network_stream"]
        response.extensions["peer"] = stream.get_extra_info("server_addr")
        responses.append(response)
        await response.aclose()
        await anyio.sleep(0.15)  # the server hangs up meanwhile
    return responses


async def test_a_connection_the_server_closed_is_not_reused(plain_server: ClosingServer) -> None:
    transport = httpx.AsyncHTTPTransport()
    quick_idle_checks(transport)
    async with httpx.AsyncClient(transport=transport) as client:
        first, second = await _twice(client, f"http://127.0.0.1:{plain_server.port}/")
    assert (first.text, second.text) == ("ok", "ok")
    assert plain_server.connections == 2  # the dead one was dropped, a new one opened
    assert isinstance(first.extensions["network_stream"], _Stream)
    assert first.extensions["peer"] == ("127.0.0.1", plain_server.port)  # asked of anyio


async def test_tls_connections_get_the_quick_check_too(certificate: Path) -> None:
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(certificate / "cert.pem", certificate / "key.pem")
    server = ClosingServer(server_tls)
    client_tls = ssl.create_default_context(cafile=str(certificate / "cert.pem"))
    transport = httpx.AsyncHTTPTransport(verify=client_tls)
    quick_idle_checks(transport)
    try:
        async with httpx.AsyncClient(transport=transport) as client:
            first, second = await _twice(client, f"https://localhost:{server.port}/")
    finally:
        server.close()
    assert (first.text, second.text) == ("ok", "ok")
    assert server.connections == 2
    stream = first.extensions["network_stream"]
    assert isinstance(stream, _Stream)  # the stream start_tls returned is wrapped as well
    assert stream.get_extra_info("ssl_object") is not None


def test_applied_once_and_to_the_host_maps_transport() -> None:
    transport = httpx.AsyncHTTPTransport()
    quick_idle_checks(transport)
    quick_idle_checks(transport)
    backend = transport._pool._network_backend
    assert isinstance(backend, QuickIdleBackend)
    assert not isinstance(backend._inner, QuickIdleBackend)
    mapped = HostMapTransport("http://127.0.0.1:1")
    assert isinstance(mapped._inner._pool._network_backend, QuickIdleBackend)  # type: ignore[attr-defined]
