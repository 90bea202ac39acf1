"""The progress display of ``policywatch run``: stage lines, and each policywatch warning printed
once above it (README "Health": expected failures log one WARNING line)."""

from __future__ import annotations

import io
import logging

from rich.console import Console
from rich.progress import Progress

from policywatch.cli.run import _StageHandler


def record(name: str, level: int, message: str) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, message, None, None)


def test_a_failed_issue_is_printed_and_an_issue_progress_line_is_not() -> None:
    out = io.StringIO()
    console = Console(file=out, width=250, force_terminal=False)
    with Progress(console=console, transient=True) as progress:
        handler = _StageHandler(progress, progress.add_task("starting", total=9))
        handler.emit(record("policywatch.intake", logging.INFO, "issue 1/4 new: merics · a"))
        failed = "issue merics · b failed: https://merics.org/en/b: server kept failing (HTTP 503)"
        handler.emit(record("policywatch.intake", logging.WARNING, failed))
        handler.emit(record("policywatch.intake", logging.WARNING, failed))  # a retry: once
    printed = out.getvalue()
    assert printed.count(f"! {failed}") == 1
    assert "issue 1/4" not in printed
