"""The flows as deployments: served by ``policywatch serve`` (or ``python -m flows.deployments``).

The check-updates schedule (cron, timezone) is defined once, in ``config/policywatch.yaml``
(``schedule``): ``build`` reads it for ``serve``, and ``prefect deploy`` reads it through
``schedule_step``, a build step of ``prefect.yaml``. The two kinds of deployment have distinct
names (``schedule.deployment``, default ``policywatch``, for ``serve``; ``workers`` in
``prefect.yaml``) so neither overwrites the other. Runs that take the state's run lock
(check-updates, process-issue) have a concurrency limit of 1: a run started while another runs
waits in Prefect's queue (``AwaitingConcurrencySlot``) instead of failing on the lock.
check-source, the runs a fan-out starts (one per source), has no deployment limit: a Prefect
deployment limit counts every run of the deployment, whatever its parameters, so it would queue
all sources behind one; runs of one source queue on that source's global concurrency limit
instead (``flows.limits``), and runs of different sources go ahead together.

No parameter or job variable carries a secret: channel URLs reach the flow-run processes through
the serve process's environment or Prefect Secret blocks (``secret:NAME`` in channels.yaml).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import httpx
from prefect import serve
from prefect.deployments.runner import RunnerDeployment
from prefect.schedules import Cron

from flows.check_source import check_source
from flows.check_updates import check_updates
from flows.process_issue import process_issue
from flows.send_test_alert import send_test_alert
from policywatch.errors import PolicywatchError
from policywatch.settings import Config

TAGS = ["policywatch"]
ONE_AT_A_TIME = 1  # runs share one state database (and its run lock): the others queue


def schedule_step() -> dict[str, str]:
    """A ``prefect deploy`` build step: the schedule of ``config/policywatch.yaml`` for the
    ``{{ policywatch-schedule.cron }}`` / ``.timezone`` templates of ``prefect.yaml``."""
    schedule = Config().app.schedule
    return {"cron": schedule.cron, "timezone": schedule.timezone}


def build(config: Config) -> list[RunnerDeployment]:
    """check-updates on the configured cron; process-issue, send-test-alert and check-source
    on demand."""
    schedule = config.app.schedule
    name = schedule.deployment
    deployments = [
        check_updates.to_deployment(
            name=name,
            schedules=[Cron(schedule.cron, timezone=schedule.timezone)],
            parameters={"dry_run": False, "deliver": True},
            description="Check the newsletter for new issues, follow notices, alert watchlists.",
            tags=TAGS,
            concurrency_limit=ONE_AT_A_TIME,
        ),
        process_issue.to_deployment(
            name=name,
            description="Process one issue by URL or path; force re-matches a known issue.",
            tags=TAGS,
            concurrency_limit=ONE_AT_A_TIME,
        ),
        send_test_alert.to_deployment(
            name=name,
            description="Send a sample alert to one watchlist's channels.",
            tags=TAGS,
        ),
        check_source.to_deployment(
            name=name,
            description="Check one source (check-updates' fan-out starts one run per source).",
            tags=TAGS,
        ),  # no deployment limit: runs of one source queue on the source's own limit
    ]
    return [cast(RunnerDeployment, d) for d in deployments]  # sync context: never a coroutine


def api_url() -> str | None:
    from prefect.settings import PREFECT_API_URL

    value: Any = PREFECT_API_URL.value()
    return str(value) if value else None


def ui_url() -> str | None:
    """Where the UI of the configured API is (a local server serves it at the API's origin)."""
    url = os.environ.get("PREFECT_UI_URL") or api_url()
    return url.removesuffix("/api") if url else None


def healthy(url: str) -> bool:
    try:
        return httpx.get(url.rstrip("/") + "/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def wait_for_api(seconds: float, url: str | None = None) -> bool:
    """Poll the API's health endpoint (a server started a moment ago is still migrating)."""
    url, deadline = url or api_url(), time.monotonic() + seconds
    while url and time.monotonic() < deadline:
        if healthy(url):
            return True
        time.sleep(0.5)
    return False


def server_env(port: int) -> dict[str, str]:
    """Host and port as settings too: the UI derives its API URL from them, not from --port."""
    return {"PREFECT_SERVER_API_HOST": "127.0.0.1", "PREFECT_SERVER_API_PORT": str(port)}


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server will
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@contextmanager
def local_server(port: int, log_path: Path, timeout: float = 120) -> Iterator[str]:
    """A local ``prefect server start`` (SQLite in PREFECT_HOME, 127.0.0.1 only: the API has no
    auth) for as long as the block runs; yields its API URL. A Prefect server already answering
    on the port is used as it is. The server runs in its own session, so a Ctrl-C reaches
    ``serve`` alone, which pauses its deployments through the still-running server; the server
    is stopped afterwards."""
    url = f"http://127.0.0.1:{port}/api"
    if healthy(url):
        yield url
        return
    if not _port_free(port):
        raise PolicywatchError(
            f"port {port} is in use by something that is not a Prefect server",
            hint="choose another port: make serve PREFECT_PORT=4201",
        )
    log_path.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1"]
    env = {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", **os.environ, **server_env(port)}
    env.pop("PREFECT_API_URL", None)
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [*cmd, "--port", str(port)], stdout=log, stderr=subprocess.STDOUT, env=env,
            start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + timeout
        while not healthy(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = log_path.read_text(encoding="utf-8", errors="replace")[-1500:]
                raise PolicywatchError(
                    f"the local Prefect server did not come up on port {port}:\n{tail}",
                    hint=f"its log: {log_path}",
                )
            time.sleep(0.5)
        yield url
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, wait, then kill."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def serve_all(config: Config | None = None, *, limit: int | None = None) -> None:
    """Register the deployments and run their flow runs until interrupted."""
    serve(*build(config or Config()), limit=limit, print_starting_message=True)


if __name__ == "__main__":
    serve_all()
