"""Prefect's temporary local API for ``policywatch run`` when no Prefect API is configured.

Prefect would start the same server itself the first time the flow needs its API, but to do so
it imports the server's code into the CLI process (about 65 MB of RSS the run never uses) and
starts it only after the flow's imports. policywatch starts it first, with the command Prefect
3.9 runs (uvicorn on ``prefect.server.api.server:create_app``, UI off, ephemeral services), so
its start-up overlaps the CLI's imports; the run then points ``PREFECT_API_URL`` at it. Runs and
logs land in ``$PREFECT_HOME/prefect.db`` exactly as with Prefect's own temporary server.

Only ``prefect.settings`` is imported here. The server ends with the CLI: at exit, and through
the kernel's parent-death signal when the CLI is killed outright.
"""

from __future__ import annotations

import atexit
import ctypes
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from policywatch.errors import PolicywatchError

STARTUP_FAILED = 3  # uvicorn's exit code when it cannot bind, or its app fails to start


def start_unless_configured() -> TemporaryAPI | None:
    """Start the temporary API unless an API is configured (env or profile; an earlier call
    in this process configures its own); a PolicywatchError if Prefect is told not to start
    one. It runs until the process exits, so the demo's three runs share it, as they would
    Prefect's."""
    from prefect.settings import get_current_settings

    settings = get_current_settings()
    if settings.api.url:
        return None
    if not settings.server.ephemeral.enabled:
        raise PolicywatchError(
            "no Prefect API is configured, and a temporary one is turned off "
            "(PREFECT_SERVER_ALLOW_EPHEMERAL_MODE is false)",
            hint="set PREFECT_API_URL to a running Prefect server (make serve starts one), or "
            "unset PREFECT_SERVER_ALLOW_EPHEMERAL_MODE",
        )
    api = TemporaryAPI().start()
    atexit.register(api.stop)
    return api


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _parent_death_signal() -> Callable[[], None] | None:
    """Linux: a ``preexec_fn`` that has the kernel send the server SIGTERM when the CLI dies
    (kill -9 included). Resolved here, in the parent: the child only calls it."""
    if not sys.platform.startswith("linux"):
        return None  # the stop at exit still applies
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (AttributeError, OSError):
        return None
    return lambda: prctl(1, signal.SIGTERM)  # 1: PR_SET_PDEATHSIG


class TemporaryAPI:
    """``start()`` returns at once; ``wait()`` blocks until ``/api/health`` answers."""

    def __init__(self) -> None:
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.serving = False  # healthy, and this process's Prefect settings point at it
        self._log = Path(tempfile.mkstemp(prefix="policywatch-prefect-api-", suffix=".log")[1])

    @staticmethod
    def startup_timeout() -> float:
        """``PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS`` (``policywatch run``: 90)."""
        from prefect.settings import get_current_settings

        return float(get_current_settings().server.ephemeral.startup_timeout_seconds)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def start(self) -> TemporaryAPI:
        import prefect
        from prefect.settings import get_current_settings

        self.port = _free_port()
        env = {
            **os.environ,
            **get_current_settings().to_environment_variables(exclude_unset=True),
            "PREFECT_UI_ENABLED": "0",
            "PREFECT__SERVER_EPHEMERAL": "1",
            "PREFECT__SERVER_FINAL": "1",
        }
        env.pop("PREFECT_API_URL", None)
        app_dir = str(Path(prefect.__file__).parent.parent)
        cmd = [
            sys.executable, "-m", "uvicorn", "--app-dir", app_dir,
            "--factory", "prefect.server.api.server:create_app",
            "--host", "127.0.0.1", "--port", str(self.port),
            "--log-level", "error", "--lifespan", "on",
        ]  # fmt: skip
        with self._log.open("ab") as log:
            self.proc = subprocess.Popen(
                cmd, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                preexec_fn=_parent_death_signal(),
            )  # fmt: skip
        return self

    def wait(self, timeout: float) -> str:
        """Block until the API is healthy, then point this process's Prefect settings at it;
        a PolicywatchError with the server's output if it exits or does not answer within
        ``timeout`` seconds (another port is tried if it was taken)."""
        url = self._healthy(timeout)
        from prefect.context import refresh_global_settings_context

        os.environ["PREFECT_API_URL"] = url
        refresh_global_settings_context()  # threads (log and event workers) included
        self.serving = True
        return url

    def _healthy(self, timeout: float) -> str:
        deadline, tries = time.monotonic() + timeout, 0
        with httpx.Client(timeout=2) as client:
            while time.monotonic() < deadline:
                assert self.proc is not None
                code = self.proc.poll()
                if code == STARTUP_FAILED and self._port_taken() and tries < 3:
                    tries += 1
                    self.start()  # another process took the port between bind and start
                    continue
                if code is not None:
                    raise self._failed(f"exited with code {code}")
                try:
                    if client.get(self.url + "/health").status_code == 200:
                        return self.url
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
        raise self._failed(f"did not answer within {timeout:.0f} s")

    def _port_taken(self) -> bool:
        return "address already in use" in self._log.read_text("utf-8", errors="replace").lower()

    def _failed(self, what: str) -> PolicywatchError:
        tail = self._log.read_text("utf-8", errors="replace")[-1500:].strip()
        self.stop()
        return PolicywatchError(
            f"Prefect's temporary API {what}" + (f":\n{tail}" if tail else ""),
            hint="set PREFECT_API_URL to a running Prefect server (make serve starts one), or "
            "raise PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS",
        )

    def stop(self) -> None:
        """Send what Prefect's log and event workers still hold, then SIGTERM the server and
        kill it after 5 s (as Prefect stops its own)."""
        if self.serving and self.proc is not None and self.proc.poll() is None:
            _drain_prefect_workers()
        proc, self.proc, self.serving = self.proc, None, False
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._log.unlink(missing_ok=True)


def _drain_prefect_workers() -> None:
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for worker in (APILogWorker, EventsWorker):
        worker.drain_all(timeout=5)
