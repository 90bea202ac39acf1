"""Line-level reading of a MERICS issue: cleanup of extraction damage, headings, fields, dates.

``parsers.merics`` walks the lines; the knowledge of what a line *is* (a contents entry, a
section heading, a field label, a dated news entry, the footer) lives here, in one place, so
that a new layout variant means one more pattern here rather than another branch there.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import lru_cache

from parsers.records import Period
from parsers.text import MONTH_RE, fold, month_number, parse_date, squash

_NOT_ALNUM = re.compile(r"[\W_]+")
_PUA = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ue000-\uf8ff\U000f0000-\U000ffffd]")
_BULLET = re.compile(r"^(?:\s*[-–*+]\s+|[\s\x00-\x1f\x7f\ue000-\uf8ff•·▪●◦‣○■□➢►✓]+)")
_LOOKALIKE_DIGITS = str.maketrans({"З": "3", "з": "3", "О": "0", "о": "0", "б": "6"})
_NUMBERED = re.compile(r"^([\dЗзОоб]{1,2})\s*[.)]\s*(\S.*)$")
_TOC_ENTRY = re.compile(r"\S.*?(?:\t+|\s*\.{3,}\s*|\s{3,})\d{1,3}\s*$")
_CJK = r"\u3400-\u9fff\uf900-\ufaff"
_CJK_GAP = re.compile(rf"(?<=[{_CJK}“”《》（）、，])\s+(?=[{_CJK}“”《》（）、，])")

HEADINGS: dict[str, tuple[str, ...]] = {
    "top": ("merics'top5", "mericstop5", "top5", "merics'topfive", "mericstopfive"),
    "news": ("noteworthy", "worthnoting", "alsoworthnoting", "othernews", "newsinbrief"),
    "policy_news": ("policynews", "policy"),
    "corporate_news": ("corporatenews", "companynews", "businessnews", "corporate"),
    "end": ("authors", "author", "editors", "editor", "publisher", "metrix", "contact"),
    "contents": ("contents", "tableofcontents", "inthisissue"),
}
# Closing headings matched exactly only: the fuzzy match above is for headings that PDF
# extraction splits ("Poli cy news"), and comparing more keys costs every line of a parse.
_CLOSING_EXACT = frozenset({"editorialteam", "managingeditor"})
FIELDS: dict[str, str] = {
    "ataglance": "glance",
    "mericscomment": "comment",
    "merics'comment": "comment",
    "comment": "comment",
    "article": "document",
    "policyname": "document",
    "document": "document",
    "policydocument": "document",
    "issuingbody": "bodies",
    "issuingbodies": "bodies",
    "issuer": "bodies",
    "issuers": "bodies",
    "date": "date",
}
# Labels end with ":" or the full-width "：" that copies from Chinese-language tools carry.
_FIELD_HEAD = re.compile(r"([^:：]{1,24})[:：]\s*(.*)", re.S)
_INLINE_FIELD = re.compile(r"(?:^|\s)(Issuing\s*bod(?:y|ies)|Issuers?|Date)\s*[:：]\s*", re.I)
# "At a glance" however it is punctuated: a story marker even where the label is not a field.
GLANCE = re.compile(r"^\W{0,4}at\s+a\s+glance\b", re.I)
_NEWS_DATE = re.compile(
    rf"^({MONTH_RE})\s+(\d{{1,2}})(?:st|nd|rd|th)?(?:\s*[-–]\s*(?:{MONTH_RE}\s+)?\d{{1,2}})?"
    r"(?:st|nd|rd|th)?(?:,?\s*(\d{4}))?"
    r"\s*[:：]\s*(.*)$",
    re.I,
)
# Day first, as British-style issues write it: "8 September:", "8th Sept. 2024:", "8–9 May:".
_NEWS_DATE_DMY = re.compile(
    rf"^(\d{{1,2}})(?:\s*[-–]\s*\d{{1,2}})?(?:st|nd|rd|th)?\.?\s+({MONTH_RE})(?:,?\s*(\d{{4}}))?"
    r"\s*[:：]\s*(.*)$",
    re.I,
)
_FOOTER = re.compile(
    rf"MERICS\s+China\s+Industries\s*[,|–-]?\s*(?P<pub>{MONTH_RE}\s+\d{{1,2}},?\s+\d{{4}})?"
    rf"\s*\(?\s*Reporting\s+period\s*[:：]\s*(?P<period>[^)）\n]+)[)）]?",
    re.I,
)
_PERIOD = re.compile(r"Reporting\s+period\s*[:：]\s*(?P<period>[^)）\n]+)", re.I)
_MONTH_DAY = re.compile(rf"({MONTH_RE})\s+(\d{{1,2}})(?:,?\s*(\d{{4}}))?", re.I)
_ROLE = re.compile(
    r"\s*(?:,|\(|\b(?:Senior|Associate|Junior|Lead|Chief|Head|Director|Analyst|Research(?:er)?|"
    r"Fellow|Program(?:me)?|Visiting|Vice|Deputy|Managing|Freelance|Editor|Manager|Intern)\b).*$"
)
# News headlines: a first sentence longer than this is cut to its main clause.
_LONG_HEADLINE = 180
_MIN_CLAUSE = 60
_CLAUSE_BREAK = re.compile(
    r",\s+(?=(?:which|while|with|allowing|aiming|outlining|including|marking|saying|"
    r"following|according|amid|intensifying|abolishing|as\s+part\s+of)\b)"
)
# "China Mobile Co. Ltd. said", "Dr. Li": a full stop that does not end the sentence.
_ABBREVIATIONS = frozenset(re.findall(r"\w+", """
    co corp inc ltd plc llc bhd mr mrs ms dr prof st vs dept gov govt approx jr sr
