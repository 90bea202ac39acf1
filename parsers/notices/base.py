"""The parser registry and the one routine that turns a site's raw fields into a ``Notice``.

A site module only locates things (title, date, issuer, 文号 field, body) on its pages and
registers itself with :func:`register`; normalisation and the "layout changed" check happen here,
the same way for every site.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urljoin

from bs4 import BeautifulSoup, Tag

from parsers.bodies import BodyIndex
from parsers.challenge import challenge_marker
from parsers.nesting import check_nesting
from parsers.notices import common
from parsers.notices.issuers import all_issuers, lead_body, title_issuer_part
from parsers.notices.quickselect import PageIndex
from parsers.records import Attachment, Notice, NoticeStatus
from parsers.text import squash

__all__ = [
    "PARSERS",
    "Fields",
    "NoticeParser",
    "Page",
    "build_notice",
    "error_notice",
    "lead_body",
    "register",
    "standard_fields",
    "title_issuer_part",
]


@dataclass
class Page:
    """A parsed page with what every extractor needs: soup, URL, metas."""

    soup: BeautifulSoup
    url: str
    meta: dict[str, str]

    @classmethod
    def from_html(cls, html: str, url: str) -> Page:
        """Raises ``ParseError`` for a page nested too deeply to walk (``parsers.nesting``)."""
        soup = common.soup_of(html)
        check_nesting(soup, url)
        return cls(soup, url, common.metas(soup))

    @functools.cached_property
    def index(self) -> PageIndex:
        """The page's elements by id, class and name: what the site selectors are looked up in."""
        return PageIndex(self.soup)

    def matches(self, parser: NoticeParser) -> bool:
        """The page carries one of the parser's layout markers (a parser without markers
        matches any page)."""
        return not parser.markers or any(next(self.index.select(m), None) for m in parser.markers)

    def base_url(self) -> str:
        """What relative links resolve against: ``<base href>`` if the page sets one."""
        base = self.soup.find("base", href=True)
        href = str(base["href"]).strip() if isinstance(base, Tag) else ""
        return common.canonical_url(urljoin(self.url, href) if href else self.url)

    def text_of(self, selectors: tuple[str, ...]) -> str | None:
        tag = self.tag_of(selectors)
        return squash(tag.get_text(" ")) if tag else None

    def tag_of(self, selectors: tuple[str, ...], min_text: int = 1) -> Tag | None:
        """The first element matched by the selectors, in order, that has some text."""
        return common.first_with_text(map(self.index.select, selectors), min_text)


@dataclass
class Fields:
    """Raw values found on a page; :func:`build_notice` normalises them."""

    title: str | None
    body: Tag | None
    published: str | None = None
    issuer: str | None = None
    doc_number: str | None = None
    attachment_areas: list[Tag] = field(default_factory=list)


Extractor = Callable[[Page], Fields]


@dataclass(frozen=True)
class NoticeParser:
    """One site's parser: ``hosts`` are exact host names, or ``.suffix`` for all subdomains."""

    name: str
    hosts: tuple[str, ...]
    description: str
    extract: Extractor
    default_body: str | None = None
    markers: tuple[str, ...] = ()  # selectors only this site's pages match (saved files)

    def handles(self, host: str) -> bool:
        return any(host == h or (h.startswith(".") and host.endswith(h)) for h in self.hosts)


PARSERS: dict[str, NoticeParser] = {}


def register(
    name: str,
    *,
    hosts: tuple[str, ...],
    description: str,
    default_body: str | None = None,
    markers: tuple[str, ...] = (),
) -> Callable[[Extractor], Extractor]:
    """Decorator: add a site's extractor to :data:`PARSERS` under ``name``."""

    def add(extract: Extractor) -> Extractor:
        if name in PARSERS:
            raise ValueError(f"notice parser {name!r} registered twice")
        PARSERS[name] = NoticeParser(name, hosts, description, extract, default_body, markers)
        return extract

    return add


