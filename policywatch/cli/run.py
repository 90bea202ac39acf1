"""CLI commands: ``run`` (check-updates once), ``serve`` (deployments for the UI), ``demo``.

Prefect is imported inside the commands only: the rest of the CLI starts fast and works where
Prefect's API is not wanted.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import logging
import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from policywatch.cli._app import app, console, err_console, fail, get_config
from policywatch.errors import PolicywatchError

if TYPE_CHECKING:
    from flows.temporary_api import TemporaryAPI

OWN_LOGGERS = ("policywatch", "parsers", "flows")
STAGES = (
    "discover",
    "fetch+parse",
    "notices",
    "diff",
    "match",
    "record",
    "baseline",
    "deliver",
    "summary",
)


class _StageHandler(logging.Handler):
    """Moves the progress display along as the flow logs its stage lines, and prints each
    distinct policywatch warning once above it (retries repeat them)."""

    def __init__(self, progress: Progress, task_id: Any) -> None:
        super().__init__(logging.INFO)
        self.progress, self.task_id = progress, task_id
        self.seen: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        stage = message.split(":", 1)[0]
        if record.name == "prefect.flow_runs" and stage in STAGES:
            self.progress.update(self.task_id, advance=1, description=message[:100])
            self.progress.console.print(f"  [green]✓[/] {escape(message)}", highlight=False)
        elif (
            record.name == "policywatch.intake"
            and message.startswith("issue ")
            and record.levelno < logging.WARNING
        ):  # an issue's progress line; "issue ... failed: ..." is a warning and shown below
            self.progress.update(self.task_id, description=message[:100])
        elif _worth_showing(record) and message not in self.seen:
            self.seen.add(message)
            self.progress.console.print(f"  [yellow]![/] {escape(message)}", highlight=False)


def _worth_showing(record: logging.LogRecord) -> bool:
    """policywatch's warnings (a wait for another run's source slot included) and the flow's own
    (a failed issue); not Prefect's tracebacks."""
    if record.name.startswith(OWN_LOGGERS):
        return record.levelno >= logging.WARNING
    return record.name == "prefect.flow_runs" and record.levelno == logging.WARNING


def _ephemeral_defaults() -> None:
    """No server configured: Prefect's ephemeral API, with a start-up timeout fit for CI."""
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("POLICYWATCH_CONFIG_DIR", str(get_config().dir))


async def _call(flow_: Any, params: dict[str, Any]) -> Any:
    return await flow_(**params, return_state=True)


@contextmanager
def _quiet_console(verbose: bool) -> Iterator[None]:
    """Hide the console log lines (Prefect's, with tracebacks) while the progress display runs;
    the run's full log stays in the Prefect API. ``verbose`` (``policywatch -v``) keeps them."""
    handlers = [h for h in logging.getLogger().handlers if isinstance(h, logging.StreamHandler)]
    levels = [h.level for h in handlers]
    if not verbose:
        for handler in handlers:
            handler.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for handler, level in zip(handlers, levels, strict=True):
            handler.setLevel(level)
        if not verbose:  # nor "Stopping temporary server" at exit
            logging.getLogger("prefect").setLevel(logging.WARNING)


def _starting(api: TemporaryAPI | None) -> str:
    if api is None:
        from prefect.settings import get_current_settings

        return f"connecting to the Prefect API at {get_current_settings().api.url}…"
    return "starting Prefect's temporary local API (about 20 s the first time)…"


def run_check_updates(**params: Any) -> dict[str, Any]:
    """Run the check-updates flow in this process with a progress display.

    With no Prefect API configured, a temporary one starts first (``flows.temporary_api``) and
    comes up while the flow's code imports and the parser processes start; it stops at exit.
    A failed run raises the flow's own error (a PolicywatchError keeps its hint).
    """
    _ephemeral_defaults()
    gc.disable()  # while Prefect and the pipeline import (their objects are kept for good)
    try:
        from flows import temporary_api

        return _run_with_progress(temporary_api.start_unless_configured(), params)
    finally:
        gc.enable()  # already on again once the run started; this covers a failed start


