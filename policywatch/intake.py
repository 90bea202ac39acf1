"""One run's intake: every source listed, then every issue processed concurrently.

The per-host limits of the one polite client are the only brake: issues run concurrently (up to
``intake.issue_concurrency``), each fetching its page and then its notices while other issues
still load, and a notice cited twice is fetched once. Documents are parsed in the process pool.
Each issue is recorded in its own transaction as soon as it is done, so a crash mid-backfill
loses nothing already recorded and a failing issue holds up no other. Notice rows are written in
batches (a notice is not part of its issue's transaction: an issue recorded before a crash finds
its missing notices again through the retry step).

Prefect does not appear here: the flow passes ``runner`` callables that wrap an issue or a source
in a task; without them (benchmarks, tests) the same code runs as plain coroutines.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from parsers.errors import ParseError
from parsers.notices.base import error_notice
from parsers.records import Notice
from policywatch import pipeline as p
from policywatch.alerting import Prior
from policywatch.errors import FetchError
from policywatch.followups import commentary, finals
from policywatch.http import FetchResult, PoliteClient
from policywatch.jobs import ParsedPage
from policywatch.models import Alert, Change
from policywatch.notice_items import draft, family_of, identity_of, notice_issue, notice_item_id
from policywatch.notices import Fetched, fetch_one
from policywatch.pool import Pool
from policywatch.settings import Config, NoticeSettings, SourceSettings
from policywatch.sources import Candidate, SourceState, Verdict, list_candidates, settle
from policywatch.sources.imap import settle_mailbox
from policywatch.sources.merics import page_url, verdict_for
from policywatch.store.documents import AlertedDocument, Document
from policywatch.store.reads import NoticeState, Snapshot
from policywatch.store.writes import NoticeRetry, notice_row
from policywatch.summary import FailureCause, IssueOutcome, NoticeRow, RunSummary, SourceOutcome

__all__ = ["Intake", "IssueFailed", "IssueResult", "Runner", "plain_runner", "retry_for"]

log = logging.getLogger(__name__)

T = TypeVar("T")
# runner(label, work): runs ``work`` (an issue or a source) and returns its result; the flow's
# runner wraps it in a Prefect task named ``label``.
Runner = Callable[[str, Callable[[], Awaitable[T]]], Awaitable[T]]
NOTICE_BATCH = 500  # notice rows per statement (a crash before the write refetches them)


async def plain_runner(label: str, work: Callable[[], Awaitable[T]]) -> T:
    return await work()


@dataclass
class IssueResult:
    """What became of one candidate: its verdict for the source state and its summary part."""

    candidate: Candidate
    verdict: Verdict
    reason: str = ""
    summary: RunSummary | None = None
    published: dt.date | None = None

    @property
    def order(self) -> tuple[dt.date, str]:
        """Issue date, then location: the order of the summary and of delivery."""
        return (self.published or dt.date.max, p.candidate_location(self.candidate))


class IssueFailed(Exception):
    """An issue could not be processed; carries the result to record (status ``failed``)."""

    def __init__(self, result: IssueResult) -> None:
        super().__init__(result.reason)
        self.result = result


def retry_for(
    previous: NoticeState | None, settings: NoticeSettings, now: dt.datetime
) -> NoticeRetry:
    """A failed notice's next attempt: the configured delays, then ``gave_up`` (None)."""
    before = previous.attempts if previous is not None and previous.status != "ok" else 0
    attempts = before + 1
    if attempts >= settings.give_up_after:
        return NoticeRetry(attempts, None)
    delays = settings.retry_delays
    wait = delays[min(attempts, len(delays)) - 1]
    return NoticeRetry(attempts, now + dt.timedelta(seconds=wait))


def _due(state: NoticeState | None, now: dt.datetime) -> bool:
    """Fetch now? Never-seen and ok notices yes (conditionally); failures when their time came."""
    if state is None or state.status == "ok":
        return True
    if state.status == "gave_up":
        return False
    return state.next_attempt_at is None or state.next_attempt_at <= now


