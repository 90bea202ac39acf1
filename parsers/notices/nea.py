"""NEA 国家能源局 (SITES §10): legacy Xinhua-CMS and new pages; metas plus ``#detailContent``."""

from __future__ import annotations

from parsers.notices import common
from parsers.notices.base import Fields, Page, register, standard_fields

SELECTORS = {
    "title": ("div.titles h1", "h1.title", "td.title", "h1"),
    "date": ("span.times", "div.titles span.time"),
    "body": ("#detailContent", "td.detail", "div.article-content"),
}


@register(
    "nea",
    hosts=("www.nea.gov.cn", "zfxxgk.nea.gov.cn", "nea.gov.cn"),
    description="NEA notices: metas ArticleTitle/PubDate, #detailContent/td.detail/div.article-content",
    default_body="NEA",
)
def parse(page: Page) -> Fields:
    fields = standard_fields(page, SELECTORS, prefer_meta=True)
    fields.issuer = fields.issuer or common.labelled_value(page.soup, "来源")
    return fields