def _run_with_progress(api: TemporaryAPI | None, params: dict[str, Any]) -> dict[str, Any]:
    from policywatch.http import prewarm as prewarm_http
    from policywatch.pool import prewarm

    prewarm(get_config())  # parser processes load while Prefect's API starts
    prewarm_http()  # and the CA bundle and anyio's backend
    for noisy in ("httpx", "mail.log"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from flows.check_updates import check_updates

    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as progress:
        task_id = progress.add_task(_starting(api), total=len(STAGES))
        handler = _StageHandler(progress, task_id)
        loggers = [logging.getLogger(name) for name in ("prefect.flow_runs", *OWN_LOGGERS)]
        for logger in loggers:
            logger.addHandler(handler)
        verbose = logging.getLogger().level <= logging.DEBUG
        called = time.perf_counter()
        # What the imports made lives as long as the process: collecting while importing found
        # nothing to free, and frozen out of the collector's sight it is skipped by the full
        # collections during the run and at exit (a backfill's wall: -0.9 s; imports: -0.3 s)
        gc.freeze()
        gc.enable()
        try:
            if api is not None:
                api.wait(api.startup_timeout())
            with _quiet_console(verbose):
                state = asyncio.run(_call(check_updates, params))
        finally:
            for logger in loggers:
                logger.removeHandler(handler)
    if verbose:
        _print_timing(called, state)
    if state.is_failed() or state.is_crashed():
        exc = state.result(raise_on_failure=False)
        if isinstance(exc, PolicywatchError):
            raise PolicywatchError(f"check-updates failed: {exc}", hint=exc.hint)
        raise PolicywatchError(f"check-updates failed: {exc or state.message}")
    result: dict[str, Any] = state.result()
    return result


def _print_timing(called: float, state: Any) -> None:
    """``policywatch -v run``: where the time went (imports, Prefect, the pipeline itself)."""
    from policywatch import cli

    total = time.perf_counter() - called
    result = state.result(raise_on_failure=False) if state.is_completed() else None
    pipeline = (
        (result or {}).get("stats", {}).get("pipeline_s") if isinstance(result, dict) else None
    )
    prefect = f"{total - pipeline:.2f} s" if pipeline is not None else "?"
    shown = f"{pipeline:.2f} s" if pipeline is not None else "?"
    err_console.print(
        f"timing: imports {called - cli.STARTED:.2f} s · Prefect API start and bookkeeping "
        f"{prefect} · pipeline {shown}",
        highlight=False,
        soft_wrap=True,
    )


@app.command("run")
def run(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Match and report; record, enqueue and send nothing.")
    ] = False,
    since: Annotated[
        dt.datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="Backfill: read issues published since this day."),
    ] = None,
    source: Annotated[
        list[str] | None, typer.Option("--source", help="Only this configured source (repeat).")
    ] = None,
    deliver: Annotated[
        bool, typer.Option("--deliver/--no-deliver", help="Send pending alerts at the end.")
    ] = True,
    alert_existing: Annotated[
        bool,
        typer.Option(
            "--alert-existing",
            help="A source's first run alerts everything it lists (default: only what was "
            "published in the last intake.baseline_days; the rest is a silent baseline).",
        ),
    ] = False,
) -> None:
    """Run check-updates once (on Prefect's ephemeral API unless PREFECT_API_URL is set)."""
    from policywatch.settings import check_for_run

    try:
        check_for_run(get_config())  # every config problem at once, before Prefect starts
        summary = run_check_updates(
            dry_run=dry_run, since=since.date() if since else None, sources=source or None,
            deliver=deliver, alert_existing=alert_existing,
        )  # fmt: skip
    except PolicywatchError as exc:
        raise fail(exc) from None
    from policywatch.demo import summary_table

    console.print(summary_table(summary, "check-updates" + (" (dry run)" if dry_run else "")))
    code = report_health(summary)
    if code:
        raise typer.Exit(code)


