"""Render alerts into messages: HTML + plain-text email, Slack mrkdwn, Markdown and text.

One ``Message`` holds every rendering of one alert (or one digest); the channel that sends it
picks the part its service understands. An alert names every watchlist that matched its item,
each with its own reasons. Templates live in ``policywatch/templates``; HTML is autoescaped and
Markdown bodies escape the source's text, so a hostile headline cannot inject markup or links.
The Message-ID derives from the alert key, so a retried email is recognisably the same message;
its domain is the sender's (``delivery.sender``, else the channel's From address).
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from policywatch.models import IssueMeta, Notice, PolicyItem, Reason, WatchlistReasons

SUMMARY_CHARS = 420
SNIPPET_CHARS = 160
GOAL_CHARS = 200
MAX_GOALS = 8
EXCERPT_LINES = 3
EXCERPT_CHARS = 200
FALLBACK_DOMAIN = "policywatch.invalid"
DIFF_LINES = 12
DIFF_MAX_CHARS = 20_000
DIFF_LINE_CHARS = 200
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+|(?<=[。！？；])")
_LEAD_IN = re.compile(r"(?:^|(?<=[.!?。！？])\s*)([^.!?。！？]*[:：])\s*$")
MAX_LINKS = 8
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>()#!])")

_URL_QUOTE = {" ": "%20", "<": "%3C", ">": "%3E", '"': "%22", "(": "%28", ")": "%29", "|": "%7C"}


@dataclass(frozen=True)
class Entry:
    """One matched item with everything a message about it shows.

    ``matched`` lists every watchlist that matched the item for this channel, with its reasons.
    """

    key: str
    matched: Sequence[WatchlistReasons]
    item: PolicyItem
    issue: IssueMeta
    notices: Sequence[Notice] = ()
    change: str = "new"
    content_hash: str | None = None
    previous_hash: str | None = None
    previous_text: str | None = None

    @property
    def watchlists(self) -> list[str]:
        return [group.watchlist for group in self.matched]


@dataclass(frozen=True)
class Message:
    """Every rendering of one alert or digest; its Message-ID is stable for ``id_key``."""

    subject: str
    text: str
    html: str
    markdown: str
    slack: str
    id_key: str
    count: int = 1
    keys: tuple[str, ...] = field(default_factory=tuple)

    def body(self, fmt: str) -> str:
        return {"html": self.html, "markdown": self.markdown, "text": self.text}[fmt]

    def message_id(self, sender: str | None) -> str:
        """The Message-ID, in the domain of ``sender`` (an address, or ``Name <address>``)."""
        return message_id(self.id_key, sender)


def md_escape(value: object) -> str:
    """Backslash-escape Markdown syntax in source text (titles may carry links or markup)."""
    return _MD_SPECIAL.sub(r"\\\1", re.sub(r"\s+", " ", str(value)))


def code_line(value: object) -> str:
    """Source text inside a fenced code block: no backtick may close the fence."""
    return str(value).replace("`", "'")


def safe_url(url: object) -> str:
    """Only http(s) links go into a message, percent-encoding what would break Markdown/HTML."""
    text = str(url or "").strip()
    if not re.match(r"https?://", text, flags=re.IGNORECASE):
        return ""
    return "".join(_URL_QUOTE.get(ch, ch) for ch in text)


def _env() -> Environment:
    env = Environment(
        loader=PackageLoader("policywatch", "templates"),
        autoescape=select_autoescape(["html", "html.j2"], default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["md"] = md_escape
    env.filters["url"] = safe_url
    env.filters["code"] = code_line
    return env


_ENV = _env()


def trim(text: str | None, limit: int) -> str:
    """Cut at a word boundary so summaries stay readable."""
    text = " ".join((text or "").split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0].rstrip(",;:.-")
    return cut + " …"


def highlight(snippet: str, found: str) -> list[tuple[str, bool]]:
    """Split ``snippet`` into (text, is_match) pieces around every case-insensitive ``found``."""
    snippet = trim(snippet, SNIPPET_CHARS)
    if not found:
        return [(snippet, False)]
    parts: list[tuple[str, bool]] = []
    pos = 0
    for m in re.finditer(re.escape(found), snippet, flags=re.IGNORECASE):
        if m.start() > pos:
            parts.append((snippet[pos : m.start()], False))
        parts.append((m.group(0), True))
        pos = m.end()
    if pos < len(snippet):
        parts.append((snippet[pos:], False))
    return parts or [(snippet, False)]


def item_text(item: PolicyItem) -> str:
    """The text a revision diff compares: the item's full text, else its headline and summary."""
    if item.text.strip():
        return item.text
    parts = [item.headline, item.summary or "", *item.goals, item.comment or ""]
    return "\n".join(p for p in parts if p.strip())


