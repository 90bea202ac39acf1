"""``process-issue``: one issue by URL or file path, e.g. a PDF received by e-mail.

``force`` re-matches an issue that is already recorded (after a watchlist change); the outbox's
idempotency keys still make sure nobody gets the same alert twice.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger

from flows.check_updates import process_candidate
from flows.common import deliver_step, finish, guarded, open_run
from policywatch import pipeline as p
from policywatch.errors import PolicywatchError
from policywatch.sources import Candidate

SOURCE = "manual"


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


@flow(name="process-issue", log_prints=False)
async def process_issue(
    location: str, force: bool = False, dry_run: bool = False, deliver: bool = True
) -> dict[str, Any]:
    """Process one newsletter issue given by URL or file path (HTML, PDF or text).

    Args:
        location: The issue's URL (https://merics.org/en/merics-briefs/...) or a file path on the worker.
        force: Match again even if this issue is already recorded (alerts stay deduplicated).
        dry_run: Match and report only: nothing is recorded, no alert is enqueued or sent.
        deliver: Send the pending alerts at the end of the run.
    """
    candidate = candidate_for(location)
    rt, summary = open_run(dry_run)
    async with guarded(rt, summary, "process-issue"):
        async with p.make_client(rt.config.app.http) as client:
            ok = await process_candidate(
                rt, client, candidate, summary, dry_run=dry_run, force=force
            )
        if not ok:
            raise PolicywatchError(f"{location}: {summary.issues[-1].error}")
        get_run_logger().info("process: %s", summary.issues[-1].status)
        if deliver and not dry_run:
            await deliver_step(rt, summary)
        return await finish(rt, summary, "process-issue")
