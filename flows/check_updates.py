"""The scheduled flow: discover -> fetch/parse -> follow notices -> diff -> match -> record -> deliver.

Thin on purpose: every task is a verb-named wrapper around a ``policywatch.pipeline`` step.
Only the fetching tasks retry (with exponential backoff). One failing source, issue or notice is
logged, shown in the summary artifact and retried next run; the flow fails only when no source
was reachable or the state database is unusable.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State
from prefect.tasks import exponential_backoff

from flows.common import attempt, deliver_step, failure_text, finish, guarded, open_run
from policywatch import pipeline as p
from policywatch.errors import (
    BlockedError,
    DisallowedHostError,
    FetchError,
    NotFoundError,
    PolicywatchError,
    TooLargeError,
    UnresolvedHostError,
)
from policywatch.http import PoliteClient, host_key
from policywatch.models import Alert, Change, Match, Notice
from policywatch.settings import SourceSettings
from policywatch.sources import Candidate, SourceState
from policywatch.store import RecordResult


class SourceUnreachable(PolicywatchError):
    """Raised inside the discovery task so that Prefect retries it with backoff (``retry``)."""

    def __init__(self, message: str, *, retry: bool = True) -> None:
        super().__init__(message)
        self.retry = retry


def _transient(task: Any, task_run: Any, state: State[Any]) -> bool:
    """Retry network trouble only: a 404, a challenge, a size cap, a disallowed host or a host
    name that does not resolve won't heal within this run (the next run tries again)."""
    exc = state.data  # the engine hands the exception over as the Failed state's data
    if isinstance(exc, SourceUnreachable):
        return exc.retry
    permanent = (
        BlockedError | NotFoundError | DisallowedHostError | TooLargeError | UnresolvedHostError
    )
    return isinstance(exc, FetchError) and not isinstance(exc, permanent)


def _names_resolve(client: PoliteClient, source: SourceSettings) -> bool:
    urls = [u for u in (source.feed_url, source.listing_url) if u and source.type == "merics"]
    return not any(host_key(u) in client.unresolved_hosts for u in urls)


@task(
    name="discover-issues",
    retries=2,
    retry_delay_seconds=exponential_backoff(backoff_factor=2),
    retry_condition_fn=_transient,
    cache_policy=NO_CACHE,
)
async def discover_issues(
    rt: p.Runtime, client: PoliteClient, source: SourceSettings, since: dt.date | None
) -> tuple[list[Candidate], SourceState, p.SourceOutcome]:
    found, state, outcome = await p.discover_source(rt.store, client, source, rt.config, since)
    if not outcome.ok:
        raise SourceUnreachable(
            outcome.error or "unreachable", retry=_names_resolve(client, source)
        )
    return found, state, outcome


@task(
    name="fetch-issue",
    retries=2,
    retry_delay_seconds=exponential_backoff(backoff_factor=2),
    retry_condition_fn=_transient,
    cache_policy=NO_CACHE,
)
async def fetch_issue(client: PoliteClient, candidate: Candidate) -> bytes:
    return await p.read_candidate(client, candidate)


@task(name="parse-issue", cache_policy=NO_CACHE)
async def parse_issue(rt: p.Runtime, data: bytes, candidate: Candidate) -> p.FetchedIssue | None:
    kind = "pdf" if data[:5] == b"%PDF-" else None
    fetched = p.parse_issue_bytes(
        data, p.candidate_location(candidate), rt.config, source=candidate.source, kind=kind
    )
    return p.tag_issue(fetched, rt.taxonomy) if fetched is not None else None


@task(name="follow-notices", cache_policy=NO_CACHE)
async def follow_notices(
    rt: p.Runtime, client: PoliteClient, links: dict[str, list[str]]
) -> list[Notice]:
    return await p.follow_notices(client, links, rt.config)


@task(name="diff-items", cache_policy=NO_CACHE)
async def diff_items(rt: p.Runtime, fetched: p.FetchedIssue) -> dict[str, Change]:
    return p.diff_issue(rt.store, fetched)


