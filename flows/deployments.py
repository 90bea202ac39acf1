"""The three flows as deployments: served by ``policywatch serve`` (or ``python -m flows.deployments``).

Names and the check-updates schedule come from ``config/policywatch.yaml`` (``schedule``). No
parameter or job variable carries a secret: channel URLs reach the flow-run processes through
the serve process's environment or Prefect Secret blocks (``secret:NAME`` in channels.yaml).
"""

from __future__ import annotations

import os
from typing import Any, cast

from prefect import serve
from prefect.deployments.runner import RunnerDeployment
from prefect.schedules import Cron

from flows.check_updates import check_updates
from flows.process_issue import process_issue
from flows.send_test_alert import send_test_alert
from policywatch.settings import Config

TAGS = ["policywatch"]


def build(config: Config) -> list[RunnerDeployment]:
    """check-updates on the configured cron; process-issue and send-test-alert on demand."""
    schedule = config.app.schedule
    name = schedule.deployment
    deployments = [
        check_updates.to_deployment(
            name=name,
            schedules=[Cron(schedule.cron, timezone=schedule.timezone)],
            parameters={"dry_run": False, "deliver": True},
            description="Check the newsletter for new issues, follow notices, alert watchlists.",
            tags=TAGS,
        ),
        process_issue.to_deployment(
            name=name,
            description="Process one issue by URL or path; force re-matches a known issue.",
            tags=TAGS,
        ),
        send_test_alert.to_deployment(
            name=name,
            description="Send a sample alert to one watchlist's channels.",
            tags=TAGS,
        ),
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


def wait_for_api(seconds: float) -> bool:
    """Poll the API's health endpoint (a server started a moment ago is still migrating)."""
    import time

    import httpx

    url, deadline = api_url(), time.monotonic() + seconds
    while url and time.monotonic() < deadline:
        try:
            if httpx.get(url.rstrip("/") + "/health", timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    return False


def serve_all(config: Config | None = None, *, limit: int | None = None) -> None:
    """Register the deployments and run their flow runs until interrupted."""
    serve(*build(config or Config()), limit=limit, print_starting_message=True)


if __name__ == "__main__":
    serve_all()