"""))  # fmt: skip
_CLAUSE_END = re.compile(r";\s|(?<=[a-z0-9%)\"”])\.\s+(?=[A-Z\"“])")


@dataclass(frozen=True)
class Line:
    """One cleaned line: ``text`` without bullet glyphs; ``bullet`` says whether it had one."""

    text: str
    bullet: bool
    raw: str
    cont: bool = False  # follows the previous line with no blank line between (hard wrap)

    @property
    def indent_only(self) -> bool:
        """A "bullet" that is only leading whitespace, no glyph."""
        return self.bullet and self.raw.strip()[:1] == self.text[:1]


def key(text: str) -> str:
    """Comparison key: width-folded, lower-case, spaces and typographic quotes removed."""
    return re.sub(r"[\s*_’`]", "", fold(text).lower().replace("’", "'"))


def alnum_key(text: str) -> str:
    """Only letters and digits: the same words whatever the spacing, hyphens or punctuation."""
    return _NOT_ALNUM.sub("", fold(text).lower())


def clean_line(raw: str) -> Line:
    """Undo what PDF extraction and copying do to a line (glyph bullets, tabs, look-alikes)."""
    text = unicodedata.normalize("NFC", raw.replace("\u00ad", ""))
    bullet = bool(_BULLET.match(text)) and bool(text.strip(" \t-–*+•"))
    if bullet:
        text = _BULLET.sub("", text, count=1)
    text = _PUA.sub("", text)
    text = squash(text.replace("\t", " "))
    m = _NUMBERED.match(text)
    if m and not m.group(1).isdigit():
        text = f"{m.group(1).translate(_LOOKALIKE_DIGITS)}. {m.group(2)}"
    return Line(text, bullet, raw)


def is_toc_entry(raw: str) -> bool:
    """A contents line: text, then a tab run, dot leaders or wide gap, then a page number."""
    text = raw.strip()
    return text[-1:].isdigit() and bool(_TOC_ENTRY.fullmatch(text))


@lru_cache(maxsize=4096)
def heading(text: str) -> str | None:
    """Which standing heading a short line is, tolerant of split words ("Poli cy news").
    Headings start with a capital: a lower-case line is a wrapped sentence, not a heading."""
    k = key(text).rstrip(":")
    first = next((c for c in text if c.isalpha()), "")
    if not k or len(k) > 28 or first.islower():
        return None
    for name, keys in HEADINGS.items():
        if k in keys:
            return name
    if k in _CLOSING_EXACT:
        return "end"
    for name, keys in HEADINGS.items():
        if any(len(c) > 6 and abs(len(c) - len(k)) <= 3 and _similar(k, c) for c in keys):
            return name
    return None


def _similar(a: str, b: str) -> bool:
    matcher = SequenceMatcher(None, a, b)
    return matcher.quick_ratio() >= 0.86 and matcher.ratio() >= 0.86


def numbered(line: Line) -> tuple[int, str] | None:
    """``(n, rest)`` for a "3. Headline" line (not a bullet)."""
    m = _NUMBERED.match(line.text)
    if line.bullet or not m or not m.group(1).isdigit():
        return None
    return int(m.group(1)), m.group(2).strip()


def field_label(text: str) -> tuple[str, str] | None:
    """``(field, rest)`` when the line starts with a story field label such as "At a glance:"."""
    m = _FIELD_HEAD.match(text)
    name = FIELDS.get(key(m.group(1))) if m else None
    return (name, m.group(2).strip()) if m and name else None


def split_inline_fields(text: str) -> list[tuple[str | None, str]]:
    """Split "Title (Link) Issuing body: MIIT Date: May 1" into labelled pieces."""
    pieces: list[tuple[str | None, str]] = []
    pos, label = 0, None
    for m in _INLINE_FIELD.finditer(text):
        pieces.append((label, text[pos : m.start()].strip()))
        label = FIELDS[key(m.group(1))]
        pos = m.end()
    pieces.append((label, text[pos:].strip()))
    return [(lab, part) for lab, part in pieces if part or lab]


def cjk_join(text: str) -> str:
    """Remove the spaces that extraction or line wrapping put between Chinese characters.

    One space is meaningful: the one between the organs of a joint title (国家发展改革委
    国家能源局关于...). It is kept where it follows an organ's name before 关于, unless the
    words on both sides are single characters (letter-spaced text: 工 业 和 信 息 化 部)."""
    text = squash(text)
    issuer_end = text.find("关于")

    def gap(m: re.Match[str]) -> str:
        before, after = text[: m.start()], text[m.end() :]
        keep = (
            m.start() < issuer_end
            and _ORGAN_END.search(before) is not None
            and not after.startswith(_NOT_A_NEW_ORGAN)
            and not (_one_char_word(before, -1) and _one_char_word(after, 0))
        )
        return " " if keep else ""

    return _CJK_GAP.sub(gap, text)


_ORGAN_END = re.compile(r"(?:[部委局署院行会厅办室府]|中央)$")
_NOT_A_NEW_ORGAN = ("关于", "等", "办公厅", "办公室", "综合司")


def _one_char_word(text: str, edge: int) -> bool:
    """The word at the start (``edge`` 0) or end (-1) of ``text`` is a single character."""
    neighbour = 1 if edge == 0 else -2
    return len(text) == 1 or (len(text) > 1 and text[neighbour].isspace())


def has_cjk(text: str) -> bool:
    return re.search(f"[{_CJK}]", text) is not None


@dataclass(frozen=True)
class NewsDate:
    month: int
    day: int
    year: int | None
    rest: str


def news_date(text: str) -> NewsDate | None:
    """The leading "September 8:" (or "8 September:") of a news entry, with the text after it."""
    m = _NEWS_DATE.match(text)
    if m:
        month_name, day = m.group(1), m.group(2)
    else:
        m = _NEWS_DATE_DMY.match(text)
        if m is None:
            return None
        day, month_name = m.group(1), m.group(2)
    month = month_number(month_name)
    if month is None or not 1 <= int(day) <= 31:
        return None
    return NewsDate(month, int(day), int(m.group(3)) if m.group(3) else None, m.group(4))


def date_in_period(
    month: int, day: int, period: Period | None, published: dt.date | None
) -> dt.date | None:
    """A year-less date placed in the reporting period (December news in a January issue)."""
    anchor = period.end if period else published
    if anchor is None:
        return None
    for year in (anchor.year, anchor.year - 1):
        try:
            candidate = dt.date(year, month, day)
        except ValueError:
            continue
        if candidate <= anchor + dt.timedelta(days=20):
            return candidate
    return None


def nearest_date(month: int, day: int, anchor: dt.date) -> dt.date | None:
    """A year-less date in the year that puts it closest to ``anchor`` (a date known only
    roughly, such as a story's policy date: news may fall on either side of it)."""
    candidates: list[dt.date] = []
    for year in (anchor.year - 1, anchor.year, anchor.year + 1):
        try:
            candidates.append(dt.date(year, month, day))
        except ValueError:
            continue
    return min(candidates, key=lambda d: abs((d - anchor).days), default=None)


_BRIEFING = re.compile(
    rf"MERICS\s+China\s+Industries\s+Briefing\s*[-–—:|]?\s*({MONTH_RE})\s*,?\s*(\d{{4}})\b", re.I
)


def briefing_month(text: str) -> dt.date | None:
    """The first day of the month named by a "MERICS China Industries Briefing - January 2021"
    heading (2020-21 pages carry no other date)."""
    m = _BRIEFING.search(text)
    month = month_number(m.group(1)) if m else None
    return dt.date(int(m.group(2)), month, 1) if m and month else None


def footer(text: str) -> tuple[dt.date | None, str | None]:
    """(issue date, period text) from "MERICS China Industries October 2, 2024 (Reporting ...)"."""
    m = _FOOTER.search(text)
    if m:
        return (parse_date(m.group("pub")) if m.group("pub") else None), m.group("period")
    m = _PERIOD.search(text)
    return None, m.group("period") if m else None


def parse_period(text: str | None, published: dt.date | None) -> Period | None:
    """ "August 24 – September 22" (years optional) as a Period ending on or before the issue."""
    days = _MONTH_DAY.findall(text or "")
    if len(days) < 2:
        return None
    (m1, d1, y1), (m2, d2, y2) = days[0], days[-1]
    try:
        end = _dated(m2, d2, y2, published)
        start = _dated(m1, d1, y1, end)
    except ValueError:
        return None
    if start is None or end is None or start > end:
        return None
    return Period(start=start, end=end)


def _dated(month: str, day: str, year: str, anchor: dt.date | None) -> dt.date | None:
    number = month_number(month)
    if number is None:
        return None
    if year:
        return dt.date(int(year), number, int(day))
    return date_in_period(number, int(day), None, anchor)


_NOT_AUTHORS = re.compile(
    r"^\W*(?:editorial|editors?\b|edited\s+by|managing\s+editor|copy[\s-]*edit|publisher|"
    r"published\s+by|imprint|contact|design|layout|photos?\b|images?\b|for\s+more\s+information)",
    re.I,
)


def ends_authors(text: str) -> bool:
    """A line after which names are no longer authors: "Editorial team", "Managing editor: ..."."""
    return _NOT_AUTHORS.match(text) is not None


def author_name(text: str) -> str | None:
    """ "Alexander Brown Senior Analyst, MERICS" -> "Alexander Brown"."""
    name = squash(_ROLE.sub("", text))
    words = name.split()
    if not 2 <= len(words) <= 5 or not all(w[:1].isupper() for w in words):
        return None
    return name


def sources_start(text: str) -> int | None:
    """Where a news entry's trailing source list starts: "... (MIIT notice; Reuters article)".
    Parentheses may nest, as in a link text "SAMR notice (CN)"; None when there is none."""
    body = text.rstrip()
    body = body[:-1].rstrip() if body.endswith(".") else body
    if not body.endswith((")", "）")):
        return None
    depth = 0
    for i in range(len(body) - 1, -1, -1):
        if body[i] in ")）":
            depth += 1
        elif body[i] in "(（":
            depth -= 1
            if depth == 0:
                return i
    return None


def has_sources(text: str) -> bool:
    return sources_start(text) is not None


def first_sentence(text: str) -> str:
    """The first sentence (up to ". " or "; "), without the trailing sources in parentheses.
    The item id hashes this, so shortening the displayed headline never changes an id."""
    start = sources_start(text)
    body = (text[:start] if start is not None else text).strip() or text
    end = len(body)
    for m in _CLAUSE_END.finditer(body):
        word = re.search(r"(\w+)\W*$", body[: m.start() + 1])
        if m.group(0).startswith(";") or not word or word.group(1).lower() not in _ABBREVIATIONS:
            end = m.start()
            break
    return squash(body[:end]).rstrip(" .;,") or squash(text)


def short_headline(sentence: str) -> str:
    """A long first sentence cut to its main clause (DESIGN 3.1 "first sentence or clause"):
    "The MEE published a draft plan ..., with the first stage running from 2024" ends before
    ", with". Sentences up to ``_LONG_HEADLINE`` characters stay whole."""
    if len(sentence) <= _LONG_HEADLINE:
        return sentence
    for m in _CLAUSE_BREAK.finditer(sentence):
        if m.start() >= _MIN_CLAUSE:
            return sentence[: m.start()].rstrip(" ,")
    return sentence
