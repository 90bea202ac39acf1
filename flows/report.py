"""Render a run's summary as the Markdown artifacts the Prefect UI shows.

Plain functions (no Prefect import) so the CLI prints the same text and tests read it without a
server. Nothing here sees a channel URL: the summary holds watchlist and channel *names* only.

Readable at the UI's default width (a 1280 px window leaves the artifact about 580 px): cells
are cut short (the full text is in the flow's result and the ``runs`` row), long URLs become
links named by their title or host, and a failed run or a run with problems says so first.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import urlsplit

from policywatch.health import problem_summary
from policywatch.summary import IssueOutcome, MatchRow, NoticeRow, RunSummary

MAX_ROWS = 200
HEADLINE = 80  # characters of a headline in a cell (60 in the matches, beside the reasons)
TITLE = 48  # of an issue or notice title
ERROR = 90  # of an error
REASONS = 110

_STATES = {"clean": "completed", "problems": "completed with problems", "failed": "failed"}


def artifact_key(base: str, kind: str) -> str:
    """Lowercase letters, digits and dashes (Prefect's rule), stable for one deployment."""
    slug = re.sub(r"[^a-z0-9]+", "-", f"{base}-{kind}".lower()).strip("-")
    return slug or kind


def short(value: object, limit: int) -> str:
    """One line of at most ``limit`` characters (cut with an ellipsis)."""
    text = re.sub(r"\s+", " ", str(value if value is not None else "")).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _cell(value: object) -> str:
    return str(value if value is not None else "").replace("|", "\\|").replace("\n", " ")


def link(text: str, url: str | None) -> str:
    """``[text](url)`` for a web URL (brackets in the text escaped); the text alone otherwise."""
    if not url or not url.lower().startswith(("http://", "https://")):
        return text
    label = text.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]")
    return f"[{label}]({url.replace(' ', '%20').replace(')', '%29')})"


def host(url: str) -> str:
    name = urlsplit(url).hostname or url
    return name.removeprefix("www.")


_URL = re.compile(r"https?://[^\s<>()\[\]]+[^\s<>()\[\].,;:!?'\"]")
_PATH = re.compile(r"(?<![\w:/.])/(?:[^\s/:()]+/)+([^\s/:()]+)")  # an absolute file path


def url_label(url: str) -> str:
    """``miit.gov.cn/…/art_9a8b7c6d.html``: the host and the last path segment, cut short."""
    path = urlsplit(url).path.rstrip("/")
    tail = path.rsplit("/", 1)[-1]
    if not tail:
        return host(url)
    tail = tail if len(tail) <= 24 else tail[:23] + "…"
    return f"{host(url)}/…/{tail}" if path.count("/") > 1 else f"{host(url)}/{tail}"


def brief(value: object, limit: int) -> str:
    """Markdown for free text: at most ``limit`` visible characters, URLs as short links and
    files by their name (a long URL or path does not wrap: it would push a table off the
    screen)."""
    text = re.sub(r"\s+", " ", str(value if value is not None else "")).strip()
    text = _PATH.sub(r"\1", text)  # a file by its name: the full path is in the result
    out: list[str] = []
    seen = pos = 0
    for match in [*_URL.finditer(text), None]:
        plain = text[pos : match.start() if match else len(text)]
        if seen + len(plain) > limit:
            return "".join(out) + _md_text(plain[: max(limit - seen - 1, 0)].rstrip()) + "…"
        out.append(_md_text(plain))
        seen += len(plain)
        if match is None:
            break
        label = url_label(match.group())
        out.append(link(label, match.group()))
        seen, pos = seen + len(label), match.end()
    return "".join(out)


def _md_text(text: str) -> str:
    """Plain text that Markdown shows as it is (no emphasis, no links)."""
    return re.sub(r"([\\`*_\[\]<>])", r"\\\1", text)


def _table(headers: list[str], rows: Sequence[Sequence[object]]) -> list[str]:
    if not rows:
        return ["_none_", ""]
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows[:MAX_ROWS]]
    if len(rows) > MAX_ROWS:
        out.append(f"\n_… {len(rows) - MAX_ROWS} more rows (the flow's result has them all)_")
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


def title(summary: RunSummary, flow_name: str) -> str:
    mode = " (dry run)" if summary.dry_run else ""
    return f"{flow_name}{mode}: {_STATES.get(summary.verdict, summary.verdict)}"


def to_markdown(summary: RunSummary, flow_name: str = "check-updates") -> str:
    """The run summary: its outcome and problems first, then sources, issues, items, notices,
    matches per watchlist and delivery per channel."""
    lines = [f"# {title(summary, flow_name)}", "", *_opening(summary), headline(summary), ""]
    if summary.baseline:
        first = ", ".join(f"{n} ({k})" for k, n in sorted(summary.baseline.items()))
        lines += [
            f"Baseline: item(s) recorded without alerts on a source's first run: {first}.",
            "",
        ]
    lines += ["## Sources", "", *_sources(summary)]
    lines += ["## Issues", "", *_issues(summary.issues)]
    lines += ["## New and revised items", "", *_items(summary)]
    lines += ["## Notices", "", *_notices(summary.notices)]
    lines += ["## Matches per watchlist", ""]
    lines += _table(["watchlist", "matches"], [list(r.values()) for r in summary.alert_rows()])
    lines += ["## Delivery per channel", "", *_delivery(summary)]
    return "\n".join(lines)


