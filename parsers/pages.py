"""What a merics.org page is, before it is parsed as an issue: its series and its title and date.

``/en/merics-briefs/`` is shared by several MERICS series (SITES 1.2), and a site under
maintenance answers 200 with a page that carries no series label at all. Only a page that
positively names another series is out of scope for good; a page with no label is
"unrecognised" and must be tried again, never marked seen.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Literal

from bs4 import BeautifulSoup, Tag

__all__ = ["PageKind", "classify_page", "page_date", "page_details", "page_title"]

PageKind = Literal["china-industries", "other-series", "unrecognised"]

SERIES_LABEL = "merics china industries"
_FURNITURE = ("nav", "header", "footer", "aside", "script", "style", "noscript", "form")
_DATE_TEXT = re.compile(r"\b([A-Z][a-z]{2,8})\.? (\d{1,2}), (\d{4})\b")
# Other MERICS series and publication types: a page carrying one of these labels, and not
# China Industries, is out of scope for good.
_OTHER_LABEL = re.compile(
    r"\bmerics (china (?!industries)[a-z]+|europe china [a-z]+|report|podcast|comment|"
    r"china monitor|china update|paper on china)\b"
)


def classify_page(content: bytes | str | BeautifulSoup) -> PageKind:
    """China Industries, positively another series, or a page with no series label at all.

    Only the page's own text counts (menus and footers are dropped: they list every series).
    """
    soup = content if isinstance(content, BeautifulSoup) else BeautifulSoup(content, "lxml")
    title = soup.title.get_text(" ").lower() if soup.title else ""
    for tag in soup.find_all(_FURNITURE):
        tag.decompose()
    scope = soup.find("main") or soup.find("article") or soup.body or soup
    text = " ".join(scope.get_text(" ").split()).lower()
    if SERIES_LABEL in text or "china industries briefing" in title:
        return "china-industries"
    return "other-series" if _OTHER_LABEL.search(text) else "unrecognised"


def page_details(content: bytes | str) -> tuple[PageKind, str | None, date | None]:
    """The page's kind, title (h1, else <title>) and publication date, from one parse."""
    soup = BeautifulSoup(content, "lxml")
    title, published = page_title(soup), page_date(soup)
    return classify_page(soup), title, published


def page_title(soup: BeautifulSoup) -> str | None:
    for tag in (soup.find("h1"), soup.find("title")):
        if tag is not None and tag.get_text(strip=True):
            return " ".join(tag.get_text(" ").split())
    return None


def page_date(soup: BeautifulSoup | Tag) -> date | None:
    """``time@datetime`` first, then a ``Mon D, YYYY`` text (SITES §1.4)."""
    time_tag = soup.find("time", attrs={"datetime": True})
    if time_tag is not None:
        try:
            return datetime.fromisoformat(str(time_tag["datetime"]).replace("Z", "+00:00")).date()
        except ValueError:
            pass
    for match in _DATE_TEXT.finditer(soup.get_text(" ")):
        for fmt in ("%b %d %Y", "%B %d %Y"):
            try:
                month = match.group(1).replace("Sept", "Sep")
                return datetime.strptime(f"{month} {match[2]} {match[3]}", fmt).date()
            except ValueError:
                continue
    return None
