"""SAMR 国家市场监督管理总局 (SITES §5): metas for title/date/source, body ``.Three_xilan_07``."""

from __future__ import annotations

from parsers.notices.base import Fields, Page, register, standard_fields

SELECTORS = {
    "title": ("div.Three_xilan_01 h1", "h1", "#con_title"),
    "date": ("#con_time",),
    "source": ("span.source",),
    "body": ("div.Three_xilan_07", ".Three_xilan_07", "#con_con"),
}


@register(
    "samr",
    hosts=("www.samr.gov.cn", "samr.gov.cn"),
    description="SAMR notices and orders: metas ArticleTitle/PubDate/ContentSource, .Three_xilan_07",
    default_body="SAMR",
)
def parse(page: Page) -> Fields:
    return standard_fields(page, SELECTORS, prefer_meta=True)
