"""``check-source``: one source's part of check-updates, as its own flow run on any worker.

A fan-out's ``check-updates`` starts one per source (see ``flows.fan_out``); one can also be
started by hand for one source. Two runs of one source never overlap: the source's Prefect
concurrency limit (``flows.limits``, also held by a plain check-updates run over that source)
queues the second, and the state's lock ``source:<name>`` backs it up; runs of different sources
go ahead together on one state database. Every request holds a slot of its host's limit, so
all the workers together keep each host's ``http.per_host_concurrency``.

Due notices are retried by check-updates once for all sources, not by each child.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from prefect import flow
from prefect.runtime import flow_run

from flows.check_updates import RUNNERS, intake_step
from flows.common import deliver_step, execute, run_timeout
from flows.limits import host_slots, source_slots
from policywatch import pipeline as p
from policywatch.intake import Runners

__all__ = ["check_source", "source_lock"]


async def _left_to_the_parent(label: str, work: Callable[[], Awaitable[Any]]) -> Any:
    """The retry step of a child: none (check-updates retries due notices once per run)."""
    return p.RunSummary(run_id="")


CHILD_RUNNERS = Runners(source=RUNNERS.source, issue=RUNNERS.issue, notices=_left_to_the_parent)


def source_lock(source: str) -> str:
    """The state lock of one source (a plain run holds ``run``)."""
    return f"source:{source}"


def source_run_name() -> str:
    """``check-source miit-notices 2026-03-02 06:00 · dry run``."""
    params = flow_run.get_parameters() or {}
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M")
    parts = [f"check-source {params.get('source', '?')} {stamp}"]
    if params.get("dry_run"):
        parts.append("dry run")
    if params.get("since"):
        parts.append(f"since {params['since']}")
    return " · ".join(parts)


@asynccontextmanager
async def _slot(rt: p.Runtime, source: str) -> AsyncIterator[None]:
    p.selected_sources(rt.config, [source])  # an unknown name fails before a limit is made for it
    async with source_slots([source], rt.store, rt.run_id):
        yield


@flow(name="check-source", flow_run_name=source_run_name, timeout_seconds=run_timeout())
async def check_source(
    source: str,
    dry_run: bool = False,
    since: dt.date | None = None,
    deliver: bool = True,
    alert_existing: bool = False,
) -> Any:
    """Check one configured source: list it, process its new issues or notices, alert.

    Args:
        source: The name of the configured source to check (config/policywatch.yaml).
        dry_run: Match and report only: nothing is recorded, no alert is enqueued or sent.
        since: Backfill bound: also read issues published on or after this date.
        deliver: Send the pending alerts at the end (check-updates' fan-out delivers instead).
        alert_existing: The source's first run alerts everything it lists, not only what was
            published within intake.baseline_days.
    """
    name = f"check-source-{source}"

    async def body(rt: p.Runtime, summary: p.RunSummary) -> None:
        summary.stats["work_start"] = time.time()
        selected = p.selected_sources(rt.config, [source])
        async with host_slots(rt.config.app.http) as hosts:
            await intake_step(
                rt, summary, selected, dry_run, since, alert_existing, CHILD_RUNNERS, hosts
            )
        summary.stats.update(hosts.stats())
        if deliver and not dry_run:
            await deliver_step(rt, summary)
        summary.stats["work_end"] = time.time()

    return await execute(
        name,
        dry_run,
        deliver,
        body,
        lock=source_lock(source),
        slots=lambda rt: _slot(rt, source),
    )