def _sentences(text: str) -> list[str]:
    """Lines split further at sentence ends, so one changed word does not show a whole paragraph."""
    out: list[str] = []
    for line in text.splitlines():
        out += [s for s in _SENTENCE_END.split(" ".join(line.split())) if s]
    return out


def short_diff(old: str | None, new: str) -> list[str]:
    """A few ``-``/``+`` sentences of diff, only when it is cheap to compute."""
    if not old or len(old) > DIFF_MAX_CHARS or len(new) > DIFF_MAX_CHARS:
        return []
    a, b = _sentences(old), _sentences(new)
    # autojunk off: a sentence repeated throughout a text is content, not noise to skip
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    body: list[str] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            body += ["-" + trim(x, DIFF_LINE_CHARS) for x in a[i1:i2]]
            body += ["+" + trim(x, DIFF_LINE_CHARS) for x in b[j1:j2]]
    return body[:DIFF_LINES] + (["…"] if len(body) > DIFF_LINES else [])


def _date(value: dt.date | None) -> str:
    return value.isoformat() if value else ""


def _nav(entry: Entry) -> list[dict[str, str]]:
    """Links to show: the newsletter issue, the notices, then the item's other links."""
    # a ministry's own notice has no newsletter issue: its link is the notice's, listed next
    notice = entry.item.section == "notice"
    pairs = [] if notice else [("Newsletter issue", entry.issue.url or "")]
    pairs += [(n.doc_number or "Ministry notice", n.url) for n in entry.notices]
    pairs += [(link.text or "Link", link.url) for link in entry.item.links]
    seen: set[str] = set()
    out = []
    for label, url in pairs:
        safe = safe_url(url)
        if safe and safe not in seen:
            seen.add(safe)
            out.append({"label": " ".join(label.split()), "url": safe})
    return out[:MAX_LINKS]


def view(entry: Entry) -> dict[str, Any]:
    """The facts a template shows, computed once for every format."""
    item, policy = entry.item, entry.item.policy
    notice = item.section == "notice"  # from a ministry's list: no newsletter issue around it
    return {
        "key": entry.key,
        "revised": entry.change == "revised",
        "headline": " ".join(item.headline.split()),
        "watchlists": ", ".join(entry.watchlists),
        "section": "ministry notice" if notice else item.section.replace("_", " "),
        "date": _date(item.date),
        "summary": summary_text(item),
        "goals": [trim(g, GOAL_CHARS) for g in item.goals[:MAX_GOALS]],
        "title_en": (policy.title_en if policy else None) or "",
        "title_zh": (policy.title_zh if policy else None) or "",
        "bodies": ", ".join(policy.issuing_bodies) if policy else "",
        "policy_date": _date(policy.date) if policy else "",
        "issue_title": f"Listed by {entry.issue.series}"
        if notice
        else entry.issue.title or entry.issue.series,
        "issue_date": "" if notice else _date(entry.issue.published),
        "issue_url": entry.issue.url or "",
        "nav": _nav(entry),
        "notices": [_notice_view(n) for n in entry.notices],
        "groups": [_group_view(g) for g in entry.matched],
        "hash_old": (entry.previous_hash or "")[:8],
        "hash_new": (entry.content_hash or "")[:8],
        "diff": short_diff(entry.previous_text, item_text(item)),
    }


def summary_text(item: PolicyItem) -> str:
    """The summary trimmed to ~420 characters; a closing lead-in ("Key requirements include:")
    is kept after the cut when the item lists goals, so the list that follows makes sense."""
    text = " ".join((item.summary or item.text).split())
    lead = _LEAD_IN.search(text) if item.goals else None
    if lead is None or len(text) <= SUMMARY_CHARS:
        return trim(text, SUMMARY_CHARS)
    head = text[: lead.start(1)].rstrip()
    room = max(SUMMARY_CHARS - len(lead.group(1)) - 1, 0)
    return f"{trim(head, room)} {lead.group(1).strip()}".strip()