def _delivery(summary: RunSummary) -> list[str]:
    """Per channel: alerts enqueued and due, messages and items sent, skipped (already
    delivered), waiting (disabled, deferred or retrying: the note says why), failed for good."""
    headers = ["channel", "enqueued", "due", "sent", "items", "skipped", "waiting", "failed"]
    rows = [
        [r["channel"], r["enqueued"], r["due"], r["messages sent"], r["items sent"],
         r["skipped (already delivered)"], r["disabled"] + r["deferred"] + r["retrying"],
         r["failed"], brief(r["note"], 56)]
        for r in summary.channel_rows()
    ]  # fmt: skip
    return _table([*headers, "note"], rows)


def _opening(summary: RunSummary) -> list[str]:
    """A failed run's cause (and hint), then every problem, before anything else."""
    lines: list[str] = []
    if summary.failure:
        lines += [f"**Run failed: {brief(summary.failure, 600)}**", ""]
        if summary.hint:
            lines += [f"Hint: {brief(summary.hint, 300)}", ""]
    others = [p for p in summary.problems if p.kind != "run"]
    if others:
        lines += [f"**{len(others)} problem(s)** to look at:", ""]
        lines += [f"- {brief(p.message, 400)}" for p in others] + [""]
    elif not summary.failure and summary.verdict == "clean":
        lines += [f"_{problem_summary(summary)}._", ""]
    return lines


def _sources(summary: RunSummary) -> list[str]:
    return _table(
        ["source", "read", "failed runs in a row", "candidates", "error"],
        [
            [s.name, "yes" if s.ok else "NO", s.failures, s.candidates, brief(s.error, ERROR)]
            for s in summary.sources
        ],
    )


def _issues(issues: Sequence[IssueOutcome]) -> list[str]:
    return _table(
        ["issue", "published", "status", "items", "error"],
        [
            [link(short(i.title or i.url, TITLE), i.url), i.published or "", i.status,
             _counts(i.items), brief(_without(i.error, i.url), ERROR)]
            for i in issues
        ],
    )  # fmt: skip


def _items(summary: RunSummary) -> list[str]:
    """Grouped by issue, so no cell repeats the issue's title."""
    if not summary.items:
        return ["_none_", ""]
    lines: list[str] = []
    issues = list(dict.fromkeys(i.issue for i in summary.items))
    for issue in issues:
        rows = [
            [short(i.headline, HEADLINE), i.section, i.change, ", ".join(i.sectors),
             ", ".join(i.companies)]
            for i in summary.items
            if i.issue == issue
        ]  # fmt: skip
        lines += [f"**{_cell(short(issue, 120))}**", ""]
        lines += _table(["headline", "section", "change", "sectors", "companies"], rows)
    return lines


def _notices(notices: Sequence[NoticeRow]) -> list[str]:
    return _table(
        ["status", "site", "notice", "error"],
        [
            [n.status, n.site, link(short(n.title or url_label(n.url), TITLE), n.url),
             brief(_without(n.error, n.url).removeprefix(f"{n.site}: "), ERROR)]
            for n in notices
        ],
    )  # fmt: skip


def _without(error: str | None, url: str) -> str:
    """An error without the URL its row links already (errors often start with it)."""
    return (error or "").replace(f"{url}: ", "").replace(url, "this page")


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{v} {k}" for k, v in sorted(counts.items()) if v) or "-"


def matches_markdown(summary: RunSummary) -> str:
    """One row per (watchlist, item) match, grouped by issue: the item (linked to its issue),
    why it matched (third), the change and the notices the item cites (linked)."""
    mode = " (dry run: nothing was sent)" if summary.dry_run else ""
    lines = [f"# {len(summary.matches)} match(es){mode}", ""]
    if not summary.matches:
        return "\n".join([*lines, "_no matches in this run_", ""])
    shown = summary.matches[:MAX_ROWS]
    for issue in dict.fromkeys(m.issue for m in shown):
        mine = [m for m in shown if m.issue == issue]
        lines += [f"**{link(short(issue, 120), mine[0].url)}**", ""]
        lines += _table(["watchlist", "item", "why", "change", "notice"], [_row(m) for m in mine])
    if len(summary.matches) > MAX_ROWS:
        lines.append(f"_… {len(summary.matches) - MAX_ROWS} more (the flow's result has them)_")
    return "\n".join(lines)


def _row(m: MatchRow) -> list[object]:
    notices = ", ".join(link(host(u), u) for u in m.notices[:3]) or "-"
    why = short(m.terms or m.reasons, REASONS)
    return [m.watchlist, link(short(m.headline, 60), m.url), why, m.change, notices]
