"""``process-issue``: one issue by URL or file path, e.g. a PDF received by e-mail.

``force`` re-matches an issue that is already recorded (after a watchlist change); the outbox's
idempotency keys still make sure nobody gets the same alert twice.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger

from flows.check_updates import process_issue_task, run_name
from flows.common import deliver_step, execute, parse_pool, run_timeout
from policywatch import pipeline as p
from policywatch.errors import PolicywatchError
from policywatch.intake import Intake, process_all
from policywatch.sources import Candidate

SOURCE = "manual"


async def _issue_runner(label: str, work: Any) -> Any:
    return await process_issue_task(label, work)


def candidate_for(location: str) -> Candidate:
    """A URL is fetched by the task (with retries); a path is read now, so a typo fails fast."""
    if location.startswith(("http://", "https://")):
        return Candidate(source=SOURCE, url=location, path=None, content=None, key=location)
    path = Path(location).expanduser()
    if not path.is_file():
        raise PolicywatchError(f"{location}: no such file", hint="give a URL or an existing path")
    data = path.read_bytes()
    key = "sha256:" + hashlib.sha256(data).hexdigest()
    return Candidate(source=SOURCE, url=None, path=path.resolve(), content=data, key=key)


@flow(name="process-issue", flow_run_name=run_name, log_prints=False, timeout_seconds=run_timeout())
async def process_issue(
    location: str, force: bool = False, dry_run: bool = False, deliver: bool = True
) -> Any:
    """Process one newsletter issue given by URL or file path (HTML, PDF or text).

    Args:
        location: The issue's URL (https://merics.org/en/merics-briefs/...) or a file path on the worker.
        force: Match again even if this issue is already recorded (alerts stay deduplicated).
        dry_run: Match and report only: nothing is recorded, no alert is enqueued or sent.
        deliver: Send the pending alerts at the end of the run.
    """

    async def body(rt: p.Runtime, summary: p.RunSummary) -> None:
        candidate = candidate_for(location)  # a missing file: the run's one-line failure
        async with p.make_client(rt.config.app.http) as client, parse_pool(rt.config) as pool:
            intake = Intake(rt, client, pool, dry_run=dry_run, force=force)
            [result] = await process_all(intake, [candidate], _issue_runner)
            await intake.flush_notices()
        if result.summary is not None:
            summary.merge(result.summary)
        if result.verdict == "failed":
            raise PolicywatchError(f"{location}: {result.reason}")
        if not summary.issues:
            raise PolicywatchError(f"{location}: {result.reason or 'not an issue'}")
        get_run_logger().info("process: %s", summary.issues[-1].status)
        if deliver and not dry_run:
            await deliver_step(rt, summary)

    return await execute("process-issue", dry_run, deliver, body)
