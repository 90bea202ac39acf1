"""What one run did: the records behind the run's artifacts, the CLI table and the ``runs`` row.

Kept apart from ``pipeline`` (the steps) so the reporting side (``flows/report.py``, the CLI)
depends on plain data only.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from policywatch.models import Alert, Change, Match

IssueStatus = Literal["new", "revised", "unchanged", "ignored", "unrecognised", "failed"]


def reason_text(match: Match) -> str:
    return "; ".join(f"{r.facet} {r.term} ({r.field}: {r.found})" for r in match.reasons)


@dataclass
class SourceOutcome:
    name: str
    ok: bool
    candidates: int = 0
    error: str | None = None


@dataclass
class IssueOutcome:
    url: str
    source: str
    status: IssueStatus
    title: str | None = None
    published: dt.date | None = None
    items: dict[str, int] = field(default_factory=dict)
    error: str | None = None


@dataclass
class ItemChange:
    issue: str
    item_id: str
    section: str
    headline: str
    change: Change
    sectors: list[str] = field(default_factory=list)
    companies: list[str] = field(default_factory=list)


@dataclass
class NoticeRow:
    url: str
    site: str
    status: str
    title: str | None = None
    error: str | None = None


@dataclass
class MatchRow:
    watchlist: str
    item_id: str
    headline: str
    issue: str
    change: Change
    reasons: str


@dataclass
class RunSummary:
    """Everything a run did, for the artifacts, the CLI table and the ``runs`` table."""

    run_id: str
    dry_run: bool = False
    started: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    sources: list[SourceOutcome] = field(default_factory=list)
    issues: list[IssueOutcome] = field(default_factory=list)
    items: list[ItemChange] = field(default_factory=list)
    notices: list[NoticeRow] = field(default_factory=list)
    matches: list[MatchRow] = field(default_factory=list)
    enqueued: Counter[str] = field(default_factory=Counter)
    sent: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    delivery_errors: list[str] = field(default_factory=list)
    stats: dict[str, float] = field(default_factory=dict)  # timings and statement counts

    def checkpoint(self) -> tuple[int, int, int]:
        """Where the issue, item and match lists end now (see :meth:`rollback`)."""
        return len(self.issues), len(self.items), len(self.matches)

    def rollback(self, mark: tuple[int, int, int]) -> None:
        """Forget the issue, items and matches added since ``mark`` (their issue failed and
        nothing of it was recorded); fetched notices stay listed."""
        del self.issues[mark[0] :], self.items[mark[1] :], self.matches[mark[2] :]

    def issue_counts(self) -> Counter[str]:
        return Counter(i.status for i in self.issues)

    def notice_counts(self) -> Counter[str]:
        return Counter(n.status for n in self.notices)

    def alert_rows(self) -> list[dict[str, Any]]:
        """Per watchlist: alerts enqueued, sent and failed in this run."""
        names = sorted(
            {*self.enqueued, *self.sent, *self.failed, *(m.watchlist for m in self.matches)}
        )
        return [
            {
                "watchlist": n,
                "matches": sum(m.watchlist == n for m in self.matches),
                "enqueued": self.enqueued[n],
                "sent": self.sent[n],
                "failed": self.failed[n],
            }
            for n in names
        ]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe; stored as the run's summary and returned by the flow."""
        data = asdict(self)
        for key in ("enqueued", "sent", "failed"):
            data[key] = dict(getattr(self, key))
        result: dict[str, Any] = json.loads(json.dumps(data, default=str))
        return result

    def count_enqueued(self, alerts: Sequence[Alert], keys: Sequence[str]) -> None:
        """Count the alerts the outbox really added (``keys``), per watchlist."""
        added = set(keys)
        self.enqueued.update(a.watchlist for a in alerts if a.key in added)

    def merge(self, part: RunSummary) -> None:
        """Add one issue's summary (issues run concurrently; each keeps its own part)."""
        self.issues += part.issues
        self.items += part.items
        self.notices += part.notices
        self.matches += part.matches
        self.enqueued.update(part.enqueued)
        self.delivery_errors += part.delivery_errors
