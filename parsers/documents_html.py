"""HTML pages to ``Document``: the article's text without page furniture, its links, title,
date, series label and authors. Kept apart from ``parsers.documents`` so that reading a text or
PDF issue does not load BeautifulSoup and its CSS engine (a fifth of ``policywatch parse``'s
start-up)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any
from urllib.parse import urljoin

from bs4 import BeautifulSoup, FeatureNotFound, Tag
from bs4.element import NavigableString

from parsers.charset import decode_document
from parsers.errors import ParseError
from parsers.nesting import MAX_DEPTH, too_deep
from parsers.records import Document, Link
from parsers.text import parse_date, squash

__all__ = ["html_to_document"]

_BLOCK_TAGS = frozenset(
    [
        "p",
        "div",
        "section",
        "article",
        "main",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "ul",
        "ol",
        "li",
        "blockquote",
        "pre",
        "table",
        "tr",
        "figure",
        "figcaption",
        "dl",
        "dt",
        "dd",
        "address",
        "details",
        "summary",
    ]
)
_DROP_TAGS = ("script", "style", "noscript", "template", "nav", "header", "footer", "aside", "form")
_NOISE = re.compile(
    r"cookie|consent|gdpr|banner|related|teaser|share|social|breadcrumb|newsletter|"
    r"promo|subscribe|menu|sidebar|skip-link|visually-hidden",
    re.I,
)
_TEAM_LINK = re.compile(r"/team/")
_DATE_CLASS = re.compile(r"date", re.I)


@dataclass
class _Block:
    parts: list[str] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)
    prefix: str = ""


@dataclass
class _Walker:
    """Turns an element tree into text blocks, collecting each block's links."""

    base: str
    source: str = ""
    blocks: list[tuple[str, list[tuple[str, str]]]] = field(default_factory=list)
    current: _Block = field(default_factory=_Block)
    depth: int = 0

    def flush(self) -> None:
        text = "".join(self.current.parts)
        lines = [squash(x) for x in text.split("\n")]
        joined = "\n".join(x for x in lines if x)
        if joined:
            self.blocks.append((self.current.prefix + joined, self.current.links))
            self.current = _Block()
        else:  # a list item that opens with a nested block keeps its marker for that block
            self.current = _Block(prefix=self.current.prefix, links=self.current.links)

    def walk(self, el: Tag) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise too_deep(self.source)
        for child in el.children:
            if isinstance(child, NavigableString):
                if type(child) is NavigableString:
                    self.current.parts.append(re.sub(r"\s+", " ", str(child)))
            elif isinstance(child, Tag):
                self.visit(child)
        self.depth -= 1

    def visit(self, tag: Tag) -> None:
        name = tag.name.lower()
        if name == "br":
            self.current.parts.append("\n")
        elif name == "a" and tag.get("href"):
            text = squash(tag.get_text(" "))
            self.walk(tag)
            url = self.resolve(str(tag["href"]))
            if url:
                self.current.links.append((text or url, url))
        elif name in _BLOCK_TAGS:
            self.flush()
            if name == "li":
                self.current.prefix = _list_marker(tag)
            self.walk(tag)
            self.flush()
            self.current.prefix = ""
        else:
            self.walk(tag)

    def resolve(self, href: str) -> str | None:
        href = href.strip()
        if not href or href.startswith(("#", "javascript:", "data:")):
            return None
        return urljoin(self.base, href) if self.base else href


def _list_marker(li: Tag) -> str:
    """ "- " for bullets; "N. " inside an ordered list, so numbering survives as text."""
    parent = li.parent
    if not isinstance(parent, Tag) or parent.name != "ol":
        return "- "
    start = str(parent.get("start") or "1")
    siblings = list(parent.find_all("li", recursive=False))
    first = int(start) if start.isdigit() else 1
    return f"{first + siblings.index(li)}. "


def html_to_document(data: bytes | str, source: str) -> Document:
    """An article page: main text without page furniture, its links, title, date, authors."""
    markup = data if isinstance(data, str) else decode_document(data, source, _meta_charset(data))
    try:
        soup = BeautifulSoup(markup, "lxml")
    except (FeatureNotFound, ValueError) as exc:  # pragma: no cover - lxml is a dependency
        raise ParseError(source, f"expected HTML that lxml can read ({exc})") from None
    if soup.find(True) is None:
        raise ParseError(source, "expected an HTML page, found no elements")
    base = _base_url(soup, source)
    meta = _html_meta(soup)
    series = _series(soup)
    authors = _authors(soup)
    for tag in list(soup.find_all(_DROP_TAGS)):
        tag.decompose()
    for tag in list(soup.find_all(_is_noise)):
        if not tag.decomposed:
            tag.decompose()
    root = _article_root(soup)
    walker = _Walker(base, source)
    walker.walk(root)
    walker.flush()
    doc = _document_from_blocks(source, walker.blocks, meta, series, authors)
    doc.url = base or None
    return doc


def _document_from_blocks(
    source: str,
    blocks: list[tuple[str, list[tuple[str, str]]]],
    meta: tuple[str | None, dt.date | None],
    series: str | None,
    authors: list[str],
) -> Document:
    text = "\n\n".join(b for b, _ in blocks)
    if not text.strip():
        raise ParseError(source, "expected an article with text, found no article body")
    links = [Link(text=t, url=u, context=squash(b)) for b, found in blocks for t, u in found]
    return Document(
        source=source,
        kind="html",
        text=text,
        links=links,
        title=meta[0],
        published=meta[1],
        series=series,
        authors=authors,
    )


