"""Render a run's summary as the Markdown and table artifacts the Prefect UI shows.

Plain functions (no Prefect import) so the CLI prints the same text and tests read it without a
server. Nothing here sees a channel URL: the summary holds watchlist and channel *names* only.
"""

from __future__ import annotations

import re
from typing import Any

from policywatch.summary import RunSummary

MAX_ROWS = 200


def artifact_key(base: str, kind: str) -> str:
    """Lowercase letters, digits and dashes (Prefect's rule), stable for one deployment."""
    slug = re.sub(r"[^a-z0-9]+", "-", f"{base}-{kind}".lower()).strip("-")
    return slug or kind


def _cell(value: object) -> str:
    return str(value if value is not None else "").replace("|", "\\|").replace("\n", " ")


def _table(headers: list[str], rows: list[list[object]]) -> list[str]:
    if not rows:
        return ["_none_", ""]
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows[:MAX_ROWS]]
    if len(rows) > MAX_ROWS:
        out.append(f"\n_… {len(rows) - MAX_ROWS} more rows_")
    return [*out, ""]


def headline(summary: RunSummary) -> str:
    issues = summary.issue_counts()
    notices = summary.notice_counts()
    mode = "dry run: nothing recorded, enqueued or sent. " if summary.dry_run else ""
    return (
        f"{mode}{issues['new'] + issues['revised']} new/revised issue(s), "
        f"{len(summary.items)} new/revised item(s), {len(summary.notices)} notice(s) fetched "
        f"({notices['ok']} ok, {notices['blocked']} blocked, "
        f"{notices['not_found']} not found, {notices['error']} failed), "
        f"{len(summary.matches)} match(es), {sum(summary.enqueued.values())} alert(s) enqueued, "
        f"{_delivered(summary)}"
    )


def _delivered(summary: RunSummary) -> str:
    """Messages as the channels received them; alerts that did not go, by why."""
    t = summary.delivery_totals()
    waiting = t.disabled + t.deferred + t.retrying
    return (
        f"{t.sent} message(s) sent ({t.items} item(s)), {t.skipped} skipped (already delivered), "
        f"{waiting} waiting, {t.failed} failed"
    )


def to_markdown(summary: RunSummary, title: str = "check-updates") -> str:
    """The run summary: sources, issues, items, notices, alerts per watchlist, problems."""
    lines = [f"# policywatch {title}", "", headline(summary), ""]
    if summary.baseline:
        first = ", ".join(f"{n} ({k})" for k, n in sorted(summary.baseline.items()))
        lines += [
            f"Baseline: item(s) recorded without alerts on a source's first run: {first}.",
            "",
        ]
    lines += ["## Sources", ""]
    lines += _table(
        ["source", "reachable", "candidates", "error"],
        [[s.name, "yes" if s.ok else "NO", s.candidates, s.error or ""] for s in summary.sources],
    )
    lines += ["## Issues", ""]
    lines += _table(
        ["issue", "published", "status", "items", "error"],
        [
            [i.title or i.url, i.published or "", i.status, _counts(i.items), i.error or ""]
            for i in summary.issues
        ],
    )
    lines += ["## New and revised items", ""]
    lines += _table(
        ["section", "headline", "change", "sectors", "companies", "issue"],
        [
            [i.section, i.headline, i.change, ", ".join(i.sectors), ", ".join(i.companies), i.issue]
            for i in summary.items
        ],
    )
    lines += ["## Notices", ""]
    lines += _table(
        ["status", "site", "title", "url", "error"],
        [[n.status, n.site, n.title or "", n.url, n.error or ""] for n in summary.notices],
    )
    lines += ["## Matches per watchlist", ""]
    lines += _table(["watchlist", "matches"], [list(r.values()) for r in summary.alert_rows()])
    lines += ["## Delivery per channel", ""]
    rows = summary.channel_rows()
    lines += _table(list(rows[0]) if rows else [], [list(r.values()) for r in rows])
    if summary.delivery_errors:
        lines += ["## Problems", "", *(f"- {e}" for e in summary.delivery_errors), ""]
    return "\n".join(lines)


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{v} {k}" for k, v in sorted(counts.items()) if v) or "-"


def match_table(summary: RunSummary) -> list[dict[str, Any]]:
    """One row per (watchlist, item) match, with the reasons, for the table artifact."""
    return [
        {
            "watchlist": m.watchlist,
            "headline": m.headline,
            "change": m.change,
            "issue": m.issue,
            "reasons": m.reasons,
            "item_id": m.item_id,
        }
        for m in summary.matches[:MAX_ROWS]
    ]
