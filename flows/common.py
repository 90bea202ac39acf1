"""What the three flows share: opening a run, delivering, keeping its health, publishing, finishing.

A run ends in one of three states (``policywatch.health``): Completed, Completed named
"Completed with problems" (and the event ``policywatch.run.problems``), or Failed with its
cause as the message (and ``policywatch.run.failed``). Artifact keys derive from the deployment
name (or the flow name when run ad hoc), so the Prefect UI shows one history per deployment.
Artifacts and events carry names and counts only, never a channel URL.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager, nullcontext
from typing import Any, cast

from prefect import Task, get_run_logger, task
from prefect.artifacts import acreate_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State
from prefect.runtime import deployment, flow_run
from prefect.states import Completed, Failed

from flows.events import announce
from flows.report import artifact_key, headline, matches_markdown, to_markdown
from policywatch import pipeline as p
from policywatch.canaries import Watch
from policywatch.channels import SecretResolver
from policywatch.errors import PolicywatchError
from policywatch.health import PROBLEMS_STATE, assess, problem_summary
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


@task(name="deliver-alerts", task_run_name="deliver alerts", cache_policy=NO_CACHE)
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
    """The Markdown summary and the matches, under keys stable per deployment. The matches are
    Markdown too: the UI's table artifacts neither wrap long cells nor render links."""
    base = artifact_base(flow_name)
    await acreate_markdown_artifact(
        key=artifact_key(base, "summary"),
        markdown=to_markdown(summary, flow_name),
        description=headline(summary),
    )
    await acreate_markdown_artifact(
        key=artifact_key(base, "matches"),
        markdown=matches_markdown(summary),
        description=f"{len(summary.matches)} match(es) by issue: watchlist, item, why, notice",
    )


Body = Callable[[p.Runtime, p.RunSummary], Awaitable[dict[str, Any] | None]]


async def execute(
    flow_name: str,
    dry_run: bool,
    deliver: bool,
    body: Body,
    *,
    lock: str = "run",
    slots: Callable[[p.Runtime], AbstractAsyncContextManager[object]] | None = None,
) -> Any:
    """A flow's run: open it, run ``body`` under the state's lock ``lock`` (after ``slots``:
    Prefect concurrency slots taken for the run, if any), keep its health watches and tell the ops channel (after
    a failure too), publish, and return the final state. What ``body`` returns is added to the
    run's result (a fan-out's children).

    An expected failure (a PolicywatchError: no source reachable, a config or state problem)
    returns a Failed state whose message is the cause: one log line, no traceback. Anything
    else is a bug and is raised, with its traceback."""
    try:
        rt, summary = open_run(dry_run)
    except PolicywatchError as exc:
        return await failed(None, p.RunSummary(run_id=run_id(), dry_run=dry_run), exc, flow_name)
    watches: list[Watch] = []
    try:
        async with slots(rt) if slots is not None else nullcontext():
            with rt.store.run_lock(rt.run_id, name=lock):
                extra = None
                try:
                    extra = await body(rt, summary)
                finally:
                    watches = await watch_step(rt, summary, tell=deliver and not dry_run)
                return await finish(rt, summary, flow_name, watches, extra)
    except Exception as exc:
        state = await failed(rt, summary, exc, flow_name, watches)
        if isinstance(exc, PolicywatchError) or p.state_unusable(exc):
            return state
        raise
    finally:
        rt.close()


async def watch_step(rt: p.Runtime, summary: p.RunSummary, *, tell: bool) -> list[Watch]:
    """The run's watches updated (stored unless a dry run) and owed ops alerts sent; a state
    that cannot take them is logged, never raised (the run's own outcome comes first)."""
    from policywatch.watching import keep_watch, tell_ops

    def work() -> list[Watch]:
        watches = keep_watch(rt.store, rt.config, summary, save=not summary.dry_run)
        if tell:
            summary.delivery_errors.extend(tell_ops(rt.store, rt.config, secret_resolver()))
        return watches

    try:
        return await asyncio.to_thread(work)
    except Exception as exc:
        get_run_logger().warning("could not update the health watches: %s", exc)
        return []


async def failed(
    rt: p.Runtime | None,
    summary: p.RunSummary,
    exc: BaseException,
    flow_name: str,
    watches: list[Watch] | None = None,
) -> State[Any]:
    """Artifacts, event and ``runs`` row of a failed run (best effort: state may be the cause);
    the Failed state carries the error, so ``state.result()`` gives it back."""
    summary.failure = str(exc) or type(exc).__name__
    summary.hint = getattr(exc, "hint", None)
    assess(summary, watches or [])
    try:
        await publish(summary, flow_name)
        announce(summary, flow_name)
        if rt is not None and not summary.dry_run:
            rt.store.finish_run(rt.run_id, "failed", {**summary.to_dict(), "error": str(exc)})
    except Exception as inner:  # never hide the original error
        get_run_logger().warning("could not record the failed run: %s", inner)
    return Failed(message=summary.failure, data=exc)


async def finish(
    rt: p.Runtime,
    summary: p.RunSummary,
    flow_name: str,
    watches: list[Watch],
    extra: dict[str, Any] | None = None,
) -> Any:
    """Publish artifacts, close the ``runs`` row, log the result; the summary, in a state named
    "Completed with problems" when there are any (and the event that says which)."""
    assess(summary, watches)
    data = summary.to_dict()
    await publish(summary, flow_name)
    if not summary.dry_run:
        rt.store.finish_run(rt.run_id, "completed", data)
    log = get_run_logger()
    log.info("summary: %s", headline(summary))
    data = {**data, **(extra or {})}
    if not summary.problems:
        return data
    log.info("health: %s", problem_summary(summary))
    announce(summary, flow_name)
    return Completed(message=problem_summary(summary), name=PROBLEMS_STATE, data=data)
