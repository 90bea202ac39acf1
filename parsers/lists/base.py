"""Records, errors and the registry shared by the ministry list parsers (DESIGN 3.6, 3.7).

A list parser reads one page of a ministry's column list (HTML, or the JSON an API answers) and
returns a :class:`ListPage`. Two-step sites (a column page that only names the request that
loads its list) return no entries and a :class:`ListRequest` to make instead. Nothing here
fetches: the caller does the requests and hands the bytes back.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urljoin

from bs4 import BeautifulSoup
from pydantic import Field

from parsers.challenge import challenge_marker, looks_like_challenge
from parsers.errors import ParseError
from parsers.notices import PARSERS as NOTICE_PARSERS
from parsers.notices import common
from parsers.records import Record
from parsers.text import fold, squash


class ListEntry(Record):
    """One document announced on a list page; ``published`` is the list's (Beijing) date."""

    title: str
    url: str
    published: dt.date | None
    site: str
    issuer: str | None = None
    summary: str | None = None


class ListRequest(Record):
    """A GET request the caller makes next: the API call behind a column page, or page N."""

    url: str
    params: dict[str, str] = Field(default_factory=dict)
    headers: dict[str, str] = Field(default_factory=dict)

    def full_url(self) -> str:
        """The URL with its query string, for logs and as a stable key."""
        return f"{self.url}?{urlencode(self.params)}" if self.params else self.url


class ListPage(Record):
    """What one list page holds, newest first as the site lists it.

    ``follow`` is set on two-step sites' column pages: fetch it and parse the answer with the
    same site. ``page``/``pages`` are the page number and the page count when the page says so.
    ``skipped`` lists links that left the site's hosts (ads, cross-links), for the log.
    """

    site: str
    url: str
    entries: list[ListEntry] = Field(default_factory=list)
    follow: ListRequest | None = None
    page: int | None = None
    pages: int | None = None
    skipped: list[str] = Field(default_factory=list)


class BlockedListError(ParseError):
    """A challenge or interstitial page where a list was expected: the caller records "blocked".

    A subclass of ParseError, so catch it first.
    """


# --- the input of one parse ------------------------------------------------------------------

_JSON_START = re.compile(r"^\s*[\[{]")
MAX_JSON_CHARS = 20_000_000


@dataclass
class ListSource:
    """One fetched list page: decoded text, its URL and the site, plus what parsing collects."""

    site: str
    url: str
    text: str
    skipped: list[str] = field(default_factory=list)

    @functools.cached_property
    def soup(self) -> BeautifulSoup:
        return common.soup_of(self.text)

    def looks_like_json(self) -> bool:
        return bool(_JSON_START.match(self.text))

    def json(self) -> Any:
        """The parsed JSON answer; a challenge page or broken JSON raises."""
        if not self.looks_like_json():
            raise self.error("a JSON answer")
        if len(self.text) > MAX_JSON_CHARS:
            raise self.error(f"a JSON answer under {MAX_JSON_CHARS:,} characters")
        try:
            return json.loads(self.text)
        except ValueError as exc:
            raise self.error(f"valid JSON ({exc})") from exc

    def error(self, expected: str, *, layout: bool = False) -> ParseError:
        """BlockedListError for a challenge page, else ParseError naming what was missing."""
        marker = challenge_marker(self.text) or looks_like_challenge(self.text)
        source = f"{self.site} list {self.url}"
        if marker:
            return BlockedListError(source, f"challenge page ({marker!r}) instead of a list")
        suffix = "; the page layout may have changed" if layout else ""
        return ParseError(source, f"expected {expected}{suffix}")

    def absolute(self, href: str) -> str:
        """``href`` resolved against the page (NEA's JSON: against the JSON file), canonical."""
        return common.canonical_url(urljoin(self.url, href.strip()))

    def on_site(self, url: str) -> bool:
        """The site's own hosts, the page's host, and for gov.cn any ``*.gov.cn`` host."""
        host = common.host_of(url)
        if host == common.host_of(self.url):
            return True
        if self.site == "govcn":
            return host == "gov.cn" or host.endswith(".gov.cn")
        notice_parser = NOTICE_PARSERS.get(self.site)
        return notice_parser is not None and notice_parser.handles(host)

    def entry(
        self,
        title: str | None,
        href: str | None,
        published: dt.date | None,
        *,
        issuer: str | None = None,
        summary: str | None = None,
    ) -> ListEntry | None:
        """An entry with a canonical absolute URL, or None (no link, no title, or off-site)."""
        title = squash(title or "")
        if not href or not title or href.strip().lower().startswith(("javascript:", "#")):
            return None
        url = self.absolute(href)
        if not self.on_site(url):
            self.skipped.append(url)
            return None
        return ListEntry(
            title=title,
            url=url,
            published=published,
            site=self.site,
            issuer=squash(issuer or "") or None,
            summary=squash(summary or "") or None,
        )

    def page(self, entries: list[ListEntry], **extra: Any) -> ListPage:
        """The result, with duplicate URLs dropped (first wins) and undated lists refused."""
        by_url: dict[str, ListEntry] = {}
        for entry in entries:
            by_url.setdefault(entry.url, entry)
        unique = list(by_url.values())
        if unique and all(e.published is None for e in unique):
            raise self.error("a date on at least one entry (none found)", layout=True)
        return ListPage(site=self.site, url=self.url, entries=unique, skipped=self.skipped, **extra)


# --- dates -----------------------------------------------------------------------------------

# ``2021年10月3`` (MOFCOM legacy titles) has no 日, which parse_cn_date requires.
_CN_DATE_NO_DAY = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})(?!\d)")


def list_date(text: str | None) -> dt.date | None:
    """The first date in a list's date cell or title, in any format of SITES §12 (Beijing)."""
    if not text:
        return None
    found = common.parse_cn_date(text)
    if found:
        return found
    m = _CN_DATE_NO_DAY.search(fold(text))
    if not m:
        return None
    try:
        return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


# --- registry --------------------------------------------------------------------------------

Parse = Callable[[ListSource], ListPage]
PageUrl = Callable[["str | ListRequest", int], "str | ListRequest"]


@dataclass(frozen=True)
class ListParser:
    """One site's list parser and its paging rule."""

    name: str
    description: str
    parse: Parse
    page_url: PageUrl


LIST_PARSERS: dict[str, ListParser] = {}


def register(name: str, *, description: str, page_url: PageUrl) -> Callable[[Parse], Parse]:
    """Decorator: add a site's list parser to :data:`LIST_PARSERS` under ``name``."""

    def add(parse: Parse) -> Parse:
        if name in LIST_PARSERS:
            raise ValueError(f"list parser {name!r} registered twice")
        LIST_PARSERS[name] = ListParser(name, description, parse, page_url)
        return parse

    return add


def check_page_number(n: int) -> None:
    if n < 1:
        raise ValueError(f"page numbers start at 1, got {n}")


def single_page(site: str, why: str) -> PageUrl:
    """The paging rule of a list that has only one page (or whose paging is not known)."""

    def page_url(first: str | ListRequest, n: int) -> str | ListRequest:
        check_page_number(n)
        if n == 1:
            return first
        raise ValueError(f"{site}: no page {n}: {why}")

    return page_url