@task(name="match-items", cache_policy=NO_CACHE)
async def match_items(
    rt: p.Runtime,
    fetched: p.FetchedIssue,
    changes: dict[str, Change],
    notices: list[Notice],
    links: dict[str, list[str]],
    force: bool,
) -> list[Match]:
    return p.match_items(rt.matcher, fetched, changes, notices, links, force=force)


@task(name="record-issue", cache_policy=NO_CACHE)
async def record_issue(
    rt: p.Runtime,
    fetched: p.FetchedIssue,
    notices: list[Notice],
    links: dict[str, list[str]],
    alerts: list[Alert],
) -> RecordResult:
    return p.record_issue(rt.store, fetched, notices, links, alerts, rt.run_id)


async def process_candidate(
    rt: p.Runtime,
    client: PoliteClient,
    candidate: Candidate,
    summary: p.RunSummary,
    *,
    dry_run: bool,
    force: bool = False,
) -> bool:
    """One issue end to end; returns False (and records why) instead of raising."""
    where = p.candidate_location(candidate)
    fetched_state = await attempt(fetch_issue, client, candidate)
    if fetched_state.is_failed():
        return _failed(summary, candidate, await failure_text(fetched_state))
    parsed_state = await attempt(parse_issue, rt, await fetched_state.aresult(), candidate)
    if parsed_state.is_failed():
        return _failed(summary, candidate, await failure_text(parsed_state))
    fetched = await parsed_state.aresult()
    if fetched is None:
        summary.issues.append(p.IssueOutcome(where, candidate.source, "ignored", candidate.title))
        return True
    mark = summary.checkpoint()
    try:
        await handle_issue(rt, client, fetched, summary, dry_run=dry_run, force=force)
    except Exception as exc:  # this issue only: listed as failed, retried next run
        if p.state_unusable(exc):
            raise
        summary.rollback(mark)
        return _failed(summary, candidate, f"{type(exc).__name__}: {exc}")
    return True


async def handle_issue(
    rt: p.Runtime,
    client: PoliteClient,
    fetched: p.FetchedIssue,
    summary: p.RunSummary,
    *,
    dry_run: bool,
    force: bool = False,
) -> None:
    """Notices, diff, match and record for one parsed issue (shared with process-issue)."""
    links = p.links_by_item(fetched, client)
    known = p.is_known(rt.store, fetched) and not force
    wanted = p.notices_to_retry(rt.store, links) if known else links
    notices = await follow_notices(rt, client, wanted)
    fetched = p.tag_with_notices(fetched, notices, links, rt.taxonomy)
    changes = await diff_items(rt, fetched)
    matches = [] if known else await match_items(rt, fetched, changes, notices, links, force)
    alerts = p.build_alerts(rt.watchlists, matches, fetched.issue.items, changes, rt.run_id)
    p.summarise_issue(summary, fetched, changes, notices, matches)
    if dry_run:
        return
    fresh = p.unqueued(rt.store, alerts)
    result = await record_issue(rt, fetched, notices, links, alerts)
    summary.count_enqueued(fresh, result.alerts_enqueued)


def _failed(summary: p.RunSummary, candidate: Candidate, error: str) -> bool:
    get_run_logger().warning("issue %s failed: %s", p.candidate_location(candidate), error)
    summary.issues.append(
        p.IssueOutcome(
            p.candidate_location(candidate),
            candidate.source,
            "failed",
            candidate.title,
            candidate.published,
            error=error,
        )
    )
    return False


async def discover_all(
    rt: p.Runtime,
    client: PoliteClient,
    sources: list[SourceSettings],
    since: dt.date | None,
    summary: p.RunSummary,
) -> list[tuple[SourceSettings, list[Candidate], SourceState | None]]:
    """Every selected source; an unreachable one is recorded (its state counts the failure)."""
    out: list[tuple[SourceSettings, list[Candidate], SourceState | None]] = []
    for source in sources:
        state = await attempt(discover_issues, rt, client, source, since)
        if state.is_failed():
            error = await failure_text(state)
            summary.sources.append(p.SourceOutcome(source.name, False, 0, error))
            out.append((source, [], None))
            continue
        found, new_state, outcome = await state.aresult()
        summary.sources.append(outcome)
        out.append((source, found, new_state))
    return out


