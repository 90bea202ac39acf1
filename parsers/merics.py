"""``Document`` -> ``Issue``: the MERICS China Industries layout as structured policy items.

The parser walks the document's lines once. Standing headings switch the section ("MERICS Top
5", "NOTEWORTHY"/"WORTH NOTING", "Policy news", "Corporate news", "AUTHORS"); a numbered line is
a top story only when it is the next number and a story field ("At a glance:", ...) follows
before any other numbered line, so contents entries and numbered sidebars never become items.
A page that holds one story and no numbered heading (a single-story MERICS Brief) is read as
one top story named by the page title. Story markers that yield no story are an error, never
an issue without its top stories.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from functools import reduce
from itertools import islice

from parsers.bodies import BodyIndex
from parsers.errors import ParseError
from parsers.merics_lines import (
    GLANCE,
    Line,
    alnum_key,
    author_name,
    clean_line,
    ends_authors,
    field_label,
    first_sentence,
    footer,
    has_sources,
    heading,
    is_toc_entry,
    key,
    news_date,
    numbered,
    short_headline,
)
from parsers.merics_meta import issue_meta, single_story_title
from parsers.merics_story import Story, YearOf, story_item
from parsers.records import Document, Issue, Link, PolicyItem
from parsers.text import fingerprint, join_wrapped, squash, vocabulary

__all__ = ["parse_issue"]

_LOOKAHEAD = 8


@dataclass
class _Entry:
    section: str
    lines: list[Line]


@dataclass
class _Walk:
    stories: list[Story] = field(default_factory=list)
    entries: list[_Entry] = field(default_factory=list)
    authors: list[str] = field(default_factory=list)
    section: str | None = None
    in_authors: bool = False
    head_end: int = -1  # index of the last line of the current story's headline
    top_line: int = -1  # index of the "MERICS Top 5" heading, if any
    single: str | None = None  # the headline of a one-story page's story


def parse_issue(doc: Document, bodies: BodyIndex, *, url: str | None = None) -> Issue:
    """One issue with its top stories and news entries, as DESIGN 3.1 describes."""
    if doc.series and "industries" not in doc.series.lower():
        raise ParseError(
            doc.source,
            f"expected a MERICS China Industries issue, the page's series is {doc.series!r}",
            hint="/en/merics-briefs/ also holds other series; only China Industries is parsed",
        )
    raws = doc.text.split("\n")
    lines = [clean_line(raw) if raw.strip() else None for raw in raws]
    walk = _walk(lines, raws)
    if not walk.stories:
        walk = _without_stories(doc, lines, raws, walk)
    meta, anchor = issue_meta(doc, walk.authors, url)
    vocab = vocabulary(doc.text)
    items = [story_item(s, n, bodies, anchor.place, vocab) for n, s in enumerate(walk.stories, 1)]
    if walk.single and items and items[0].date is None:
        items[0].date = meta.published  # a brief's story without a policy date: the page's
    anchor = anchor.or_stories([item.date for item in items if item.date])
    items += _news_items(walk.entries, anchor.place, vocab)
    _assign_links(items, doc.links)
    return Issue(issue=meta, items=_unique_ids(items))


def _without_stories(
    doc: Document, lines: list[Line | None], raws: list[str], walk: _Walk
) -> _Walk:
    """No numbered top story: a one-story brief, a copy with news only, or an error that says
    which story marker led nowhere."""
    glances = [i for i, ln in enumerate(lines) if ln and GLANCE.match(ln.text)]
    heads = [i for i, ln in enumerate(lines) if ln and _numbered_story(lines, i)]
    brief = len(glances) == 1 and walk.top_line < 0 and doc.series is not None
    title = single_story_title(doc) if brief else None
    if title and not heads:
        return _walk(lines, raws, single=title)
    if glances or heads or walk.top_line >= 0:
        raise ParseError(
            doc.source,
            f"expected top stories: {_no_story_reason(lines, glances, heads, walk.top_line)}",
            hint='a top story is a numbered heading ("1. Headline") followed by "At a glance:"',
        )
    if not walk.entries:
        raise ParseError(
            doc.source,
            "expected a MERICS China Industries issue: found no numbered top stories "
            '(followed by "At a glance:") and no dated news entries',
            hint="for a ministry notice pass --site SITE; a saved issue needs its full text",
        )
    return walk


def _no_story_reason(
    lines: list[Line | None], glances: list[int], heads: list[int], top_line: int
) -> str:
    if heads:
        head = numbered(lines[heads[0]] or Line("", False, ""))
        number = head[0] if head else 0
        where = f"the first numbered story (line {heads[0] + 1})"
        if number != 1:
            return f"{where} is number {number}, not 1"
        return f"{where} stands after the news or the closing sections"
    if glances:
        first = lines[glances[0]]
        text = first.text[:40] if first else ""
        if first and field_label(first.text) is None:
            return f'line {glances[0] + 1} names a story field without a colon: "{text}"'
        if len(glances) > 1:
            return (
                f'{len(glances)} "At a glance" paragraphs (the first at line {glances[0] + 1}) '
                "but no numbered story heading above them"
            )
        return (
            f'"At a glance" at line {glances[0] + 1} has no numbered story heading above it, '
            'and a one-story brief needs a title and the "MERICS China Industries" label'
        )
    return f'the "Top 5" heading at line {top_line + 1} is followed by no numbered story'


# ------------------------------------------------------------------------------------ walking


def _walk(lines: list[Line | None], raws: list[str], single: str | None = None) -> _Walk:
    walk = _Walk(single=single)
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
        walk.top_line = i if name == "top" and walk.top_line < 0 else walk.top_line
        return
    if walk.single and not walk.stories and GLANCE.match(line.text):
        walk.stories.append(Story(1, walk.single))
        walk.section, walk.head_end = "top", -2  # the headline is the page title, not a line
    opens = walk.section in (None, "top") or (walk.section == "end" and not walk.stories)
    if opens and _story_starts(lines, i, len(walk.stories) + 1):
        head = numbered(line)
        assert head is not None
        walk.stories.append(Story(head[0], head[1]))
        walk.section, walk.head_end = "top", i
    elif walk.section == "top" and walk.stories and _continues_headline(walk, lines, i, line):
        story = walk.stories[-1]
        story.headline, walk.head_end = f"{story.headline} {line.text}", i
    elif walk.section == "top" and walk.stories:
        if footer(line.text)[1] is None:
            walk.stories[-1].lines.append(replace(line, cont=lines[i - 1] is not None))
    elif walk.section in ("policy_news", "corporate_news"):
        _news_line(walk, line)
    elif walk.section == "end" and walk.in_authors and ends_authors(line.text):
        walk.in_authors = False  # "Editorial team", "Managing editor: ..." are not authors
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
    for nxt in islice(lines, i + 1, None):
        if nxt is None:
            continue
        if field_label(nxt.text) is not None:
            return True
        seen += 1
        if seen > _LOOKAHEAD or numbered(nxt) or heading(nxt.text):
            return False
    return False


def _numbered_story(lines: list[Line | None], i: int) -> bool:
    """A numbered line followed by a story field, whatever its number."""
    line = lines[i]
    head = numbered(line) if line else None
    return head is not None and _story_starts(lines, i, head[0])


def _news_line(walk: _Walk, line: Line) -> None:
    section = walk.section or "policy_news"
    if footer(line.text)[1] is not None:
        return
    if news_date(line.text) or line.bullet:
        walk.entries.append(_Entry(section, [line]))
        return
    last = walk.entries[-1] if walk.entries and walk.entries[-1].section == section else None
    if last and not has_sources(last.lines[-1].text):
        last.lines.append(line)
    elif has_sources(line.text) and len(line.text.split()) >= 6:
        # an entry whose date and bullet were lost in copying: kept, undated, not dropped
        walk.entries.append(_Entry(section, [line]))


# ---------------------------------------------------------------------------------------- news


def _news_items(entries: list[_Entry], year_of: YearOf, vocab: frozenset[str]) -> list[PolicyItem]:
    items: list[PolicyItem] = []
    positions: dict[str, int] = {}
    for entry in entries:
        text = squash(
            reduce(lambda a, b: join_wrapped(a, b, vocab), (ln.text for ln in entry.lines))
        )
        nd = news_date(text)
        date = None
        if nd:
            date = _dated(nd.year, nd.month, nd.day) if nd.year else year_of(nd.month, nd.day)
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


def _dated(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None
