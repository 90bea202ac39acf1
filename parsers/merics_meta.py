"""An issue's metadata: title, date, reporting period, authors, and the year of year-less dates.

Issues state their date in different places depending on the era and the format: the page's
``time`` element, the footer line ("MERICS China Industries October 2, 2024 (Reporting
period: ...)"), a date line at the top, or only a month in the 2020-21 heading ("MERICS China
Industries Briefing - January 2021"). News entries give only month and day; their year comes
from the most precise of these, and when an issue has none of them, from its stories' dates.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, replace
from itertools import pairwise

from parsers.merics_lines import (
    GLANCE,
    author_name,
    briefing_month,
    clean_line,
    date_in_period,
    field_label,
    footer,
    nearest_date,
    parse_period,
)
from parsers.records import Document, IssueMeta, Period
from parsers.text import parse_date, squash

__all__ = ["YearAnchor", "issue_meta", "single_story_title"]

_HEAD_LINES = 40
_TITLE_CHARS = 200
_READ_TIME = re.compile(r"^\d{1,3}\s+(?:min(?:ute)?s?\s+read|Minuten\s+Lesedauer)$", re.I)
_SERIES_PREFIX = re.compile(
    r"^(?:MERICS\s+China\s+Industries(?:\s+Briefs?)?\s*[:|–—-]?|China\s+Industries\s*[:|–—-])\s*",
    re.I,
)


@dataclass(frozen=True)
class YearAnchor:
    """What a year-less news date ("September 8:") is placed against, most precise first."""

    period: Period | None
    published: dt.date | None  # an exact issue date, never one made from a month heading
    rough: dt.date | None  # a date known only roughly: mid-month, or a story's policy date

    def place(self, month: int, day: int) -> dt.date | None:
        exact = date_in_period(month, day, self.period, self.published)
        return exact or (nearest_date(month, day, self.rough) if self.rough else None)

    def or_stories(self, dates: list[dt.date]) -> YearAnchor:
        """Without any issue date, the latest date of the top stories' policies."""
        return self if self.rough or not dates else replace(self, rough=max(dates))


def issue_meta(
    doc: Document, walk_authors: list[str], url: str | None
) -> tuple[IssueMeta, YearAnchor]:
    pub_footer, period_text = footer(doc.text)
    published = doc.published or pub_footer or _top_date(doc.text)
    title = doc.title or _text_title(doc.text)
    month = None if published else briefing_month(title or "") or briefing_month(doc.text[:3000])
    period = parse_period(period_text, published)
    rough = month.replace(day=15) if month else None
    meta = IssueMeta(
        title=title,
        published=published or month,
        period=period,
        url=url or doc.url or (doc.source if "://" in doc.source else None),
        authors=doc.authors or walk_authors or _byline(doc.text),
    )
    return meta, YearAnchor(period, published, rough)


def single_story_title(doc: Document) -> str | None:
    """The headline of a one-story page: its title (h1 or the line after "NN min read") without
    a series prefix such as "MERICS China Industries:"."""
    title = doc.title or _after_read_time(doc.text)
    if not title:
        return None
    return squash(_SERIES_PREFIX.sub("", squash(title))) or None


def _after_read_time(text: str) -> str | None:
    lines = [squash(t) for t in text.split("\n")[:_HEAD_LINES] if t.strip()]
    for line, after in pairwise(lines):
        if _READ_TIME.match(line):
            story = GLANCE.match(after) or field_label(after) or len(after) > _TITLE_CHARS
            return None if story else after
    return None


def _text_title(text: str) -> str | None:
    """The first line when it names the series and more ("... Briefing - January 2021"), else
    a "... Briefing - <Month YYYY>" heading among the first lines."""
    lines = [squash(t) for t in text.split("\n")[:_HEAD_LINES] if t.strip()]
    first = lines[0] if lines else ""
    label = "merics china industries"
    if label in first.lower() and len(first) > len(label) + 3 and len(first) <= 100:
        return None if footer(first)[1] else first
    return next((ln for ln in lines if len(ln) <= 100 and briefing_month(ln)), None)


def _byline(text: str) -> list[str]:
    """Authors from an "Authors: A, B and C" or "By A and B" line near the top."""
    m = re.search(r"^(?:Authors?\s*[:：]|By)\s+(.+)$", text[:3000], re.M | re.I)
    names = re.split(r"\s*(?:,|;|\band\b|&)\s*", m.group(1)) if m else []
    return [n for n in (author_name(x) for x in names) if n]


def _top_date(text: str) -> dt.date | None:
    """A line above the first story that is only a date ("January 20, 2021", "Mar 5, 2025")."""
    for raw in text.split("\n")[:_HEAD_LINES]:
        line = clean_line(raw).text
        if GLANCE.match(line) or field_label(line):
            return None
        found = parse_date(raw)
        if found and len(squash(raw)) <= 30:
            return found
    return None
