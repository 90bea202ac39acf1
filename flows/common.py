"""What the three flows share: opening a run, delivering, publishing artifacts, finishing.

Artifact keys derive from the deployment name (or the flow name when run ad hoc), so the Prefect
UI shows one history per deployment. Artifacts carry names and counts only, never a channel URL.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from typing import Any, cast

from prefect import Task, get_run_logger, task
from prefect.artifacts import acreate_markdown_artifact, acreate_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State
from prefect.runtime import deployment, flow_run

from flows.report import artifact_key, headline, match_table, to_markdown
from policywatch import pipeline as p
from policywatch.channels import SecretResolver
from policywatch.settings import Config


def run_timeout() -> float:
    """The flows' time limit: far above a backfill and above the worst case of a delivery
    (see the README's "Timeouts"), so a timeout never cuts a send the server may hold.
    ``POLICYWATCH_RUN_TIMEOUT`` (seconds) changes it."""
    return float(os.environ.get("POLICYWATCH_RUN_TIMEOUT", 4 * 3600))


def parse_pool(config: Config) -> Any:
    from policywatch.pool import pool_for

    return pool_for(config)


def run_id() -> str:
    """The Prefect flow-run id, so the state's ``runs`` row and the UI's run are one."""
    return str(flow_run.get_id() or "") or p.new_run_id()


def open_run(dry_run: bool, config: Config | None = None) -> tuple[p.Runtime, p.RunSummary]:
    """Load config and state; a StateError/ConfigError here fails the run with its message."""
    rt = p.open_runtime(config or Config(), run_id=run_id())
    summary = p.RunSummary(run_id=rt.run_id, dry_run=dry_run)
    if not dry_run:
        rt.store.start_run(rt.run_id)
    return rt, summary


async def attempt(task_: Task[..., Any], *args: Any) -> State[Any]:
    """Run an async task and get its final state instead of an exception (failures are data)."""
    return await cast(Awaitable[State[Any]], task_(*args, return_state=True))


async def failure_text(state: State[Any]) -> str:
    """The failed task's own error message, without Prefect's "Task run encountered..." wrapper."""
    try:
        exc = await state.aresult(raise_on_failure=False)
    except Exception:  # result not readable: fall back to the state's message
        exc = None
    if isinstance(exc, BaseException):
        return str(exc) or type(exc).__name__
    return state.message or "failed"


def secret_resolver() -> SecretResolver:
    """Reads ``secret:NAME`` channel URLs from Prefect Secret blocks, at delivery time only."""
    from flows.secret_blocks import prefect_secret

    return prefect_secret


@task(name="deliver-alerts", cache_policy=NO_CACHE)
async def deliver_alerts(rt: p.Runtime, summary: p.RunSummary) -> dict[str, Any]:
    report = await asyncio.to_thread(p.deliver_alerts, rt, summary, secret_resolver())
    return report.summary()


async def deliver_step(rt: p.Runtime, summary: p.RunSummary) -> None:
    """Deliver, then one log line in the units the channels saw (messages, and their items)."""
    log = get_run_logger()
    state = await attempt(deliver_alerts, rt, summary)
    if state.is_failed():
        summary.delivery_errors.append(f"delivery failed: {await failure_text(state)}")
    t = summary.delivery_totals()
    log.info(
        "deliver: %d message(s) sent (%d item(s)), %d skipped (already delivered), "
        "%d waiting (disabled %d, deferred %d, retrying %d), %d failed, %d problem(s)",
        t.sent, t.items, t.skipped, t.disabled + t.deferred + t.retrying, t.disabled,
        t.deferred, t.retrying, t.failed, len(summary.delivery_errors),
    )  # fmt: skip


def artifact_base(default: str) -> str:
    name = deployment.name
    return f"{default}-{name}" if name and name != default else default


async def publish(summary: p.RunSummary, flow_name: str) -> None:
    """The Markdown summary and the matches table, under keys stable per deployment."""
    base = artifact_base(flow_name)
    await acreate_markdown_artifact(
        key=artifact_key(base, "summary"),
        markdown=to_markdown(summary, flow_name),
        description=headline(summary),
    )
    rows = match_table(summary) or [
        {
            "watchlist": "",
            "headline": "(no matches in this run)",
            "change": "",
            "issue": "",
            "reasons": "",
            "item_id": "",
        }
    ]
    await acreate_table_artifact(
        key=artifact_key(base, "matches"),
        table=rows,
        description=f"{len(summary.matches)} match(es): watchlist, item and why",
    )


async def fail_run(rt: p.Runtime, summary: p.RunSummary, exc: BaseException, name: str) -> None:
    """Artifacts and the ``runs`` row for a failed run too (best effort: state may be the cause)."""
    summary.delivery_errors.append(f"run failed: {exc}")
    try:
        await publish(summary, name)
        if not summary.dry_run:
            rt.store.finish_run(rt.run_id, "failed", {**summary.to_dict(), "error": str(exc)})
    except Exception as inner:  # never hide the original error
        get_run_logger().warning("could not record the failed run: %s", inner)


async def finish(rt: p.Runtime, summary: p.RunSummary, flow_name: str) -> dict[str, Any]:
    """Publish artifacts, close the ``runs`` row, log the one-line result, return the summary."""
    data = summary.to_dict()
    await publish(summary, flow_name)
    if not summary.dry_run:
        rt.store.finish_run(rt.run_id, "completed", data)
    get_run_logger().info("summary: %s", headline(summary))
    return data


@asynccontextmanager
async def guarded(
    rt: p.Runtime,
    summary: p.RunSummary,
    flow_name: str,
    *,
    lock: str = "run",
    slots: AbstractAsyncContextManager[object] | None = None,
) -> AsyncIterator[None]:
    """A flow's body under the state's lock ``lock`` (after ``slots``, Prefect concurrency
    slots, if any): a failure is published before it is raised, and the runtime is closed
    whatever happens."""
    try:
        async with slots if slots is not None else nullcontext():
            with rt.store.run_lock(rt.run_id, name=lock):
                yield
    except Exception as exc:
        await fail_run(rt, summary, exc, flow_name)
        raise
    finally:
        rt.close()
