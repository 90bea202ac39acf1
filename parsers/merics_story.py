"""One top story's lines -> a ``PolicyItem``: summary, goals, comment and the cited policy.

``parsers.merics`` finds where a story starts and ends; this module reads what is inside it.
A story's fields follow its labels ("At a glance:", "MERICS comment:", "Article:", "Issuing
body:", "Date:"); unlabelled lines belong to the field before them, with two limits that real
pages need: prose after the goals list goes back to the summary, and the one-line fields
(issuing bodies, date) end at the next paragraph.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from parsers.bodies import BodyIndex
from parsers.merics_lines import (
    Line,
    alnum_key,
    cjk_join,
    field_label,
    has_cjk,
    news_date,
    numbered,
    split_inline_fields,
)
from parsers.records import Policy, PolicyItem
from parsers.text import fingerprint, join_wrapped, parse_date, squash

__all__ = ["Story", "YearOf", "story_item"]

_LINK_MARKER = re.compile(r"\(\s*Link\s*\)|\[\s*Link\s*\]|(?<=\s)Link\s*$", re.I)
_ONE_PARAGRAPH = ("bodies", "date")  # fields whose value never runs on into a new paragraph
YearOf = Callable[[int, int], dt.date | None]  # the year of a year-less date ("May 4")


@dataclass
class Story:
    number: int
    headline: str
    lines: list[Line] = field(default_factory=list)


@dataclass
class _Fields:
    summary: list[str] = field(default_factory=list)
    goals: list[str] = field(default_factory=list)
    comment: list[str] = field(default_factory=list)
    document: list[str] = field(default_factory=list)
    bodies: list[str] = field(default_factory=list)
    date: list[str] = field(default_factory=list)
    after_goals: bool = False  # a prose paragraph followed the goals list


def story_item(
    story: Story,
    pos: int,
    bodies: BodyIndex,
    year_of: YearOf,
    vocab: frozenset[str],
) -> PolicyItem:
    """The item of a top story; its id depends only on the headline (DESIGN 3.1 "stable")."""
    f = _story_fields(story.lines, vocab)
    policy = _policy(f, bodies, year_of)
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


def _story_fields(lines: list[Line], vocab: frozenset[str] = frozenset()) -> _Fields:
    out = _Fields()
    current = "glance"
    for line in lines:
        labelled = field_label(line.text)
        text = line.text
        if labelled:
            current, text = labelled
        elif current in _ONE_PARAGRAPH and getattr(out, current) and not line.cont:
            current = "comment"  # a story without "Date:": the next paragraph is not a body
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
    """Summary paragraphs, then goals, then maybe more summary; a hard-wrapped line continues
    its paragraph or goal."""
    if not text:
        return
    bullet = line.bullet and not labelled
    # a lower-case line after a blank one continues a goal split by a page break
    if out.goals and not out.after_goals and (bullet or line.cont or text[:1].islower()):
        continues = text[:1].islower() and (not bullet or (line.cont and line.indent_only))
        if continues:
            out.goals[-1] = join_wrapped(out.goals[-1], text, vocab)
        else:
            out.goals.append(text)
    elif bullet:
        out.goals.append(text)
        out.after_goals = False
    elif line.cont and not labelled and out.summary and numbered(line) is None:
        out.summary[-1] = join_wrapped(out.summary[-1], text, vocab)
    else:  # a paragraph of its own: before the goals, or after them (blank line, then prose)
        out.summary.append(text)
        out.after_goals = bool(out.goals)


def _document_line(out: _Fields, current: str, text: str) -> str:
    for label, part in split_inline_fields(text):
        current = label or current
        if part:
            getattr(out, current).append(part)
    return current


def _text_of(line: Line) -> str:
    return f"- {line.text}" if line.bullet else line.text


def _policy(f: _Fields, bodies: BodyIndex, year_of: YearOf) -> Policy | None:
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
        date=_field_date(" ".join(f.date), year_of),
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


def _field_date(text: str, year_of: YearOf) -> dt.date | None:
    found = parse_date(text)
    if found or not text:
        return found
    nd = news_date(f"{text}:")
    return year_of(nd.month, nd.day) if nd else None
