"""The scheduled flow: list sources -> issues (concurrent) -> retry notices -> deliver -> summary.

Thin on purpose: ``policywatch.intake`` does the work; this module only wraps its units in
Prefect tasks at the grain an operator reads in the UI: one task per source listed, one per
issue (named after the issue; past ``intake.issue_tasks`` issues, a backfill's issues share that
many tasks, each named after its first and last issue), one for the notices retried, one for
delivery. No task retries: the HTTP client already retries what is worth retrying, so a failing
feed costs the client's attempts once per run, not Prefect's retries times the client's.

With ``fan_out`` the sources are checked by ``check-source`` runs on any worker instead
(``flows.fan_out``); this run then retries due notices and delivers, once for all of them. A
plain run holds its sources' Prefect concurrency limits (``flows.limits``) while it reads them,
so a check-source run of one of them never overlaps it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Awaitable, Callable
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from flows.common import deliver_step, execute, parse_pool, run_timeout, secret_resolver
from flows.fan_out import publish_children, run_children
from flows.limits import host_slots, source_slots
from policywatch import pipeline as p
from policywatch.http import HostSlot
from policywatch.intake import Intake, Runners, run_intake
from policywatch.settings import SourceSettings

__all__ = ["RUNNERS", "check_updates", "intake_step", "run_name"]


@task(name="list-source", task_run_name="list {label}", cache_policy=NO_CACHE)
async def list_source(label: str, work: Callable[[], Awaitable[Any]]) -> Any:
    return await work()


@task(name="process-issue", task_run_name="{label}", cache_policy=NO_CACHE)
async def process_issue_task(label: str, work: Callable[[], Awaitable[Any]]) -> Any:
    return await work()


@task(name="retry-notices", task_run_name="retry due notices", cache_policy=NO_CACHE)
async def retry_notices(label: str, work: Callable[[], Awaitable[Any]]) -> Any:
    return await work()


def _runner(task_: Any) -> Callable[[str, Callable[[], Awaitable[Any]]], Awaitable[Any]]:
    async def run(label: str, work: Callable[[], Awaitable[Any]]) -> Any:
        return await task_(label.removeprefix("list ")[:120], work)

    return run


RUNNERS = Runners(
    source=_runner(list_source), issue=_runner(process_issue_task), notices=_runner(retry_notices)
)


def run_name() -> str:
    """``check-updates 2026-03-02 06:00 · dry run · since 2026-01-01``: the runs list shows
    what each run was asked to do."""
    params = flow_run.get_parameters() or {}
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M")
    parts = [f"{flow_run.get_flow_name() or 'check-updates'} {stamp}"]
    if params.get("dry_run"):
        parts.append("dry run")
    if params.get("since"):
        parts.append(f"since {params['since']}")
    if params.get("sources"):
        parts.append("sources " + ",".join(params["sources"]))
    if params.get("deliver") is False:
        parts.append("no delivery")
    if params.get("alert_existing"):
        parts.append("alert existing")
    if params.get("fan_out"):
        parts.append("fan-out")
    if params.get("location"):
        parts.append(str(params["location"])[-60:])
    return " · ".join(parts)


@flow(name="check-updates", flow_run_name=run_name, log_prints=False, timeout_seconds=run_timeout())
async def check_updates(
    dry_run: bool = False,
    since: dt.date | None = None,
    sources: list[str] | None = None,
    deliver: bool = True,
    alert_existing: bool = False,
    fan_out: bool = False,
) -> Any:
    """Check the newsletter sources for new issues, follow their notices and alert watchlists.

    Args:
        dry_run: Match and report only: nothing is recorded, no alert is enqueued or sent.
        since: Backfill bound: also read issues published on or after this date.
        sources: Names of configured sources to read (empty: every enabled source).
        deliver: Send the pending alerts at the end of the run (false: leave them queued).
        alert_existing: A source's first run alerts everything it lists, not only what was
            published within intake.baseline_days (the rest is otherwise a silent baseline).
        fan_out: Check each source in its own check-source run, on any worker of the pool
            (ministry lists first, then the rest), then retry notices and deliver here (a dry
            run is checked in this run all the same).
    """

    async def body(rt: p.Runtime, summary: p.RunSummary) -> dict[str, Any] | None:
        clock = time.perf_counter()
        selected = p.selected_sources(rt.config, sources)
        children = None
        if fan_out and not dry_run:  # a dry run's children record nothing the parent could read
            children = await fan_out_step(rt, summary, selected, since, alert_existing)
        else:
            async with source_slots([s.name for s in selected], rt.store, rt.run_id):
                await intake_step(rt, summary, selected, dry_run, since, alert_existing)
        if deliver and not dry_run:
            before = rt.store.statements
            await deliver_step(rt, summary)
            summary.stats["delivery_statements"] = rt.store.statements - before
        summary.stats["pipeline_s"] = round(time.perf_counter() - clock, 3)
        return None if children is None else {"children": children}

    return await execute("check-updates", dry_run, deliver, body)


async def fan_out_step(
    rt: p.Runtime,
    summary: p.RunSummary,
    selected: list[SourceSettings],
    since: dt.date | None,
    alert_existing: bool,
) -> list[dict[str, Any]]:
    """One check-source run per source (their summaries merged into ``summary``), then the
    retry of due notices; returns what each child did."""
    params = {"since": since.isoformat() if since else None, "alert_existing": alert_existing}
    children = await run_children(rt, summary, selected, params)
    await retry_step(rt, summary)
    log_stages(summary)
    await publish_children(children, "check-updates")
    return [c.to_dict() for c in children]


async def intake_step(
    rt: p.Runtime,
    summary: p.RunSummary,
    selected: list[SourceSettings],
    dry_run: bool,
    since: dt.date | None,
    alert_existing: bool,
    runners: Runners = RUNNERS,
    host_slot: HostSlot | None = None,
) -> None:
    """List the sources and process their issues and notices (a run's part before delivery)."""
    clock, statements = time.perf_counter(), rt.store.statements
    async with (
        p.make_client(rt.config.app.http, host_slot) as client,
        parse_pool(rt.config) as pool,
    ):
        intake = Intake(
            rt, client, pool, dry_run=dry_run, since=since, resolver=secret_resolver(),
            alert_existing=alert_existing,
        )  # fmt: skip
        await run_intake(intake, summary, selected, runners, on_listed=log_listed)
    summary.stats.update(
        intake_s=round(time.perf_counter() - clock, 3),
        intake_statements=rt.store.statements - statements,
    )
    log_stages(summary)


async def retry_step(rt: p.Runtime, summary: p.RunSummary) -> None:
    """A fan-out's retry of due notices, once for all its sources (its children leave it to
    it); nothing is started when nothing is due."""
    now = dt.datetime.now(dt.UTC)
    if not await asyncio.to_thread(rt.store.notices_to_retry, now):
        return
    done = {i.url for i in summary.issues}
    settings = rt.config.app.http
    async with (
        host_slots(settings) as hosts,
        p.make_client(settings, hosts) as client,
        parse_pool(rt.config) as pool,
    ):
        intake = Intake(rt, client, pool, now=now, resolver=secret_resolver())
        retried = await RUNNERS.notices("retry notices", lambda: intake.retry_notices(done))
        await intake.flush_notices()
    summary.merge(retried)


def _counts(counts: dict[str, int], empty: str) -> str:
    return ", ".join(f"{n} {k}" for k, n in counts.items() if n) or empty


def log_listed(summary: p.RunSummary) -> None:
    sources, candidates = len(summary.sources), sum(s.candidates for s in summary.sources)
    get_run_logger().info("discover: %d source(s), %d candidate issue(s)", sources, candidates)


def log_stages(summary: p.RunSummary) -> None:
    """One line per stage: the CLI's progress display moves along with them."""
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
    if summary.baseline:
        log.info(
            "baseline: %d item(s) recorded without alerts (a source's first run; "
            "--alert-existing alerts them)", sum(summary.baseline.values()),
        )  # fmt: skip
