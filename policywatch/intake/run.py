"""``run_intake``: every source listed, a ministry's notices first, then every issue at once (up
to ``intake.issue_concurrency``), the sources settled, due notices retried; and ``run_plain``,
the same without Prefect."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from policywatch import pipeline as p
from policywatch.intake.core import Intake
from policywatch.intake.results import IssueFailed, IssueResult, Runner, log, plain_runner
from policywatch.settings import Config, SourceSettings
from policywatch.sources import Candidate
from policywatch.summary import RunSummary

__all__ = [
    "Runners", "batch_label", "batches", "issue_label", "process_all", "run_intake", "run_plain"
]  # fmt: skip


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
    """Every candidate, ``intake.issue_concurrency`` at a time; failures become results.

    ``runner`` wraps each batch of ``batches(candidates, intake.issue_tasks)`` (the flow makes
    it a Prefect task): one per issue in a normal run; a backfill shares a few, since each task
    run costs the Prefect API about 20 ms of CPU, a tenth of a 60-issue backfill's span."""
    settings = intake.rt.config.app.intake
    gate = asyncio.Semaphore(settings.issue_concurrency)
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
                result = await attempt(candidate, label)
            except Exception as exc:  # a bug or a broken state database: with its traceback
                if p.state_unusable(exc):
                    raise
                log.warning("issue %s failed: %s", label, exc, exc_info=True)
                failed = intake.failed(candidate, f"{type(exc).__name__}: {exc}", "error")
                return progress(failed, label)
            return progress(result, label)

    async def batch(group: Sequence[Candidate]) -> list[IssueResult]:
        return list(await asyncio.gather(*(one(c) for c in group)))

    groups = batches(candidates, settings.issue_tasks)
    ran = await asyncio.gather(*(runner(batch_label(g), partial(batch, g)) for g in groups))
    return [result for results in ran for result in results]


def batches(candidates: Sequence[Candidate], tasks: int) -> list[list[Candidate]]:
    """``candidates`` in at most ``tasks`` consecutive groups of near-equal size (in order)."""
    count = min(len(candidates), tasks)
    size, extra = divmod(len(candidates), count) if count else (0, 0)
    groups, start = [], 0
    for index in range(count):
        end = start + size + (index < extra)
        groups.append(list(candidates[start:end]))
        start = end
    return groups


def batch_label(group: Sequence[Candidate]) -> str:
    """One issue: its label; several: ``8 issues: merics · <first> … merics · <last>``."""
    if len(group) == 1:
        return issue_label(group[0])
    return f"{len(group)} issues: {issue_label(group[0])} … {issue_label(group[-1])}"


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
