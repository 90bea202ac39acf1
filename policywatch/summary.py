"""What one run did: the records behind the run's artifacts, the CLI table and the ``runs`` row.

Kept apart from ``pipeline`` (the steps) so the reporting side (``flows/report.py``, the CLI)
depends on plain data only.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal, TypeVar

from policywatch.delivery_report import ChannelCounts, DeliveryReport
from policywatch.models import Alert, Change, Match

IssueStatus = Literal["new", "revised", "unchanged", "ignored", "unrecognised", "failed"]
# Why an issue failed: its page could not be fetched or read, the parser found no items in it
# (the structural canary of ``policywatch.canaries``), or a step after parsing failed.
FailureCause = Literal["fetch", "parse", "error"]
Verdict = Literal["clean", "problems", "failed"]


def reason_text(match: Match) -> str:
    return "; ".join(f"{r.facet} {r.term} ({r.field}: {r.found})" for r in match.reasons)


def reason_terms(match: Match) -> str:
    """The terms that matched, by facet (``sector batteries · company BYD, CATL``): the short
    form of :func:`reason_text` for a table cell."""
    facets: dict[str, list[str]] = {}
    for r in match.reasons:
        terms = facets.setdefault(r.facet, [])
        if r.term not in terms:
            terms.append(r.term)
    return " · ".join(f"{facet} {', '.join(terms)}" for facet, terms in facets.items())


@dataclass
class SourceOutcome:
    name: str
    ok: bool
    candidates: int = 0
    error: str | None = None
    failures: int = 0  # failed runs in a row, this one included (0: listed fine)


@dataclass
class IssueOutcome:
    url: str
    source: str
    status: IssueStatus
    title: str | None = None
    published: dt.date | None = None
    items: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    cause: FailureCause | None = None  # set when status is "failed"


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
    url: str = ""  # the item's issue (a URL, or a file for a folder source)
    notices: list[str] = field(default_factory=list)  # the notices the item cites
    terms: str = ""  # reason_terms: the short form of ``reasons``


@dataclass
class Problem:
    """Something an operator must act on (``policywatch.health``): a source down while others
    worked, alerts that did not reach their channel, a canary, or the run's own failure."""

    kind: Literal["run", "source", "delivery", "canary"]
    subject: str
    message: str


@dataclass
class RunSummary:
    """Everything a run did, for the artifacts, the CLI table and the ``runs`` table.

    Delivery counts are per channel: ``enqueued`` alerts (one per item and channel), ``sent``
    messages the channel accepted (a digest is one), ``failed`` alerts that gave up, and the
    full per-channel counts of the delivery in ``delivery`` (see ``policywatch.delivery_report``).
    """

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
    delivery: dict[str, ChannelCounts] = field(default_factory=dict)
    delivery_outcome: str = "not_run"  # else DeliveryReport.outcome
    delivery_errors: list[str] = field(default_factory=list)
    stats: dict[str, float] = field(default_factory=dict)  # timings and statement counts
    baseline: Counter[str] = field(default_factory=Counter)  # per source: recorded, not alerted
    failure: str | None = None  # why the run failed (its error's message), None if it did not
    hint: str | None = None  # what to do about the failure, when its error says
    problems: list[Problem] = field(default_factory=list)  # see policywatch.health
    verdict: Verdict = "clean"

    def issue_counts(self) -> Counter[str]:
        return Counter(i.status for i in self.issues)

    def notice_counts(self) -> Counter[str]:
        return Counter(n.status for n in self.notices)

    def alert_rows(self) -> list[dict[str, Any]]:
        """Per watchlist: its matches in this run (one item may alert several watchlists in one
        message, so messages are counted per channel, in :meth:`channel_rows`)."""
        counts = Counter(m.watchlist for m in self.matches)
        return [{"watchlist": n, "matches": counts[n]} for n in sorted(counts)]

    def channel_rows(self) -> list[dict[str, Any]]:
        """Per channel: alerts enqueued, then what the delivery did with the due ones."""
        names = sorted({*self.enqueued, *self.delivery})
        rows = []
        for name in names:
            c = self.delivery.get(name, ChannelCounts())
            rows.append({"channel": name, "enqueued": self.enqueued[name], "due": c.due,
                         "messages sent": c.sent, "items sent": c.items,
                         "skipped (already delivered)": c.skipped, "disabled": c.disabled,
                         "deferred": c.deferred, "retrying": c.retrying, "failed": c.failed,
                         "note": c.note})  # fmt: skip
        return rows

    def add_delivery(self, report: DeliveryReport) -> None:
        """Take in one delivery's per-channel counts and problems."""
        for name, counts in report.channels.items():
            mine = self.delivery.setdefault(name, ChannelCounts())
            for key, value in vars(counts).items():
                setattr(mine, key, value if key == "note" else getattr(mine, key) + value)
            self.sent[name] += counts.sent
            self.failed[name] += counts.failed
        self.delivery_outcome = report.outcome
        self.delivery_errors.extend(report.errors)

    def delivery_totals(self) -> ChannelCounts:
        """The per-channel counts summed (``note`` left empty)."""
        total = ChannelCounts()
        for counts in self.delivery.values():
            for key, value in vars(counts).items():
                if key != "note":
                    setattr(total, key, getattr(total, key) + value)
        return total

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe; stored as the run's summary and returned by the flow."""
        data = asdict(self)
        for key in ("enqueued", "sent", "failed", "baseline"):
            data[key] = dict(getattr(self, key))
        result: dict[str, Any] = json.loads(json.dumps(data, default=str))
        return result

    def count_enqueued(self, alerts: Sequence[Alert], keys: Sequence[str]) -> None:
        """Count the alerts the outbox really added (``keys``), per channel."""
        added = set(keys)
        self.enqueued.update(a.channel for a in alerts if a.key in added)

    def merge(self, part: RunSummary) -> None:
        """Add one issue's summary (issues run concurrently; each keeps its own part)."""
        self.issues += part.issues
        self.items += part.items
        self.notices += part.notices
        self.matches += part.matches
        self.enqueued.update(part.enqueued)
        self.baseline.update(part.baseline)
        self.delivery_errors += part.delivery_errors

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunSummary:
        """A summary read back from its ``to_dict`` (a fan-out's parent reads its children's from
        their ``runs`` rows); delivery counts are left out: children leave delivery to it."""
        out = cls(run_id=str(data.get("run_id", "")), dry_run=bool(data.get("dry_run")))
        out.sources = _rows(SourceOutcome, data.get("sources"))
        out.issues = _rows(IssueOutcome, data.get("issues"))
        for issue in out.issues:
            issue.published = _date(issue.published)
        out.items = _rows(ItemChange, data.get("items"))
        out.notices = _rows(NoticeRow, data.get("notices"))
        out.matches = _rows(MatchRow, data.get("matches"))
        out.enqueued = Counter(data.get("enqueued") or {})
        out.baseline = Counter(data.get("baseline") or {})
        out.delivery_errors = list(data.get("delivery_errors") or [])
        out.stats = dict(data.get("stats") or {})
        return out


R = TypeVar("R")


def _rows(kind: type[R], rows: Any) -> list[R]:
    """Dataclass rows from dicts, ignoring keys the dataclass does not have (older rows)."""
    known = {f.name for f in fields(kind)}  # type: ignore[arg-type]
    return [kind(**{k: v for k, v in row.items() if k in known}) for row in rows or []]


def _date(value: object) -> dt.date | None:
    if isinstance(value, dt.date) or value is None:
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        return None
