"""What one candidate became, and how units of work are run (plainly, or as Prefect tasks)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from policywatch import pipeline as p
from policywatch.sources import Candidate, Verdict
from policywatch.summary import RunSummary

__all__ = ["IssueFailed", "IssueResult", "Runner", "log", "plain_runner"]

# one logger for the whole package: the CLI's progress display reads its "issue N/M" lines
log = logging.getLogger("policywatch.intake")

T = TypeVar("T")
# runner(label, work): runs ``work`` (an issue or a source) and returns its result; the flow's
# runner wraps it in a Prefect task named ``label``.
Runner = Callable[[str, Callable[[], Awaitable[T]]], Awaitable[T]]


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