def excerpt(body_text: str) -> str:
    """The first non-empty lines of a notice's body (its salutation and opening), one line."""
    lines = [" ".join(line.split()) for line in body_text.splitlines()]
    text = ""
    for line in [line for line in lines if line][:EXCERPT_LINES]:
        cjk = text and not text[-1].isascii() and not line[0].isascii()
        text += line if cjk or not text else " " + line  # Chinese lines join without a space
    return trim(text, EXCERPT_CHARS)


def _notice_view(notice: Notice) -> dict[str, Any]:
    return {
        "url": notice.url,
        "link": safe_url(notice.url),
        "title": notice.title or "",
        "doc_number": notice.doc_number or "",
        "published": _date(notice.published),
        "body": notice.issuing_body or "",
        "status": notice.status,
        "excerpt": excerpt(notice.body_text) if notice.status == "ok" else "",
    }


def _group_view(group: WatchlistReasons) -> dict[str, Any]:
    label = {"new": "", "follow_up": "Follow-up", "final": "Final version"}[group.relation]
    note = f"{label}: {group.note}" if label and group.note else label
    return {
        "watchlist": group.watchlist,
        "reasons": [_reason_view(r) for r in group.reasons],
        "note": note,
    }


def _reason_view(reason: Reason) -> dict[str, Any]:
    return {
        "facet": reason.facet,
        "term": reason.term,
        "found": reason.found,
        "field": reason.field,
        "parts": highlight(reason.snippet, reason.found),
    }


def sender_domain(sender: str | None) -> str:
    """The domain of an address (``Name <user@example.org>`` or ``user@example.org``)."""
    address = (sender or "").rsplit("<", 1)[-1].strip(" >")
    domain = address.rsplit("@", 1)[-1].strip() if "@" in address else ""
    return domain or FALLBACK_DOMAIN


def message_id(key: str, sender: str | None) -> str:
    """A Message-ID that is the same every time this key is rendered for this sender."""
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
    return f"<{digest}@{sender_domain(sender)}>"


def _one_line(text: str, limit: int = 180) -> str:
    return trim(text, limit)


def render_alert(entry: Entry) -> Message:
    """One instant alert about one item, naming every watchlist that matched it."""
    v = view(entry)
    relations = {g.relation for g in entry.matched}
    mark = "Revised: " if v["revised"] else ""
    if relations == {"follow_up"}:
        mark = "Follow-up: "
    elif relations == {"final"}:
        mark += "Final version: "
    subject = _one_line(f"[{v['watchlists']}] {mark}{v['headline']}")
    ctx = {"title": subject, "watchlists": entry.watchlists, "entries": [v], "digest": False}
    return _render(ctx, subject, entry.key, (entry.key,))


def render_digest(entries: Sequence[Entry], *, channel: str, run_id: str | None) -> Message:
    """One message listing every item of a run for one channel, each once, with a table of
    contents; the subject names the watchlists that matched."""
    views = [view(e) for e in entries]
    names = list(dict.fromkeys(n for e in entries for n in e.watchlists))
    issues = list(dict.fromkeys(v["issue_title"] for v in views))
    n = len(views)
    subject = _one_line(
        f"[{', '.join(names)}] digest: {n} match{'es' if n != 1 else ''}"
        + (f" in {issues[0]}" if len(issues) == 1 else "")
    )
    ctx = {"title": subject, "watchlists": names, "entries": views, "digest": True}
    keys = tuple(e.key for e in entries)
    id_key = f"digest|{channel}|{run_id}|" + ",".join(sorted(keys))
    return _render(ctx, subject, id_key, keys)


def _render(ctx: dict[str, Any], subject: str, id_key: str, keys: tuple[str, ...]) -> Message:
    return Message(
        subject=subject,
        text=_ENV.get_template("email.txt.j2").render(ctx),
        html=_ENV.get_template("email.html.j2").render(ctx),
        markdown=_ENV.get_template("message.md.j2").render(ctx),
        slack=_ENV.get_template("slack.md.j2").render(ctx),
        id_key=id_key,
        count=len(ctx["entries"]),
        keys=keys,
    )


def cut(body: str, limit: int | None, note: str = "… (message shortened)") -> str:
    """Fit ``body`` into a service's length limit, cutting at a line, then a word, boundary."""
    if not limit or len(body) <= limit:
        return body
    room = max(limit - len(note) - 1, 0)
    head = body[:room]
    if "\n" in head[room // 2 :]:
        head = head.rsplit("\n", 1)[0]
    elif " " in head[room // 2 :]:
        head = head.rsplit(" ", 1)[0]
    return (head.rstrip() + "\n" + note)[:limit]
