"""Render alerts into messages: HTML + plain-text email, Slack mrkdwn, Markdown and text.

One ``Message`` holds every rendering of one alert (or one digest); the channel that sends it
picks the part its service understands. Templates live in ``policywatch/templates``; HTML is
autoescaped and Markdown bodies escape the source's text, so a hostile headline cannot inject
markup or links. The Message-ID derives from the alert key, so a retried email is recognisably
the same message.
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

from policywatch.models import IssueMeta, Link, Notice, PolicyItem, Reason

SUMMARY_CHARS = 420
SNIPPET_CHARS = 160
DIFF_LINES = 12
DIFF_MAX_CHARS = 20_000
DIFF_LINE_CHARS = 200
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+|(?<=[。！？；])")
MAX_LINKS = 8
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>()#!])")

_URL_QUOTE = {" ": "%20", "<": "%3C", ">": "%3E", '"': "%22", "(": "%28", ")": "%29", "|": "%7C"}


@dataclass(frozen=True)
class Entry:
    """One matched item with everything a message about it shows."""

    key: str
    watchlist: str
    item: PolicyItem
    issue: IssueMeta
    notices: Sequence[Notice] = ()
    reasons: Sequence[Reason] = ()
    change: str = "new"
    content_hash: str | None = None
    previous_hash: str | None = None
    previous_text: str | None = None


@dataclass(frozen=True)
class Message:
    """Every rendering of one alert or digest; ``message_id`` is stable for a given key."""

    subject: str
    text: str
    html: str
    markdown: str
    slack: str
    message_id: str
    count: int = 1
    keys: tuple[str, ...] = field(default_factory=tuple)

    def body(self, fmt: str) -> str:
        return {"html": self.html, "markdown": self.markdown, "text": self.text}[fmt]


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
    pairs = [("Newsletter issue", entry.issue.url or "")]
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
    return {
        "key": entry.key,
        "revised": entry.change == "revised",
        "headline": " ".join(item.headline.split()),
        "section": item.section.replace("_", " "),
        "date": _date(item.date),
        "summary": trim(item.summary or item.text, SUMMARY_CHARS),
        "title_en": (policy.title_en if policy else None) or "",
        "title_zh": (policy.title_zh if policy else None) or "",
        "bodies": ", ".join(policy.issuing_bodies) if policy else "",
        "policy_date": _date(policy.date) if policy else "",
        "issue_title": entry.issue.title or entry.issue.series,
        "issue_date": _date(entry.issue.published),
        "issue_url": entry.issue.url or "",
        "nav": _nav(entry),
        "notices": [_notice_view(n) for n in entry.notices],
        "reasons": [_reason_view(r) for r in entry.reasons],
        "hash_old": (entry.previous_hash or "")[:8],
        "hash_new": (entry.content_hash or "")[:8],
        "diff": short_diff(entry.previous_text, item_text(item)),
    }


def _notice_view(notice: Notice) -> dict[str, Any]:
    return {
        "url": notice.url,
        "title": notice.title or "",
        "doc_number": notice.doc_number or "",
        "published": _date(notice.published),
        "body": notice.issuing_body or "",
        "status": notice.status,
    }


def _reason_view(reason: Reason) -> dict[str, Any]:
    return {
        "facet": reason.facet,
        "term": reason.term,
        "found": reason.found,
        "field": reason.field,
        "parts": highlight(reason.snippet, reason.found),
    }


def message_id(key: str, sender: str) -> str:
    """A Message-ID that is the same every time this key is rendered."""
    domain = sender.rsplit("@", 1)[-1].strip(" >") if "@" in sender else "policywatch.invalid"
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
    return f"<{digest}@{domain or 'policywatch.invalid'}>"


def _one_line(text: str, limit: int = 180) -> str:
    return trim(text, limit)


def render_alert(entry: Entry, *, sender: str = "policywatch@localhost") -> Message:
    """One instant alert about one item."""
    v = view(entry)
    mark = "Revised: " if v["revised"] else ""
    subject = _one_line(f"[{entry.watchlist}] {mark}{v['headline']}")
    ctx = {"title": subject, "watchlist": entry.watchlist, "entries": [v], "digest": False}
    return _render(ctx, subject, entry.key, sender, (entry.key,))


def render_digest(
    entries: Sequence[Entry],
    *,
    watchlist: str,
    channel: str,
    run_id: str | None,
    sender: str = "policywatch@localhost",
) -> Message:
    """One message listing every match of a run for one (watchlist, channel), in order."""
    views = [view(e) for e in entries]
    issues = list(dict.fromkeys(v["issue_title"] for v in views))
    n = len(views)
    subject = _one_line(
        f"[{watchlist}] digest: {n} match{'es' if n != 1 else ''}"
        + (f" in {issues[0]}" if len(issues) == 1 else "")
    )
    ctx = {"title": subject, "watchlist": watchlist, "entries": views, "digest": True}
    keys = tuple(e.key for e in entries)
    mid_key = f"digest|{watchlist}|{channel}|{run_id}|" + ",".join(sorted(keys))
    return _render(ctx, subject, mid_key, sender, keys)


def _render(
    ctx: dict[str, Any], subject: str, key: str, sender: str, keys: tuple[str, ...]
) -> Message:
    return Message(
        subject=subject,
        text=_ENV.get_template("email.txt.j2").render(ctx),
        html=_ENV.get_template("email.html.j2").render(ctx),
        markdown=_ENV.get_template("message.md.j2").render(ctx),
        slack=_ENV.get_template("slack.md.j2").render(ctx),
        message_id=message_id(key, sender),
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


def sample_entry(watchlist: str, *, nonce: str = "") -> Entry:
    """A made-up item for ``test-alert``: exercises every field, Chinese text included.

    ``nonce`` makes each test message a new message (mail services drop a repeated Message-ID).
    """
    from policywatch.models import Policy

    item = PolicyItem(
        id="sample-0000",
        section="top",
        position=1,
        headline="Test alert: MIIT issues a sample notice on solid-state batteries",
        date=dt.date(2024, 9, 4),
        summary="This is a test message from policywatch to check that this channel works.",
        policy=Policy(
            title_en="Notice on a Sample Policy for Testing Delivery",
            title_zh="工业和信息化部关于测试通知的通知",
            issuing_bodies=["MIIT"],
            date=dt.date(2024, 9, 4),
        ),
        links=[Link(text="Link", url="https://www.miit.gov.cn/")],
        text="Sample item text about solid-state batteries.",
    )
    issue = IssueMeta(title="policywatch test alert", published=dt.date(2024, 10, 2))
    reason = Reason(
        facet="keyword",
        term="solid-state",
        found="solid-state",
        field="headline",
        snippet=item.headline,
    )
    key = f"{watchlist}|test|{item.id}|instant{nonce}"
    return Entry(key=key, watchlist=watchlist, item=item, issue=issue, reasons=[reason])
