"""``Document`` -> ``Issue``: the MERICS China Industries layout as structured policy items.

The parser walks the document's lines once. Standing headings switch the section ("MERICS Top
5", "NOTEWORTHY"/"WORTH NOTING", "Policy news", "Corporate news", "AUTHORS"); a numbered line is
a top story only when it is the next number and a story field ("At a glance:", ...) follows
before any other numbered line, so contents entries and numbered sidebars never become items.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field, replace
from functools import reduce

from parsers.bodies import BodyIndex
from parsers.documents import parse_date
from parsers.errors import ParseError
from parsers.merics_lines import (
    SOURCES,
    Line,
    alnum_key,
    author_name,
    cjk_join,
    clean_line,
    date_in_period,
    field_label,
    first_sentence,
    footer,
    has_cjk,
    heading,
    is_toc_entry,
    key,
    news_date,
    numbered,
    parse_period,
    short_headline,
    split_inline_fields,
)
from parsers.records import Document, Issue, IssueMeta, Link, Period, Policy, PolicyItem
from parsers.text import fingerprint, join_wrapped, squash, vocabulary

__all__ = ["parse_issue"]

_LOOKAHEAD = 8
_LINK_MARKER = re.compile(r"\(\s*Link\s*\)|\[\s*Link\s*\]|(?<=\s)Link\s*$", re.I)


@dataclass
class _Story:
    number: int
    headline: str
    lines: list[Line] = field(default_factory=list)


@dataclass
class _Entry:
    section: str
    lines: list[Line]


@dataclass
class _Walk:
    stories: list[_Story] = field(default_factory=list)
    entries: list[_Entry] = field(default_factory=list)
    authors: list[str] = field(default_factory=list)
    section: str | None = None
    in_authors: bool = False
    head_end: int = -1  # index of the last line of the current story's headline


def parse_issue(doc: Document, bodies: BodyIndex, *, url: str | None = None) -> Issue:
    """One issue with its top stories and news entries, as DESIGN 3.1 describes."""
    if doc.series and "industries" not in doc.series.lower():
        raise ParseError(
            doc.source,
            f"expected a MERICS China Industries issue, the page's series is {doc.series!r}",
            hint="/en/merics-briefs/ also holds other series; only China Industries is parsed",
        )
    lines = [clean_line(raw) if raw.strip() else None for raw in doc.text.split("\n")]
    raws = doc.text.split("\n")
    walk = _walk(lines, raws)
    if not walk.stories and not walk.entries:
        raise ParseError(
            doc.source,
            "expected a MERICS China Industries issue: found no numbered top stories "
            '(followed by "At a glance:") and no dated news entries',
            hint="for a ministry notice pass --site SITE; a saved issue needs its full text",
        )
    meta = _meta(doc, walk, url)
    vocab = vocabulary(doc.text)
    items = _top_items(walk.stories, bodies, meta.period, meta.published, vocab)
    items += _news_items(walk.entries, meta.period, meta.published, vocab)
    _assign_links(items, doc.links)
    return Issue(issue=meta, items=_unique_ids(items))


# ------------------------------------------------------------------------------------ walking


def _walk(lines: list[Line | None], raws: list[str]) -> _Walk:
    walk = _Walk()
    toc, toc_seen = False, 0
    for i, line in enumerate(lines):
        if line is None:
            toc = toc and toc_seen == 0
            continue
        if is_toc_entry(raws[i]):
            toc_seen += 1
            continue
        name = heading(line.text) if not line.bullet else None
        if name == "contents":
            toc, toc_seen = True, 0
            continue
        if toc and not _story_starts(lines, i, len(walk.stories) + 1):
            toc_seen += 1
            continue
        toc = False
        _step(walk, lines, i, line, name)
    return walk


def _step(walk: _Walk, lines: list[Line | None], i: int, line: Line, name: str | None) -> None:
    if name in ("top", "news", "policy_news", "corporate_news", "end"):
        walk.section = "policy_news" if name == "news" else name
        walk.in_authors = key(line.text).rstrip(":") in ("authors", "author")
        return
    if walk.section in (None, "top") and _story_starts(lines, i, len(walk.stories) + 1):
        head = numbered(line)
        assert head is not None
        walk.stories.append(_Story(head[0], head[1]))
        walk.section, walk.head_end = "top", i
    elif walk.section == "top" and walk.stories and _continues_headline(walk, lines, i, line):
        story = walk.stories[-1]
        story.headline, walk.head_end = f"{story.headline} {line.text}", i
    elif walk.section == "top" and walk.stories:
        if footer(line.text)[1] is None:
            walk.stories[-1].lines.append(replace(line, cont=lines[i - 1] is not None))
    elif walk.section in ("policy_news", "corporate_news"):
        _news_line(walk, line)
    elif walk.section == "end" and walk.in_authors:
        name_ = author_name(line.text)
        if name_ and name_ not in walk.authors:
            walk.authors.append(name_)


def _continues_headline(walk: _Walk, lines: list[Line | None], i: int, line: Line) -> bool:
    """A headline wrapped over lines (copied text): the line right after it, no blank between,
    before any story field."""
    story = walk.stories[-1]
    return (
        i == walk.head_end + 1
        and not story.lines
        and not line.bullet
        and field_label(line.text) is None
        and numbered(line) is None
        and len(story.headline) + len(line.text) <= 200
        and not story.headline.endswith((".", ":", "!", "?"))
    )


def _story_starts(lines: list[Line | None], i: int, expected: int) -> bool:
    """A numbered line opens a story when a story field follows before another numbered line."""
    line = lines[i]
    head = numbered(line) if line else None
    if head is None or head[0] != expected:
        return False
    seen = 0
    for nxt in lines[i + 1 :]:
        if nxt is None:
            continue
        if field_label(nxt.text) is not None:
            return True
        seen += 1
        if seen > _LOOKAHEAD or numbered(nxt) or heading(nxt.text):
            return False
    return False


def _news_line(walk: _Walk, line: Line) -> None:
    section = walk.section or "policy_news"
    if footer(line.text)[1] is not None:
        return
    if news_date(line.text) or line.bullet:
        walk.entries.append(_Entry(section, [line]))
        return
    last = walk.entries[-1] if walk.entries and walk.entries[-1].section == section else None
    if last and not SOURCES.search(last.lines[-1].text):
        last.lines.append(line)
    elif SOURCES.search(line.text) and len(line.text.split()) >= 6:
        # an entry whose date and bullet were lost in copying: kept, undated, not dropped
        walk.entries.append(_Entry(section, [line]))


# ------------------------------------------------------------------------------------ metadata


def _meta(doc: Document, walk: _Walk, url: str | None) -> IssueMeta:
    pub_footer, period_text = footer(doc.text)
    published = doc.published or pub_footer or _top_date(doc.text)
    period = parse_period(period_text, published)
    return IssueMeta(
        title=doc.title or _text_title(doc.text),
        published=published,
        period=period,
        url=url or doc.url or (doc.source if "://" in doc.source else None),
        authors=doc.authors or walk.authors or _byline(doc.text),
    )


def _text_title(text: str) -> str | None:
    """The first line when it names the series and more ("... Briefing - January 2021")."""
    first = next((squash(t) for t in text.split("\n") if t.strip()), "")
    label = "merics china industries"
    if label in first.lower() and len(first) > len(label) + 3 and len(first) <= 100:
        return None if footer(first)[1] else first
    return None


def _byline(text: str) -> list[str]:
    """Authors from an "Authors: A, B and C" or "By A and B" line near the top."""
    m = re.search(r"^(?:Authors?\s*:|By)\s+(.+)$", text[:3000], re.M | re.I)
    names = re.split(r"\s*(?:,|;|\band\b|&)\s*", m.group(1)) if m else []
    return [n for n in (author_name(x) for x in names) if n]


def _top_date(text: str) -> dt.date | None:
    """A line near the top that is only a date ("January 20, 2021")."""
    for raw in text.split("\n")[:15]:
        found = parse_date(raw)
        if found and len(squash(raw)) <= 30:
            return found
    return None


# --------------------------------------------------------------------------------- top stories


def _top_items(
    stories: list[_Story],
    bodies: BodyIndex,
    period: Period | None,
    published: dt.date | None,
    vocab: frozenset[str],
) -> list[PolicyItem]:
    return [
        _story_item(s, pos, bodies, period, published, vocab) for pos, s in enumerate(stories, 1)
    ]


@dataclass
class _Fields:
    summary: list[str] = field(default_factory=list)
    goals: list[str] = field(default_factory=list)
    comment: list[str] = field(default_factory=list)
    document: list[str] = field(default_factory=list)
    bodies: list[str] = field(default_factory=list)
    date: list[str] = field(default_factory=list)


def _story_fields(lines: list[Line], vocab: frozenset[str] = frozenset()) -> _Fields:
    out = _Fields()
    current = "glance"
    for line in lines:
        labelled = field_label(line.text)
        text = line.text
        if labelled:
            current, text = labelled
        wrapped = line.cont and not labelled and not line.bullet and numbered(line) is None
        if current in ("document", "bodies", "date"):
            current = _document_line(out, current, text)
        elif current == "glance":
            _glance_line(out, line, text, labelled is not None, vocab)
        elif wrapped and out.comment:
            out.comment[-1] = join_wrapped(out.comment[-1], text, vocab)
        elif text:
            out.comment.append(text)
    return out


def _glance_line(
    out: _Fields, line: Line, text: str, labelled: bool, vocab: frozenset[str]
) -> None:
    """Summary paragraphs, then goals; a hard-wrapped line continues its paragraph or goal."""
    if not text:
        return
    bullet = line.bullet and not labelled
    if out.goals:
        continues = text[:1].islower() and (not bullet or (line.cont and line.indent_only))
        if continues:
            out.goals[-1] = join_wrapped(out.goals[-1], text, vocab)
        else:
            out.goals.append(text)
    elif bullet:
        out.goals.append(text)
    elif line.cont and not labelled and out.summary and numbered(line) is None:
        out.summary[-1] = join_wrapped(out.summary[-1], text, vocab)
    else:
        out.summary.append(text)


def _document_line(out: _Fields, current: str, text: str) -> str:
    for label, part in split_inline_fields(text):
        current = label or current
        if part:
            getattr(out, current).append(part)
    return current


def _story_item(
    story: _Story,
    pos: int,
    bodies: BodyIndex,
    period: Period | None,
    published: dt.date | None,
    vocab: frozenset[str],
) -> PolicyItem:
    f = _story_fields(story.lines, vocab)
    policy = _policy(f, bodies, period, published)
    text = "\n".join([story.headline, *(_text_of(ln) for ln in story.lines)])
    return PolicyItem(
        id=fingerprint("top", alnum_key(story.headline)),
        section="top",
        position=pos,
        headline=story.headline,
        date=policy.date if policy else None,
        summary="\n\n".join(f.summary) or None,
        goals=f.goals,
        comment="\n\n".join(f.comment) or None,
        policy=policy,
        text=text,
    )


def _text_of(line: Line) -> str:
    return f"- {line.text}" if line.bullet else line.text


def _policy(
    f: _Fields, bodies: BodyIndex, period: Period | None, published: dt.date | None
) -> Policy | None:
    if not (f.document or f.bodies or f.date):
        return None
    title_en, title_zh = _titles(" ".join(f.document))
    issuing: list[str] = []
    for body in _body_names(" ".join(f.bodies), bodies):
        if body not in issuing:
            issuing.append(body)
    return Policy(
        title_en=title_en,
        title_zh=title_zh,
        issuing_bodies=issuing,
        date=_field_date(" ".join(f.date), period, published),
    )


def _body_names(text: str, bodies: BodyIndex) -> list[str]:
    """Canonical ids for "MIIT, NDRC and Ministry of Ecology and Environment" (split on "and"
    only where the pieces are known bodies)."""
    out: list[str] = []
    for piece in re.split(r"\s*[,;/、，]\s*", squash(_LINK_MARKER.sub("", text))):
        piece = re.sub(r"^and\s+", "", piece.strip(" ."))
        if not piece:
            continue
        parts = [p.strip(" .") for p in re.split(r"\s+(?:and|&)\s+", piece)]
        known = None if bodies.canonical(piece) else _known_run(parts, bodies)
        out.extend(known or [bodies.canonical_or_self(piece)])
    return out


def _known_run(parts: list[str], bodies: BodyIndex) -> list[str] | None:
    """Regroup pieces split on "and" around known bodies: "Ministry of Industry", "Information
    Technology", "NDRC" -> MIIT, NDRC; "SAMR", "three other ministries" -> SAMR, then the rest
    as written. None when no known body is named."""
    out: list[str] = []
    unknown: list[str] = []
    i = 0
    while i < len(parts):
        for n in range(len(parts) - i, 0, -1):
            found = bodies.canonical(" and ".join(parts[i : i + n]))
            if found:
                break
        if found:
            if unknown:
                out.append(" and ".join(unknown))
                unknown = []
            out.append(found)
            i += n
        else:
            unknown.append(parts[i])
            i += 1
    if len(out) == 0:
        return None
    if unknown:
        out.append(" and ".join(unknown))
    return out


def _titles(text: str) -> tuple[str | None, str | None]:
    """English title, then the Chinese title in (possibly nested) parentheses, link markers out."""
    text = squash(_LINK_MARKER.sub(" ", text))
    groups = _paren_groups(text)
    zh = [g for g in groups if has_cjk(text[g[0] + 1 : g[1]])]
    if not zh:
        return (text.strip(" .,;:") or None), None
    start, end = zh[-1]
    title_en = squash(text[:start] + " " + text[end + 1 :]).strip(" .,;:")
    return title_en or None, cjk_join(text[start + 1 : end]) or None


def _paren_groups(text: str) -> list[tuple[int, int]]:
    groups: list[tuple[int, int]] = []
    stack: list[int] = []
    for i, ch in enumerate(text):
        if ch in "(（":
            stack.append(i)
        elif ch in ")）" and stack:
            start = stack.pop()
            if not stack:
                groups.append((start, i))
    return groups


def _field_date(text: str, period: Period | None, published: dt.date | None) -> dt.date | None:
    found = parse_date(text)
    if found or not text:
        return found
    nd = news_date(f"{text}:")
    return date_in_period(nd.month, nd.day, period, published) if nd else None


# ---------------------------------------------------------------------------------------- news


def _news_items(
    entries: list[_Entry], period: Period | None, published: dt.date | None, vocab: frozenset[str]
) -> list[PolicyItem]:
    items: list[PolicyItem] = []
    positions: dict[str, int] = {}
    for entry in entries:
        text = squash(
            reduce(lambda a, b: join_wrapped(a, b, vocab), (ln.text for ln in entry.lines))
        )
        nd = news_date(text)
        date = None
        if nd:
            date = dt.date(nd.year, nd.month, nd.day) if nd.year else None
            date = date or date_in_period(nd.month, nd.day, period, published)
        sentence = first_sentence(nd.rest if nd else text)
        headline = short_headline(sentence)
        positions[entry.section] = positions.get(entry.section, 0) + 1
        items.append(
            PolicyItem(
                id=fingerprint(
                    entry.section, date.isoformat() if date else "", alnum_key(sentence)
                ),
                section=entry.section,
                position=positions[entry.section],
                headline=headline,
                date=date,
                text=text,
            )
        )
    return items


# --------------------------------------------------------------------------------- links, ids


def _assign_links(items: list[PolicyItem], links: list[Link]) -> None:
    """Give each item the links whose paragraph lies inside its text, in document order."""
    keys = [[alnum_key(t) for t in item.text.split("\n")] for item in items]
    cursor = 0
    for link in links:
        ctx = alnum_key(link.context)
        if not ctx:
            continue
        order = [*range(cursor, len(items)), *range(cursor)]
        for idx in order:
            if any(ctx == k or (len(k) > 12 and k in ctx) or ctx in k for k in keys[idx] if k):
                if not any(x.url == link.url and x.text == link.text for x in items[idx].links):
                    items[idx].links.append(link)
                cursor = idx
                break


def _unique_ids(items: list[PolicyItem]) -> list[PolicyItem]:
    """Two items never share an id: a clash falls back to the full text, then the position."""
    seen: set[str] = set()
    for item in items:
        if item.id in seen:
            item.id = fingerprint(item.section, item.id, alnum_key(item.text))
        if item.id in seen:
            item.id = fingerprint(item.section, item.id, str(item.position))
        seen.add(item.id)
    return items