@dataclass
class Intake:
    """The shared parts of one run's intake: runtime, client, pool, notice cache and batch."""

    rt: p.Runtime
    client: PoliteClient
    pool: Pool
    dry_run: bool = False
    since: dt.date | None = None
    force: bool = False
    now: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    resolver: Callable[[str], str] | None = None  # secret:NAME settings (Prefect Secret blocks)
    alert_existing: bool = False  # a source's first run alerts old items too (no baseline)
    _notices: dict[str, asyncio.Future[Notice]] = field(default_factory=dict)
    _rows: list[dict[str, Any]] = field(default_factory=list)
    _flush: asyncio.Lock = field(default_factory=asyncio.Lock)
    alerted: list[AlertedDocument] = field(default_factory=list)  # for follow-ups (see run_intake)
    in_baseline: set[str] = field(default_factory=set)  # sources on their first run
    changed: dict[str, Notice] = field(default_factory=dict)  # stored notices read with new text

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
            return await self._process_notice(candidate)
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
        source = self._source(candidate.source)
        url = page_url(source, candidate.key) if source and candidate.labelled else candidate.url
        result = await self.client.get(url)
        candidate.content, candidate.content_type = result.content, result.content_type
        return candidate

    def _source(self, name: str) -> SourceSettings | None:
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
        notices = [] if known else await self.notices(urls, snap)
        fetched = p.tag_with_notices(fetched, notices, links, rt.taxonomy)
        changes = p.changes_from(snap, fetched.issue.items)
        matches = [] if known else p.match_items(
            rt.matcher, fetched, changes, notices, links, force=self.force
        )  # fmt: skip
        prior = commentary(fetched.issue.items, _cited(notices, links), self.alerted)
        alerts = p.build_alerts(
            rt.watchlists, matches, fetched.issue.items, changes, rt.run_id, prior
        )
        alerts = self._baseline(fetched, alerts, part)
        p.summarise_issue(part, fetched, changes, notices, matches)
        if self.dry_run:
            return
        record = await asyncio.to_thread(
            p.record_issue, rt.store, fetched, snap, notices, links, alerts, rt.run_id
        )
        part.count_enqueued(alerts, record.enqueued_keys)
        await self.flush_notices(force=False)

    def _baseline(
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

    # -- a ministry notice ----------------------------------------------------------------

    async def _process_notice(self, candidate: Candidate) -> IssueResult:
        """A ministry list entry: its notice read (once per run, with backoff), then matched
        and recorded as a one-item issue of section ``notice``."""
        url = candidate.url or candidate.key
        state = await asyncio.to_thread(self.rt.store.snapshot, "", [], [url])
        [notice] = await self.notices([url], state)
        if notice.status != "ok":
            reason = f"{notice.status}: {notice.error or 'not readable'}"
            verdict: Verdict = "done" if notice.status == "gave_up" else "failed"
            result = self.failed(candidate, reason)
            return IssueResult(candidate, verdict, reason, result.summary, candidate.published)
        part = RunSummary(run_id=self.rt.run_id, dry_run=self.dry_run)
        await self._handle_notice(notice, candidate, part)
        return IssueResult(candidate, "done", "", part, notice.published or candidate.published)

    async def _handle_notice(self, notice: Notice, candidate: Candidate, part: RunSummary) -> None:
        rt, source = self.rt, self._source(candidate.source)
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
        matches = [] if changes[item.id] == "unchanged" and not self.force else p.match_items(
            rt.matcher, fetched, changes, [notice], links, force=self.force
        )  # fmt: skip
        prior: Prior = {}
        if matches and not draft(notice):
            prior = finals(
                item, await asyncio.to_thread(rt.store.drafts_alerted, family_of(notice))
            )
        alerts = p.build_alerts(rt.watchlists, matches, [item], changes, rt.run_id, prior)
        alerts = self._baseline(fetched, alerts, part)
        p.summarise_issue(part, fetched, changes, [notice], matches)
        if self.dry_run:
            return
        record = await asyncio.to_thread(
            p.record_issue, rt.store, fetched, snap, [notice], links, alerts, rt.run_id,
            document_of(notice, item.id),
        )  # fmt: skip
        part.count_enqueued(alerts, record.enqueued_keys)
        added = set(record.enqueued_keys)
        self.alerted += [alerted_now(a, notice, self.now.date()) for a in alerts if a.key in added]

    async def revise_notice_items(self, listed: set[str]) -> RunSummary:
        """Notice items whose page was read again in this run (a MERICS story cited it, a retry)
        with another text: revised, and alerted with what changed, as items are. A notice that
        is only cited (never a list entry) has no item and stays a notice."""
        part = RunSummary(run_id=self.rt.run_id, dry_run=self.dry_run)
        for url, notice in self.changed.items():
            if url in listed:  # read as a list entry in this run: handled there
                continue
            item_id = notice_item_id(identity_of(notice))
            snap = await asyncio.to_thread(self.rt.store.snapshot, url, [item_id], [])
            if item_id not in snap.item_hashes:
                continue
            candidate = Candidate(
                source=notice.site, url=url, path=None, content=None, key=url,
                title=notice.title, published=notice.published, kind="notice",
            )  # fmt: skip
            await self._handle_notice(notice, candidate, part)
        return part

    # -- notices --------------------------------------------------------------------------

    async def notices(self, urls: Sequence[str], snap: Snapshot) -> list[Notice]:
        """The notices at ``urls``: fetched once per run (conditionally when known), or the
        stored record while a failed notice backs off or after it gave up."""
        out: list[asyncio.Future[Notice]] = []
        for url in urls:
            state = snap.notices.get(url)
            if not _due(state, self.now) and state is not None:
                out.append(_done(Notice.model_validate({**state.data, "status": state.status})))
                continue
            if url not in self._notices:
                self._notices[url] = asyncio.ensure_future(self._fetch_notice(url, state))
            out.append(self._notices[url])
        return list(await asyncio.gather(*out))

    async def _fetch_notice(self, url: str, state: NoticeState | None) -> Notice:
        stored = None
        if state is not None and state.status == "ok" and (state.etag or state.last_modified):
            stored = Fetched(Notice.model_validate(state.data), state.etag, state.last_modified)
        fetched = await fetch_one(self.client, url, parse=self._parse_notice, stored=stored)
        notice, retry = fetched.notice, None
        if (
            state is not None
            and state.status == notice.status == "ok"
            and (state.content_hash != notice.content_hash)
        ):
            self.changed[url] = notice  # a ministry corrected its page: see revise_notice_items
        if notice.status != "ok":
            retry = retry_for(state, self.rt.config.app.notices, self.now)
            if retry.next_attempt_at is None:
                notice = notice.model_copy(update={"status": "gave_up"})
        self._rows.append(notice_row(
            notice, self.now, retry=retry, etag=fetched.etag, last_modified=fetched.last_modified
        ))  # fmt: skip
        return notice

    async def _parse_notice(self, result: FetchResult, site: str | None) -> Notice:
        try:
            notice: Notice = await self.pool.run(
                "notice", result.content, result.url, result.content_type, result.encoding, site,
                label=result.url,
            )  # fmt: skip
        except ParseError as exc:
            from parsers.notices import site_for

            return error_notice(result.url, site or site_for(result.url) or "generic", str(exc))
        return notice

    async def retry_notices(self, done: set[str]) -> RunSummary:
        """Cited notices that failed before (or were never written) and are due: fetched again;
        items whose notice is readable now are matched again (the outbox keys keep anyone from
        getting an alert twice, so only matches that needed the notice's text add alerts)."""
        part = RunSummary(run_id=self.rt.run_id, dry_run=self.dry_run)
        due = await asyncio.to_thread(self.rt.store.notices_to_retry, self.now)
        todo = {issue: links for issue, links in due.items() if issue not in done}
        parts = await asyncio.gather(*(self._retry_issue(i, links) for i, links in todo.items()))
        for one in parts:
            part.merge(one)
        return part

    async def _retry_issue(self, issue_id: str, links: dict[str, list[str]]) -> RunSummary:
        rt, part = self.rt, RunSummary(run_id=self.rt.run_id, dry_run=self.dry_run)
        fetched = await asyncio.to_thread(p.stored_issue, rt.store, issue_id, links)
        if fetched is None:
            return part
        urls = list(dict.fromkeys(u for us in links.values() for u in us))
        snap = await asyncio.to_thread(rt.store.snapshot, issue_id, list(links), urls)
        notices = await self.notices(urls, snap)
        part.notices += [NoticeRow(n.url, n.site, n.status, n.title, n.error) for n in notices]
        again = p.recovered(notices, links)
        changes: dict[str, Change] = dict.fromkeys(again, "new")
        matches = p.match_items(rt.matcher, fetched, changes, notices, again) if again else []
        alerts = p.build_alerts(rt.watchlists, matches, fetched.issue.items, changes, rt.run_id)
        p.add_matches(part, fetched, changes, matches, notices)
        if alerts and not self.dry_run:
            record = await asyncio.to_thread(
                p.record_issue, rt.store, fetched, snap, notices, links, alerts, rt.run_id
            )
            part.count_enqueued(alerts, record.enqueued_keys)
        return part

    async def flush_notices(self, *, force: bool = True) -> None:
        """Write the fetched notices in one statement per batch (all with ``force``)."""
        if self.dry_run or (not force and len(self._rows) < NOTICE_BATCH):
            return
        async with self._flush:
            rows, self._rows = self._rows, []
            if rows:
                await asyncio.to_thread(self.rt.store.record_notices, rows)


def _cited(notices: Sequence[Notice], links: dict[str, list[str]]) -> dict[str, list[Notice]]:
    by_url = {n.url: n for n in notices}
    return {item: [by_url[u] for u in urls if u in by_url] for item, urls in links.items()}


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


def _done(value: Notice) -> asyncio.Future[Notice]:
    future: asyncio.Future[Notice] = asyncio.get_running_loop().create_future()
    future.set_result(value)
    return future


# -- the run ----------------------------------------------------------------------------------


@dataclass
class Runners:
    """How the run executes its units of work (the flow wraps them in Prefect tasks)."""

    source: Runner[Any] = plain_runner
    issue: Runner[Any] = plain_runner
    notices: Runner[Any] = plain_runner


async def run_intake(
    intake: Intake,
    summary: RunSummary,
    sources: Sequence[SourceSettings],
    runners: Runners | None = None,
    *,
    on_listed: Callable[[RunSummary], None] | None = None,
) -> list[IssueResult]:
    """List every source, process every candidate, settle the sources, retry due notices.

    Raises PolicywatchError when no source could be read (see ``pipeline.check_reachable``);
    an error of the state database propagates and fails the run. ``on_listed`` is called once
    the sources are listed (the flow logs its first stage line there).
    """
    runners = runners or Runners()
    listed = await asyncio.gather(*(
        runners.source(f"list {s.name}", _lister(intake, s)) for s in sources
    ))  # fmt: skip
    for source, (_, state, outcome) in zip(sources, listed, strict=True):
        summary.sources.append(outcome)
        if not outcome.ok and not intake.dry_run:  # the failure count is the state's record
            intake.rt.store.save_source_state(source.name, state.model_dump(mode="json"))
    if on_listed is not None:
        on_listed(summary)
    p.check_reachable(summary.sources)
    candidates = [c for found, _, _ in listed for c in found]
    notices = [c for c in candidates if c.kind == "notice"]
    if notices or any(s.type == "ministry" for s in intake.rt.config.app.sources):
        intake.alerted = await asyncio.to_thread(intake.rt.store.alerted_documents)
    # a ministry's own notices first: a MERICS story in the same run then follows up on them
    results = await process_all(intake, notices, runners.issue)
    results += await process_all(
        intake, [c for c in candidates if c.kind != "notice"], runners.issue
    )
    for source, (_, state, outcome) in zip(sources, listed, strict=True):
        if outcome.ok:
            mine = [r for r in results if r.candidate.source == source.name]
            await intake.settle_source(source, state, mine)
    await intake.flush_notices()  # before the retry step, which looks for notices not written
    done = {r.summary.issues[0].url for r in results if r.summary and r.summary.issues}
    retried = await runners.notices("retry notices", lambda: intake.retry_notices(done))
    revised = await intake.revise_notice_items({c.url or c.key for c in notices})
    await intake.flush_notices()
    for result in sorted(results, key=lambda r: r.order):
        if result.summary is not None:
            summary.merge(result.summary)
    summary.merge(retried)
    summary.merge(revised)
    return results


def _lister(intake: Intake, source: SourceSettings) -> Callable[[], Awaitable[Any]]:
    return lambda: intake.list_source(source)


async def process_all(
    intake: Intake, candidates: Sequence[Candidate], runner: Runner[Any] = plain_runner
) -> list[IssueResult]:
    """Every candidate, ``intake.issue_concurrency`` at a time; failures become results."""
    gate = asyncio.Semaphore(intake.rt.config.app.intake.issue_concurrency)
    done = [0]

    def progress(result: IssueResult, label: str) -> IssueResult:
        done[0] += 1  # the CLI's progress display reads these lines
        log.info("issue %d/%d %s: %s", done[0], len(candidates), result.verdict, label)
        return result

    async def attempt(candidate: Candidate, label: str) -> IssueResult:
        try:
            return await intake.process(candidate)
        except IssueFailed as failed:  # expected (a page that 404s, a parse error): one line
            log.warning("issue %s failed: %s", label, failed.result.reason)
            return failed.result

    async def one(candidate: Candidate) -> IssueResult:
        async with gate:
            label = issue_label(candidate)
            try:
                result: IssueResult = await runner(label, lambda: attempt(candidate, label))
            except Exception as exc:  # a bug or a broken state database: with its traceback
                if p.state_unusable(exc):
                    raise
                log.warning("issue %s failed: %s", label, exc)
                failed = intake.failed(candidate, f"{type(exc).__name__}: {exc}", "error")
                return progress(failed, label)
            return progress(result, label)

    return list(await asyncio.gather(*(one(c) for c in candidates)))


def issue_label(candidate: Candidate) -> str:
    """``merics · ai-plus-manufacturing-hydrogen-pipelines`` (the source, then the title or
    the page's or file's name): the task's name in the Prefect UI and the log lines' label."""
    where = p.candidate_location(candidate)
    name = candidate.title or where.rstrip("/").rsplit("/", 1)[-1] or where
    return f"{candidate.source} · {name}"


async def run_plain(
    config: Config,
    *,
    dry_run: bool = False,
    since: dt.date | None = None,
    sources: Sequence[str] | None = None,
    alert_existing: bool = False,
) -> RunSummary:
    """The check-updates intake without Prefect (benchmarks compare the two; no delivery)."""
    from policywatch.pool import pool_for

    rt = p.open_runtime(config)
    summary = RunSummary(run_id=rt.run_id, dry_run=dry_run)
    try:
        with rt.store.run_lock(rt.run_id):
            clock, statements = time.perf_counter(), rt.store.statements
            selected = p.selected_sources(config, sources)
            async with p.make_client(config.app.http) as client, pool_for(config) as pool:
                intake = Intake(
                    rt, client, pool, dry_run=dry_run, since=since, alert_existing=alert_existing
                )
                await run_intake(intake, summary, selected)
            summary.stats.update(
                intake_s=round(time.perf_counter() - clock, 3),
                intake_statements=rt.store.statements - statements,
            )
    finally:
        rt.close()
    return summary
