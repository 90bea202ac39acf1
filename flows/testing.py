"""A real ``prefect server start`` on a free loopback port, shared by every test of a process.

One server serves the in-process flow tests (``tests/flows``) and the UI-path tests that run
``policywatch serve`` in a subprocess (``tests/e2e``): starting it costs 10-25 s on 2 cores
(mostly database migrations), so it starts once and is reference-counted. The server's env
carries the settings that keep back-to-back runs off SQLite lock retries (batch sizes 1000).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

SERVER_ENV = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE": "1000",
    "PREFECT_SERVER_SERVICES_EVENT_PERSISTER_BATCH_SIZE": "1000",
    "PREFECT_LOGGING_LEVEL": "WARNING",
    "PREFECT_UI_ENABLED": "true",
    # a run queued behind a deployment's concurrency limit is looked at again after this many
    # seconds (default 30): tests of the queue need not wait that long
    "PREFECT_SERVER_DEPLOYMENTS_CONCURRENCY_SLOT_WAIT_SECONDS": "3",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrefectServer:
    """``prefect server start`` in a temp PREFECT_HOME; ``api`` is its API URL."""

    def __init__(self, port: int | None = None, startup_timeout: float = 90.0) -> None:
        self.home = Path(tempfile.mkdtemp(prefix="prefect-home-"))
        self.port = port or free_port()
        self.api = f"http://127.0.0.1:{self.port}/api"
        self.ui = f"http://127.0.0.1:{self.port}"
        self.startup_timeout = startup_timeout
        self.log_path = self.home / "server.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.users = 0

    def env(self) -> dict[str, str]:
        # Host and port as settings too: the UI derives its API URL from them, not from --port.
        where = {"PREFECT_SERVER_API_HOST": "127.0.0.1", "PREFECT_SERVER_API_PORT": str(self.port)}
        return {**os.environ, **SERVER_ENV, **where, "PREFECT_HOME": str(self.home)}

    def start(self) -> PrefectServer:
        cmd = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1"]
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [*cmd, "--port", str(self.port)], env=self.env(), stdout=log, stderr=log
            )
        self._wait_healthy()
        return self

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"prefect server exited: {self.log_path.read_text()[-2000:]}")
            try:
                if httpx.get(self.api + "/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"prefect server not healthy after {self.startup_timeout}s")

    def stop(self) -> None:
        """SIGTERM, wait, SIGTERM again, then kill (PREFECT.md §2: the first may be ignored)."""
        proc, self.proc = self.proc, None
        if proc is not None:
            stop_process(proc)


def stop_process(proc: subprocess.Popen[Any]) -> None:
    """SIGTERM, wait, SIGTERM again, then kill (PREFECT.md §2: the first may be ignored)."""
    for sig in (signal.SIGTERM, signal.SIGTERM):
        if proc.poll() is not None:
            return
        proc.send_signal(sig)
        try:
            proc.wait(timeout=10)
            return
        except subprocess.TimeoutExpired:
            continue
    proc.kill()
    proc.wait(timeout=10)


_shared: PrefectServer | None = None
# Chosen at import so tests can filter warnings about Prefect's own client sockets to it
# (async flows run with asyncio.run leave a pooled connection for the GC to close).
PORT = free_port()
LEAKED_SOCKET_FILTER = (
    rf"ignore:unclosed <socket\.socket .*raddr=\('127\.0\.0\.1', {PORT}\)>:ResourceWarning"
)


def acquire() -> PrefectServer:
    """The process's shared server, started on first use."""
    global _shared
    if _shared is None:
        _shared = PrefectServer(PORT).start()
    _shared.users += 1
    return _shared


def _flush_logs() -> None:
    """Send buffered run logs while the server still answers (else: 'Error logging to API')."""
    try:
        from prefect.logging.handlers import APILogWorker

        APILogWorker.drain_all(timeout=5)
    except Exception:
        pass  # best effort at shutdown


def stop_client_services() -> None:
    """Stop the threads an in-process flow run leaves behind (run logs, events).

    The events worker keeps a websocket to the server whose keep-alive pings draw from the
    global ``random``; left running, it makes unrelated hypothesis tests fail their "strategy
    must not use random" check. The services start again on the next flow run.
    """
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for service in (APILogWorker, EventsWorker):
        service.drain_all(timeout=10, at_exit=False)


def release() -> None:
    """Stop the shared server when its last user is done."""
    global _shared
    if _shared is None:
        return
    _shared.users -= 1
    if _shared.users <= 0:
        _flush_logs()
        _shared.stop()
        _shared = None


class _RetryBusy(httpx.HTTPTransport):
    """Retries the 503 a SQLite-backed server answers while its database is locked, as
    Prefect's own client does (a raw client replaying the UI's calls needs the same)."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        for _ in range(10):
            response = super().handle_request(request)
            if response.status_code != 503:
                return response
            response.close()
            time.sleep(1)
        return super().handle_request(request)


def api_client(api: str) -> httpx.Client:
    """An httpx client for the server's REST API (the calls the UI makes)."""
    return httpx.Client(base_url=api, timeout=10, transport=_RetryBusy())
