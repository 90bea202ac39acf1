"""The retry step: cited notices that failed before and are due (or were never written) are read
again, and items whose notice is readable now are matched again."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from policywatch import pipeline as p
from policywatch.models import Change
from policywatch.summary import NoticeRow, RunSummary

if TYPE_CHECKING:
    from policywatch.intake.core import Intake

__all__ = ["retry_notices"]


async def retry_notices(intake: Intake, done: set[str]) -> RunSummary:
    """Cited notices that failed before (or were never written) and are due: fetched again;
    items whose notice is readable now are matched again (the outbox keys keep anyone from
    getting an alert twice, so only matches that needed the notice's text add alerts)."""
    part = RunSummary(run_id=intake.rt.run_id, dry_run=intake.dry_run)
    due = await asyncio.to_thread(intake.rt.store.notices_to_retry, intake.now)
    todo = {issue: links for issue, links in due.items() if issue not in done}
    parts = await asyncio.gather(*(_retry_issue(intake, i, links) for i, links in todo.items()))
    for one in parts:
        part.merge(one)
    return part


async def _retry_issue(intake: Intake, issue_id: str, links: dict[str, list[str]]) -> RunSummary:
    rt, part = intake.rt, RunSummary(run_id=intake.rt.run_id, dry_run=intake.dry_run)
    fetched = await asyncio.to_thread(p.stored_issue, rt.store, issue_id, links)
    if fetched is None:
        return part
    urls = list(dict.fromkeys(u for us in links.values() for u in us))
    snap = await asyncio.to_thread(rt.store.snapshot, issue_id, list(links), urls)
    notices = await intake.reader.get(urls, snap)
    part.notices += [NoticeRow(n.url, n.site, n.status, n.title, n.error) for n in notices]
    again = p.recovered(notices, links)
    changes: dict[str, Change] = dict.fromkeys(again, "new")
    matches = p.match_items(rt.matcher, fetched, changes, notices, again) if again else []
    alerts = p.build_alerts(rt.watchlists, matches, fetched.issue.items, changes, rt.run_id)
    p.add_matches(part, fetched, changes, matches, notices)
    if alerts and not intake.dry_run:
        record = await asyncio.to_thread(
            p.record_issue, rt.store, fetched, snap, notices, links, alerts, rt.run_id
        )
        part.count_enqueued(alerts, record.enqueued_keys)
    return part
