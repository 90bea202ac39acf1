"""A ministry's list entries as items: the notice read, then matched and recorded as a one-item
"issue" of section ``notice``. One document is one item whichever site listed it first; a final
version names the draft it follows; a notice item whose page is read again with another text
is revised."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import TYPE_CHECKING

from parsers.records import Notice
from policywatch import pipeline as p
from policywatch.alerting import Prior
from policywatch.followups import finals
from policywatch.intake.results import IssueResult
from policywatch.models import Alert
from policywatch.notice_items import draft, family_of, identity_of, notice_issue, notice_item_id
from policywatch.sources import Candidate, Verdict
from policywatch.store.documents import AlertedDocument, Document
from policywatch.summary import RunSummary

if TYPE_CHECKING:
    from policywatch.intake.core import Intake

__all__ = ["alerted_now", "document_of", "handle_notice", "process_notice", "revise_notice_items"]


async def process_notice(intake: Intake, candidate: Candidate) -> IssueResult:
    """A ministry list entry: its notice read (once per run, with backoff), then matched
    and recorded as a one-item issue of section ``notice``."""
    url = candidate.url or candidate.key
    state = await asyncio.to_thread(intake.rt.store.snapshot, "", [], [url])
    [notice] = await intake.reader.get([url], state)
    if notice.status != "ok":
        reason = f"{notice.status}: {notice.error or 'not readable'}"
        verdict: Verdict = "done" if notice.status == "gave_up" else "failed"
        result = intake.failed(candidate, reason)
        return IssueResult(candidate, verdict, reason, result.summary, candidate.published)
    part = RunSummary(run_id=intake.rt.run_id, dry_run=intake.dry_run)
    await handle_notice(intake, notice, candidate, part)
    return IssueResult(candidate, "done", "", part, notice.published or candidate.published)


async def handle_notice(
    intake: Intake, notice: Notice, candidate: Candidate, part: RunSummary
) -> None:
    rt, source = intake.rt, intake.source_settings(candidate.source)
    issue = notice_issue(notice, source.site or source.name if source else candidate.source)
    fetched = p.tag_issue(p.FetchedIssue(candidate.source, notice.url, issue, ""), rt.taxonomy)
    [item] = fetched.issue.items
    snap = await asyncio.to_thread(rt.store.snapshot, notice.url, [item.id], [])
    changes = p.changes_from(snap, [item])
    if snap.item_issue.get(item.id, notice.url) != notice.url:
        # the same document read first on another site (gov.cn's library, a ministry):
        # one document, one item; the first copy stays as it was
        p.summarise_issue(part, fetched, {item.id: "unchanged"}, [notice], [])
        return
    links = {item.id: [notice.url]}
    matches = [] if changes[item.id] == "unchanged" and not intake.force else p.match_items(
        rt.matcher, fetched, changes, [notice], links, force=intake.force
    )  # fmt: skip
    prior: Prior = {}
    if matches and not draft(notice):
        prior = finals(item, await asyncio.to_thread(rt.store.drafts_alerted, family_of(notice)))
    alerts = p.build_alerts(rt.watchlists, matches, [item], changes, rt.run_id, prior)
    alerts = intake.baseline(fetched, alerts, part)
    p.summarise_issue(part, fetched, changes, [notice], matches)
    if intake.dry_run:
        return
    record = await asyncio.to_thread(
        p.record_issue, rt.store, fetched, snap, [notice], links, alerts, rt.run_id,
        document_of(notice, item.id),
    )  # fmt: skip
    part.count_enqueued(alerts, record.enqueued_keys)
    added = set(record.enqueued_keys)
    intake.alerted += [alerted_now(a, notice, intake.now.date()) for a in alerts if a.key in added]


async def revise_notice_items(intake: Intake, listed: set[str]) -> RunSummary:
    """Notice items whose page was read again in this run (a MERICS story cited it, a retry)
    with another text: revised, and alerted with what changed, as items are. A notice that
    is only cited (never a list entry) has no item and stays a notice."""
    part = RunSummary(run_id=intake.rt.run_id, dry_run=intake.dry_run)
    for url, notice in intake.reader.changed.items():
        if url in listed:  # read as a list entry in this run: handled there
            continue
        item_id = notice_item_id(identity_of(notice))
        snap = await asyncio.to_thread(intake.rt.store.snapshot, url, [item_id], [])
        if item_id not in snap.item_hashes:
            continue
        candidate = Candidate(
            source=notice.site, url=url, path=None, content=None, key=url,
            title=notice.title, published=notice.published, kind="notice",
        )  # fmt: skip
        await handle_notice(intake, notice, candidate, part)
    return part


def document_of(notice: Notice, item_id: str) -> Document:
    return Document(
        identity=identity_of(notice), family=family_of(notice), is_draft=draft(notice),
        item_id=item_id, url=notice.url, title=notice.title, doc_number=notice.doc_number,
        published=notice.published,
    )  # fmt: skip


def alerted_now(alert: Alert, notice: Notice, day: dt.date) -> AlertedDocument:
    """An alert enqueued in this run (on the run's ``day``), as the follow-up check sees alerts
    of earlier runs."""
    names = tuple(g.watchlist for g in alert.reasons)
    label = notice.doc_number or notice.title or notice.url
    return AlertedDocument(alert.item_id, alert.channel, names, day, label)