def _meta_charset(data: bytes) -> str | None:
    m = re.search(rb"<meta[^>]+charset=[\"']?([\w-]+)", data[:4096], re.I)
    return m.group(1).decode("ascii") if m else None


def _base_url(soup: BeautifulSoup, source: str) -> str:
    for tag, attr in (("base", "href"), ("link", "href"), ("meta", "content")):
        for el in soup.find_all(tag):
            is_canonical = tag == "base" or "canonical" in (el.get("rel") or [])
            if tag == "meta":
                is_canonical = el.get("property") == "og:url"
            value = str(el.get(attr) or "")
            if is_canonical and value.startswith("http"):
                return value
    return source if "://" in source else ""


def _is_noise(tag: Tag) -> bool:
    if tag.name in ("html", "body", "main", "article") or tag.attrs is None:
        return False
    classes: Any = tag.get("class") or []
    names = [classes] if isinstance(classes, str) else list(classes)
    label = " ".join([*names, str(tag.get("id", "")), str(tag.get("role", ""))])
    return (bool(label.strip()) and bool(_NOISE.search(label))) or tag.get("aria-hidden") == "true"


def _article_root(soup: BeautifulSoup) -> Tag:
    """The element holding the story: the longest ``article``, else ``main``, else ``body``."""
    articles = [a for a in soup.find_all("article") if isinstance(a, Tag)]
    if articles:
        return max(articles, key=lambda a: len(a.get_text()))
    for name in ("main", "body"):
        found = soup.find(name)
        if isinstance(found, Tag):
            return found
    return soup


def _html_meta(soup: BeautifulSoup) -> tuple[str | None, dt.date | None]:
    h1 = soup.find("h1")
    title = squash(h1.get_text(" ")) if isinstance(h1, Tag) else None
    if not title:
        og = soup.find("meta", attrs={"property": "og:title"})
        title = squash(str(og.get("content", ""))) if isinstance(og, Tag) else None
    return title or None, _html_date(soup)


def _html_date(soup: BeautifulSoup) -> dt.date | None:
    for candidate in _date_candidates(soup):
        found = parse_date(candidate)
        if found:
            return found
    return None


def _date_candidates(soup: BeautifulSoup) -> Iterator[str]:
    """Where pages state their date, best first. Each search walks the whole tree, so the
    time elements and the meta tags are each collected in one walk."""
    times = soup.find_all("time")
    for el in times:
        yield str(el.get("datetime") or "")
    metas: dict[tuple[str, str], str] = {}
    for meta in soup.find_all("meta"):
        for attr in ("property", "name"):
            value = meta.get(attr)
            if isinstance(value, str):
                metas.setdefault((attr, value), str(meta.get("content") or ""))
    for prop in ("article:published_time", "og:published_time", "date", "dcterms.date"):
        found = metas.get(("property", prop), metas.get(("name", prop)))
        if found is not None:
            yield found
    for el in times:
        yield el.get_text(" ")
    for el in soup.find_all(class_=_DATE_CLASS):
        yield el.get_text(" ")


def _series(soup: BeautifulSoup) -> str | None:
    """The series label printed on the page ("MERICS China Industries", "... Essentials")."""
    for el in soup.find_all(string=re.compile(r"^\s*MERICS China \w+\s*$")):
        return squash(str(el))
    return None


def _authors(soup: BeautifulSoup) -> list[str]:
    """Names linked to /team/ pages in the authors block; where the page marks no such block,
    every team link except those labelled as editors, publisher or team."""
    links = [a for a in soup.find_all("a", href=_TEAM_LINK) if isinstance(a, Tag)]
    in_block = [a for a in links if _AUTHOR_BLOCK.search(_ancestry(a))]
    chosen = in_block or [a for a in links if not _other_role(a)]
    names: list[str] = []
    for a in chosen:
        name = squash(a.get_text(" "))
        if name and name not in names:
            names.append(name)
    return names


_AUTHOR_BLOCK = re.compile(r"author", re.I)
_OTHER_ROLE = re.compile(r"editor|edited|publish|imprint|contact|\bteam\b", re.I)
_LABEL_CHARS = 40  # a label ("Managing editor:") is short; longer text before a link is prose


def _ancestry(tag: Tag, levels: int = 5) -> str:
    """Class and id names of the elements around ``tag``, nearest first."""
    names: list[str] = []
    for parent in islice(tag.parents, levels):
        classes: Any = parent.get("class") or []
        names.extend([classes] if isinstance(classes, str) else classes)
        names.append(str(parent.get("id") or ""))
    return " ".join(names)


def _other_role(a: Tag) -> bool:
    """A team link in an editors' block, or after a label such as "Managing editor:"."""
    if _OTHER_ROLE.search(_ancestry(a)):
        return True
    for string in a.find_all_previous(string=True, limit=12):
        text = str(string).strip()
        if re.search(r"[A-Za-z]", text) and string.find_parent("a", href=_TEAM_LINK) is None:
            label = len(text) <= _LABEL_CHARS
            return label and bool(_OTHER_ROLE.search(text)) and not _AUTHOR_BLOCK.search(text)
    return False