Selectors = dict[str, tuple[str, ...]]


def _first(*values: str | None) -> str | None:
    return next((v for v in values if v), None)


def standard_fields(page: Page, selectors: Selectors, *, prefer_meta: bool = False) -> Fields:
    """Fields from a site's selector block plus the standard CMS metas (SITES §0).

    Keys: ``title``, ``body``, ``date``, ``source``, ``attachments`` (extra areas with file
    links). Sites whose metas are the documented source (NDRC, MEE, NEA) set ``prefer_meta``.
    """
    meta = page.meta
    on_page = {
        "title": page.text_of(selectors.get("title", ())),
        "date": page.text_of(selectors.get("date", ())),
        "source": common.strip_label(
            page.text_of(selectors.get("source", ())), "来源", "发布机构", "发文机关"
        ),
    }
    in_meta = {
        "title": meta.get("articletitle"),
        "date": meta.get("pubdate") or meta.get("firstpublishedtime"),
        "source": meta.get("contentsource"),
    }
    order = (in_meta, on_page) if prefer_meta else (on_page, in_meta)
    areas = [t for s in selectors.get("attachments", ()) for t in page.index.select(s)]
    return Fields(
        title=_first(order[0]["title"], order[1]["title"]),
        body=page.tag_of(selectors.get("body", ())),
        published=_first(order[0]["date"], order[1]["date"]),
        issuer=_first(order[0]["source"], order[1]["source"]),
        attachment_areas=areas,
    )


def _issuer(parser: NoticeParser, fields: Fields, bodies: BodyIndex) -> str | None:
    """Canonical body id: the issuer field, then names in it or in the title, then the site's."""
    raw = squash(fields.issuer or "")
    found = raw and (bodies.canonical(raw) or lead_body(bodies, raw))
    if found:
        return found
    in_title = lead_body(bodies, title_issuer_part(fields.title or ""))
    return in_title or parser.default_body or raw or None


def error_notice(url: str, site: str, reason: str, status: NoticeStatus = "error") -> Notice:
    return Notice(url=common.canonical_url(url), site=site, status=status, error=reason)


def build_notice(parser: NoticeParser, page: Page, html: str, bodies: BodyIndex) -> Notice:
    """Normalise a site's fields into a Notice, or an error/blocked Notice if the layout is gone."""
    fields = parser.extract(page)
    title = squash(fields.title or "")
    missing = [what for what, ok in (("title", title), ("body", fields.body)) if not ok]
    if missing or fields.body is None:
        marker = challenge_marker(html)
        if marker:
            return error_notice(page.url, parser.name, f"challenge page ({marker})", "blocked")
        target = common.find_redirect(html, page.url)
        if target:
            reason = f"{parser.name}: page is a JS redirect to {target}; fetch the target"
            return error_notice(page.url, parser.name, reason)
        reason = (
            f"{parser.name}: no {' and no '.join(missing)} found; the page layout may have changed"
        )
        return error_notice(page.url, parser.name, reason)
    areas = [fields.body, *fields.attachment_areas]
    attachments = [
        Attachment(name=n, url=u) for n, u in common.attachment_links(areas, page.base_url())
    ]
    text = common.body_text(fields.body)
    if not text:
        return error_notice(page.url, parser.name, f"{parser.name}: body is empty after cleanup")
    lead = _issuer(parser, fields, bodies)
    number = common.doc_number_from(fields.doc_number, title, text)
    sources = (fields.issuer, title_issuer_part(title), number)
    return Notice(
        url=common.canonical_url(page.url),
        site=parser.name,
        title=re.sub(r"\s+", " ", title),
        issuing_body=lead,
        issuing_bodies=all_issuers(bodies, lead, sources, text),
        doc_number=number,
        published=common.parse_cn_date(fields.published),
        body_text=text,
        attachments=attachments,
        content_hash=common.content_hash(text),
    )
