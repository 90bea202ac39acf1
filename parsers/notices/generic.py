"""Fallback for hosts without a site parser: standard CMS metas and the largest text block."""

from __future__ import annotations

import re

from bs4 import Tag

from parsers.notices import common
from parsers.notices.base import Fields, Page, register
from parsers.text import squash

SELECTORS = {
    "title": ("h1", "h2.title", "div.title"),
    "furniture": (
        "header",
        "nav",
        "footer",
        "aside",
        ".header",
        ".footer",
        ".nav",
        "#header",
        "#footer",
    ),
    # "body" last: a plain page may keep its paragraphs directly under <body>
    "block_parents": ("div", "td", "article", "section", "main", "body"),
}
MIN_BLOCK_CHARS = 40


def _furniture(page: Page) -> list[Tag]:
    return [t for s in SELECTORS["furniture"] for t in page.index.select(s)]


def largest_block(page: Page) -> Tag | None:
    """The element whose direct ``<p>`` children hold the most text, its furniture removed."""
    tags = _furniture(page)
    furniture = {id(t) for t in tags}
    best: tuple[int, Tag | None] = (0, None)
    for parent in page.soup.find_all(SELECTORS["block_parents"]):
        if any(id(p) in furniture for p in (parent, *parent.parents)):
            continue
        size = sum(len(squash(p.get_text())) for p in parent.find_all("p", recursive=False))
        if size > best[0]:
            best = (size, parent)
    block = best[1] if best[0] >= MIN_BLOCK_CHARS else None
    if block is not None:
        for tag in tags:
            if any(parent is block for parent in tag.parents):
                tag.decompose()
    return block


def attachment_tables(page: Page, block: Tag | None) -> list[Tag]:
    """Tables that list the notice's files (附件 tables below the text): most of their links
    point at files. Layout tables around the text and page furniture do not count."""
    furniture = {id(t) for t in _furniture(page)}
    layout = {id(parent) for parent in block.parents} if block is not None else set()
    base = page.base_url()
    found: list[Tag] = []
    for table in page.soup.find_all("table"):
        if id(table) in layout or any(id(p) in furniture for p in table.parents):
            continue
        files = common.attachment_links([table], base)
        if files and 2 * len(files) >= len(table.find_all("a", href=True)):
            found.append(table)
    return found


def _title(page: Page) -> str | None:
    meta = page.meta
    head = page.soup.title.get_text() if page.soup.title else ""
    head = re.split(r"\s*[-_|—]\s*", squash(head))[0] if head else ""
    return (
        meta.get("articletitle")
        or meta.get("og:title")
        or page.text_of(SELECTORS["title"])
        or head
        or None
    )


@register(
    "generic",
    hosts=(),
    description="any other host: metas ArticleTitle/PubDate/ContentSource, largest text block, file tables",
)
def parse(page: Page) -> Fields:
    meta = page.meta
    block = largest_block(page)
    return Fields(
        title=_title(page),
        body=block,
        attachment_areas=attachment_tables(page, block),
        published=meta.get("pubdate")
        or meta.get("firstpublishedtime")
        or common.labelled_value(page.soup, "发布时间")
        or common.labelled_value(page.soup, "发布日期"),
        issuer=meta.get("contentsource") or common.labelled_value(page.soup, "来源"),
    )
