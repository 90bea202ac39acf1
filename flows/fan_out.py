"""The fan-out of ``check-updates``: one ``check-source`` flow run per source, on any worker.

The parent starts the children on the ``check-source`` deployment that has its own deployment's
name (``check-source/workers`` for ``check-updates/workers``; serve's name when it runs ad hoc),
waits for them, and reads what each did from its ``runs`` row in the shared state (Prefect
keeps no results between workers). Ministry lists go first, everything else after them: as in a
serial run, a MERICS story then finds the notice its ministry alerted in the same run and is a
follow-up, not a second "new" alert. Within a wave the children run at once.

A child that did not complete makes its source a failed one in the parent's summary; when no
child completed, the parent fails (as a serial run does when no source was reachable). A dry
run is never fanned out (its children record nothing to read back).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from prefect.artifacts import acreate_table_artifact
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import arun_deployment
from prefect.runtime import deployment

from flows.common import artifact_base
from flows.report import artifact_key
from policywatch import pipeline as p
from policywatch.settings import SourceSettings

__all__ = ["CHILD_FLOW", "Child", "child_deployment", "run_children", "waves"]

CHILD_FLOW = "check-source"
POLL = 1.0  # seconds between looks at a child's state


@dataclass
class Child:
    """One child run as the parent saw it; ``summary`` is the child's (None in a dry run, or
    when it failed before recording anything)."""

    source: str
    flow_run_id: str = ""
    name: str = ""
    state: str = "not started"
    message: str = ""
    started: str | None = None
    ended: str | None = None
    summary: dict[str, Any] | None = None

    @property
    def completed(self) -> bool:
        return self.state == "Completed"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def child_deployment(rt: p.Runtime) -> str:
    return f"{CHILD_FLOW}/{deployment.name or rt.config.app.schedule.deployment}"


def waves(selected: Sequence[SourceSettings]) -> list[list[SourceSettings]]:
    """Ministry lists first, then the other sources (empty waves left out)."""
    first = [s for s in selected if s.type == "ministry"]
    rest = [s for s in selected if s.type != "ministry"]
    return [w for w in (first, rest) if w]


async def run_children(
    rt: p.Runtime, summary: p.RunSummary, selected: Sequence[SourceSettings], params: dict[str, Any]
) -> list[Child]:
    """Every selected source as a child run, wave after wave; their summaries merged into
    ``summary``. Raises when no child completed."""
    name, children = child_deployment(rt), []
    for wave in waves(selected):
        children += await asyncio.gather(*(_child(rt, name, s.name, params) for s in wave))
    for child in children:
        merge_child(summary, child)
    p.check_reachable(summary.sources)
    return children


async def _child(rt: p.Runtime, name: str, source: str, params: dict[str, Any]) -> Child:
    try:
        run = await arun_deployment(
            name, parameters={**params, "source": source, "deliver": False},
            idempotency_key=f"{rt.run_id}:{source}", poll_interval=POLL,
        )  # fmt: skip
    except Exception as exc:  # no such deployment, API refused: the source is not checked
        return Child(source, message=f"could not start {name}: {type(exc).__name__}: {exc}")
    child = _seen(source, run)
    row = await asyncio.to_thread(rt.store.run, child.flow_run_id)
    child.summary = row["summary"] if row is not None else None
    return child


def _seen(source: str, run: FlowRun) -> Child:
    state = run.state
    return Child(
        source, str(run.id), run.name or "", (state.name or "") if state else "unknown",
        (state.message or "") if state else "", _iso(run.start_time), _iso(run.end_time),
    )  # fmt: skip


def _iso(when: dt.datetime | None) -> str | None:
    return when.isoformat() if when is not None else None


def merge_child(summary: p.RunSummary, child: Child) -> None:
    """The child's summary into the parent's; a child that did not complete fails its source."""
    part = p.RunSummary.from_dict(child.summary) if child.summary else None
    if part is not None:
        summary.merge(part)
        summary.sources += [s for s in part.sources if s.name != child.source or child.completed]
    if not child.completed:
        what = f"{CHILD_FLOW} run {child.name or '(none)'} {child.state.lower()}"
        error = f"{what}: {child.message}" if child.message else what
        summary.sources.append(p.SourceOutcome(child.source, False, 0, error))


async def publish_children(children: Sequence[Child], flow_name: str) -> None:
    """A table of the children: which run checked which source, its state and timing."""
    rows = [
        {"source": c.source, "run": c.name, "state": c.state, "started": c.started or "",
         "ended": c.ended or "", "message": c.message[:300]}
        for c in children
    ]  # fmt: skip
    await acreate_table_artifact(
        key=artifact_key(artifact_base(flow_name), "children"),
        table=rows,
        description=f"{sum(c.completed for c in children)}/{len(children)} source run(s) completed",
    )
