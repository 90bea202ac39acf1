"""``Intake``: what one run shares across its issues, and the work on one candidate (read,
parse in the pool, notices, diff, match, record in one transaction)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from parsers.errors import ParseError
from parsers.records import Notice
from policywatch import pipeline as p
from policywatch.errors import FetchError
from policywatch.followups import commentary
from policywatch.http import PoliteClient
from policywatch.intake.ministry import process_notice, revise_notice_items
from policywatch.intake.notices import NoticeReader
from policywatch.intake.results import IssueFailed, IssueResult
from policywatch.intake.retry import retry_notices
from policywatch.jobs import ParsedPage
from policywatch.models import Alert
from policywatch.pool import Pool
from policywatch.settings import SourceSettings
from policywatch.sources import Candidate, SourceState, Verdict, list_candidates, settle
from policywatch.sources.imap import settle_mailbox
from policywatch.sources.merics import page_url, verdict_for
from policywatch.store.documents import AlertedDocument
from policywatch.summary import FailureCause, IssueOutcome, RunSummary, SourceOutcome

__all__ = ["Intake"]


@dataclass
class Intake:
    """The shared parts of one run's intake: runtime, client, pool, the notices read so far."""

    rt: p.Runtime
    client: PoliteClient
    pool: Pool
    dry_run: bool = False
    since: dt.date | None = None
    force: bool = False
    now: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    resolver: Callable[[str], str] | None = None  # secret:NAME settings (Prefect Secret blocks)
    alert_existing: bool = False  # a source's first run alerts old items too (no baseline)
    alerted: list[AlertedDocument] = field(default_factory=list)  # for follow-ups (see run_intake)
    in_baseline: set[str] = field(default_factory=set)  # sources on their first run
    reader: NoticeReader = field(init=False)

    def __post_init__(self) -> None:
        self.reader = NoticeReader(
            self.rt.store, self.client, self.pool, self.rt.config.app.notices, self.now,
            self.dry_run,
        )  # fmt: skip

    # -- sources --------------------------------------------------------------------------

    async def list_source(
        self, source: SourceSettings
    ) -> tuple[list[Candidate], SourceState, SourceOutcome]:
        state = SourceState.model_validate(self.rt.store.source_state(source.name) or {})
        found, new_state = await list_candidates(
            source, self.client, state, since=self.since, root=self.rt.config.root, now=self.now,
            resolver=self.resolver,
        )  # fmt: skip
        ok = new_state.consecutive_failures == 0
        error = None if ok else new_state.last_error
        if not state.extra.get("baseline_done", state.last_ok is not None):
            self.in_baseline.add(source.name)
        failures = new_state.consecutive_failures
        return found, new_state, SourceOutcome(source.name, ok, len(found), error, failures)

    async def settle_source(
        self, source: SourceSettings, state: SourceState, results: Sequence[IssueResult]
    ) -> SourceState:
        """Record what became of the source's candidates (nothing in a dry run)."""
        outcomes = {r.candidate.key: (r.verdict, r.candidate, r.reason) for r in results}
        new = settle(state, outcomes, now=self.now, delays=self.rt.config.app.notices.retry_delays)
        new.extra["baseline_done"] = True  # a killed first run finishes its baseline next run
        if self.dry_run:
            return new
        if source.type == "imap":
            new = await asyncio.to_thread(settle_mailbox, source, new, outcomes, self.resolver)
        self.rt.store.save_source_state(source.name, new.model_dump(mode="json"))
        return new

    # -- one issue ------------------------------------------------------------------------

    async def process(self, candidate: Candidate) -> IssueResult:
        """One candidate end to end; raises IssueFailed (or a state error) when it failed."""
        try:
            return await self._process(candidate)
        except (FetchError, ParseError) as exc:
            cause: FailureCause = "parse" if isinstance(exc, ParseError) else "fetch"
            raise IssueFailed(self.failed(candidate, str(exc), cause)) from exc

    def failed(
        self, candidate: Candidate, error: str, cause: FailureCause = "fetch"
    ) -> IssueResult:
        where = p.candidate_location(candidate)
        part = RunSummary(run_id=self.rt.run_id, dry_run=self.dry_run)
        part.issues.append(IssueOutcome(
            where, candidate.source, "failed", candidate.title, candidate.published, error=error,
            cause=cause,
        ))  # fmt: skip
        return IssueResult(candidate, "failed", error, part, candidate.published)

    async def _process(self, candidate: Candidate) -> IssueResult:
        if candidate.error is not None:  # listed, but unreadable (a mail with no document)
            raise IssueFailed(self.failed(candidate, candidate.error))
        if candidate.kind == "notice":
            return await process_notice(self, candidate)
        candidate = await self._read(candidate)
        page = await self._parse(candidate)
        if candidate.labelled and page.kind is not None:
            verdict, candidate, reason = verdict_for(
                candidate, page.kind, page.title, page.published, None, self.since
            )
            if verdict != "done":
                return self._settled_early(candidate, verdict, reason)
        part = RunSummary(run_id=self.rt.run_id, dry_run=self.dry_run)
        fetched = page.fetched
        if fetched is None:
            return self._settled_early(candidate, "out_of_scope", "not a China Industries issue")
        published = fetched.issue.issue.published or candidate.published
        if self.since and published and published < self.since:
            return IssueResult(candidate, "later", "published before --since", None, published)
        await self._handle(fetched, part)
        return IssueResult(candidate, "done", "", part, published)

    def _settled_early(self, candidate: Candidate, verdict: Verdict, reason: str) -> IssueResult:
        """A candidate that is no issue to process: another series, an unrecognised page."""
        part = RunSummary(run_id=self.rt.run_id, dry_run=self.dry_run)
        where = p.candidate_location(candidate)
        if verdict == "unrecognised":  # an operator should know: shown as a warning
            part.issues.append(IssueOutcome(
                where, candidate.source, "unrecognised", candidate.title, candidate.published,
                error=reason,
            ))  # fmt: skip
        elif verdict == "out_of_scope" and not candidate.labelled:  # a file that is no issue
            part.issues.append(IssueOutcome(where, candidate.source, "ignored", candidate.title))
        return IssueResult(candidate, verdict, reason, part, candidate.published)

    async def _read(self, candidate: Candidate) -> Candidate:
        """The candidate with its bytes: already there, read from its file, or fetched."""
        if candidate.content is not None:
            return candidate
        if candidate.path is not None:
            candidate.content = await asyncio.to_thread(candidate.path.read_bytes)
            return candidate
        if candidate.url is None:
            raise FetchError(candidate.key, "candidate has neither content, path nor URL")
        source = self.source_settings(candidate.source)
        url = page_url(source, candidate.key) if source and candidate.labelled else candidate.url
        result = await self.client.get(url)
        candidate.content, candidate.content_type = result.content, result.content_type
        return candidate

    def source_settings(self, name: str) -> SourceSettings | None:
        return next((s for s in self.rt.config.app.sources if s.name == name), None)

    async def _parse(self, candidate: Candidate) -> ParsedPage:
        """The page in the candidate's bytes, else in its fallbacks (a mail's other parts)."""
        where = p.candidate_location(candidate)
        documents = [(where, candidate.content or b""), *candidate.fallbacks]
        error: ParseError | None = None
        for name, data in documents:
            try:
                page: ParsedPage = await self.pool.run(
                    "issue", data, where, candidate.source, candidate.labelled, label=name
                )
            except ParseError as exc:
                error = error or exc
                continue
            if page.fetched is not None or page.kind not in (None, "china-industries"):
                return page
        if error is not None:
            raise error
        return ParsedPage()

    async def _handle(self, fetched: p.FetchedIssue, part: RunSummary) -> None:
        """Notices, diff, match and record for one parsed issue."""
        rt = self.rt
        links = p.links_by_item(fetched, self.client)
        urls = list(dict.fromkeys(u for us in links.values() for u in us))
        ids = [i.id for i in fetched.issue.items]
        snap = await asyncio.to_thread(rt.store.snapshot, fetched.issue_id, ids, urls)
        known = snap.issue_hash == fetched.content_hash and not self.force
        fetched = p.pair_edits(fetched, snap)  # an edited entry keeps its stored id
        links = p.links_by_item(fetched, self.client)
        notices = [] if known else await self.reader.get(urls, snap)
        fetched = p.tag_with_notices(fetched, notices, links, rt.taxonomy)
        changes = p.changes_from(snap, fetched.issue.items)
        matches = [] if known else p.match_items(
            rt.matcher, fetched, changes, notices, links, force=self.force
        )  # fmt: skip
        prior = commentary(fetched.issue.items, _cited(notices, links), self.alerted)
        alerts = p.build_alerts(
            rt.watchlists, matches, fetched.issue.items, changes, rt.run_id, prior
        )
        alerts = self.baseline(fetched, alerts, part)
        p.summarise_issue(part, fetched, changes, notices, matches)
        if self.dry_run:
            return
        record = await asyncio.to_thread(
            p.record_issue, rt.store, fetched, snap, notices, links, alerts, rt.run_id
        )
        part.count_enqueued(alerts, record.enqueued_keys)
        await self.reader.flush(force=False)

    def baseline(
        self, fetched: p.FetchedIssue, alerts: list[Alert], part: RunSummary
    ) -> list[Alert]:
        """A source's first run records what it lists without alerting items published
        before the baseline window (an empty or lost state must not flood every inbox)."""
        if self.alert_existing or fetched.source not in self.in_baseline or not alerts:
            return alerts
        days = self.rt.config.app.intake.baseline_days
        cutoff = self.now.date() - dt.timedelta(days=days)
        published = fetched.issue.issue.published
        if published is not None and published >= cutoff:
            return alerts
        part.baseline[fetched.source] += len({a.item_id for a in alerts})
        return []

    # -- the steps after the issues (run_intake) -------------------------------------------

    async def flush_notices(self) -> None:
        """Write every notice row not written yet."""
        await self.reader.flush()

    async def retry_notices(self, done: set[str]) -> RunSummary:
        return await retry_notices(self, done)

    async def revise_notice_items(self, listed: set[str]) -> RunSummary:
        return await revise_notice_items(self, listed)


def _cited(notices: Sequence[Notice], links: dict[str, list[str]]) -> dict[str, list[Notice]]:
    by_url = {n.url: n for n in notices}
    return {item: [by_url[u] for u in urls if u in by_url] for item, urls in links.items()}