@flow(name="check-updates", log_prints=False)
async def check_updates(
    dry_run: bool = False,
    since: dt.date | None = None,
    sources: list[str] | None = None,
    deliver: bool = True,
) -> dict[str, Any]:
    """Check the newsletter sources for new issues, follow their notices and alert watchlists.

    Args:
        dry_run: Match and report only: nothing is recorded, no alert is enqueued or sent.
        since: Backfill bound: also read issues published on or after this date.
        sources: Names of configured sources to read (empty: every enabled source).
        deliver: Send the pending alerts at the end of the run (false: leave them queued).
    """
    rt, summary = open_run(dry_run)
    async with guarded(rt, summary, "check-updates"):
        await _check(rt, summary, dry_run, since, sources)
        if deliver and not dry_run:
            await deliver_step(rt, summary)
        return await finish(rt, summary, "check-updates")


async def _check(
    rt: p.Runtime,
    summary: p.RunSummary,
    dry_run: bool,
    since: dt.date | None,
    names: list[str] | None,
) -> None:
    log = get_run_logger()
    selected = p.selected_sources(rt.config, names)
    async with p.make_client(rt.config.app.http) as client:
        discovered = await discover_all(rt, client, selected, since, summary)
        candidates = sum(len(c) for _, c, _ in discovered)
        log.info("discover: %d source(s), %d candidate issue(s)", len(selected), candidates)
        for source, _, state in discovered:
            if state is None and not dry_run:
                p.count_source_failure(rt.store, source.name, summary)
        p.check_reachable(summary.sources)
        for source, found, state in discovered:
            failed = [
                c.key
                for c in found
                if not await process_candidate(rt, client, c, summary, dry_run=dry_run)
            ]
            if state is not None and not dry_run:
                kept = p.forget_failed(state, failed)
                rt.store.save_source_state(source.name, kept.model_dump(mode="json"))
        await retry_notices(rt, client, summary, dry_run=dry_run)
    _log_stages(summary)


async def retry_notices(
    rt: p.Runtime, client: PoliteClient, summary: p.RunSummary, *, dry_run: bool
) -> None:
    """Notices of recorded issues that failed before (404, challenge, error): try them again.

    Items whose notice is readable now are matched again; the outbox keys keep anyone from
    getting an alert twice, so only matches that need the notice's text add alerts.
    """
    done = {i.url for i in summary.issues}
    for issue_id, links in rt.store.failed_notice_links().items():
        fetched = p.stored_issue(rt.store, issue_id, links) if issue_id not in done else None
        if fetched is None:
            continue
        notices = await follow_notices(rt, client, links)
        summary.notices.extend(
            p.NoticeRow(n.url, n.site, n.status, n.title, n.error) for n in notices
        )
        again = p.recovered(notices, links)
        changes: dict[str, Change] = dict.fromkeys(again, "new")
        matches = await match_items(rt, fetched, changes, notices, again, False) if again else []
        alerts = p.build_alerts(rt.watchlists, matches, fetched.issue.items, changes, rt.run_id)
        p.add_matches(summary, fetched, changes, matches)
        if not dry_run:
            fresh = p.unqueued(rt.store, alerts)
            result = await record_issue(rt, fetched, notices, links, alerts)
            summary.count_enqueued(fresh, result.alerts_enqueued)


def _counts(counts: dict[str, int], empty: str) -> str:
    return ", ".join(f"{n} {k}" for k, n in counts.items() if n) or empty


def _log_stages(summary: p.RunSummary) -> None:
    log = get_run_logger()
    issues, notices = summary.issue_counts(), summary.notice_counts()
    log.info("fetch+parse: %s", _counts(dict(issues), "no new issues"))
    log.info("notices: %d fetched (%s)", len(summary.notices), _counts(dict(notices), "none"))
    changes: dict[str, int] = {}
    for item in summary.items:
        changes[item.change] = changes.get(item.change, 0) + 1
    log.info("diff: %s", _counts(changes, "no new or revised items"))
    log.info("match: %d match(es)", len(summary.matches))
    log.info("record: %d alert(s) enqueued", sum(summary.enqueued.values()))
