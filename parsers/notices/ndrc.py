"""NDRC 国家发展和改革委员会 (SITES §6): metas, body ``div.TRS_Editor``, ``table.enclosure`` files."""

from __future__ import annotations

from parsers.notices.base import Fields, Page, register, standard_fields

SELECTORS = {
    "title": ("div.article_title", "div.article h2", "h1"),
    "date": ("div.article_l .time", "span.time"),
    "body": ("div.TRS_Editor", "div.article_con", "div.article"),
    "attachments": ("table.enclosure", "div.attachment"),
}


@register(
    "ndrc",
    hosts=("www.ndrc.gov.cn", "zfxxgk.ndrc.gov.cn", "ndrc.gov.cn"),
    description="NDRC notices: metas ArticleTitle/PubDate/ContentSource, div.TRS_Editor, table.enclosure",
    default_body="NDRC",
)
def parse(page: Page) -> Fields:
    return standard_fields(page, SELECTORS, prefer_meta=True)