def report_health(summary: dict[str, Any]) -> int:
    """The run's problems below its table, and the exit code: 0 clean, 1 completed with
    problems, 2 failed (alerts were due and none was delivered); README, "Exit codes"."""
    from policywatch.health import exit_code

    verdict = str(summary.get("verdict", "clean"))
    problems = summary.get("problems") or []
    if verdict == "failed":
        err_console.print("[bold red]failed:[/] alerts were due and none was delivered")
    elif problems:
        err_console.print(f"[bold yellow]completed with {len(problems)} problem(s):[/]")
    for problem in problems:
        err_console.print(f"  - {escape(problem['message'])}", highlight=False, soft_wrap=True)
    return exit_code(verdict)


@app.command("serve")
def serve(
    limit: Annotated[
        int | None, typer.Option(help="At most this many flow runs at once (default: no limit).")
    ] = None,
    wait: Annotated[
        float, typer.Option(help="Seconds to wait for the Prefect API to come up.")
    ] = 0,
    local_server: Annotated[
        int | None,
        typer.Option(
            "--local-server",
            metavar="PORT",
            help="No Prefect API configured: start a local Prefect server on this port "
            "(127.0.0.1) for as long as serve runs (make serve).",
        ),
    ] = None,
) -> None:
    """Serve check-updates, process-issue and send-test-alert as deployments (Prefect UI)."""
    os.environ.setdefault("POLICYWATCH_CONFIG_DIR", str(get_config().dir))
    logging.getLogger("httpx").setLevel(logging.WARNING)
    from flows.deployments import api_url

    if api_url():
        _serve(limit, wait)
        return
    if local_server is None:
        err_console.print(
            "[yellow]PREFECT_API_URL is not set:[/] the deployments would live in a temporary "
            "server. Run `make serve` (starts a local server), or start one with "
            "`prefect server start` and export PREFECT_API_URL=http://127.0.0.1:4200/api."
        )
        raise typer.Exit(2)
    _serve_with_local_server(local_server, limit)


def _serve(limit: int | None, wait: float) -> None:
    import httpx

    from flows.deployments import api_url, serve_all, ui_url, wait_for_api

    if wait and not wait_for_api(wait):
        err_console.print(f"[red]the Prefect API at {api_url()} did not answer within {wait}s[/]")
        raise typer.Exit(2)
    console.print(f"Prefect UI: [bold]{ui_url()}[/] (Deployments → policywatch)")
    try:
        serve_all(get_config(), limit=limit)
    except KeyboardInterrupt:
        err_console.print("stopped")
    except httpx.HTTPError as exc:  # Prefect's client raises httpx errors (and subclasses)
        raise fail(
            PolicywatchError(
                f"the Prefect API at {api_url()} failed: {type(exc).__name__}: {exc}",
                hint="start a server (make serve) or fix PREFECT_API_URL",
            )
        ) from None


def _serve_with_local_server(port: int, limit: int | None) -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.deployments import local_server

    log_path = get_config().root / "var" / "prefect-server.log"
    console.print(f"starting a local Prefect server on 127.0.0.1:{port} (log: {log_path})")
    # Ctrl-C and SIGTERM alike end serve first, then the server (see local_server).
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        with local_server(port, log_path) as url:
            os.environ["PREFECT_API_URL"] = url  # the flow-run subprocesses inherit it
            with temporary_settings(updates={PREFECT_API_URL: url}):
                _serve(limit, 0)
    except PolicywatchError as exc:
        raise fail(exc) from None
    except KeyboardInterrupt:
        err_console.print("stopped")


@app.command("demo")
def demo() -> None:
    """Offline demo: a synthetic site and an SMTP sink on loopback, three runs of check-updates."""
    from policywatch.demo import run_demo

    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    logging.getLogger().setLevel(logging.WARNING)
    counts = run_demo(lambda **params: run_check_updates(**params), console)
    if counts["run1"] == 0 or counts["run2"] != 0 or counts["run3"] == 0:
        err_console.print(f"[red]unexpected demo result:[/] {counts}")
        raise typer.Exit(1)
