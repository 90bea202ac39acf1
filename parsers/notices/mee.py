"""MEE 生态环境部 (SITES §8): metas, body ``.TRS_Editor`` then ``.content_body_box``."""

from __future__ import annotations

from parsers.notices.base import Fields, Page, register, standard_fields

SELECTORS = {
    "title": ("div.neiright_Title h2", "h2.neiright_Title", "h1"),
    "date": ("span.xqLyPc time", "div.neiright_JPZ_GK span.time"),
    "source": ("span.xqLyPc", "div.source"),
    "body": ("div.TRS_Editor", "div.content_body_box", "div.neiright_JPZ_GK_CP"),
}


@register(
    "mee",
    hosts=("www.mee.gov.cn", "mee.gov.cn"),
    description="MEE policy files: metas ArticleTitle/PubDate, .TRS_Editor/.content_body_box",
    default_body="MEE",
)
def parse(page: Page) -> Fields:
    return standard_fields(page, SELECTORS, prefer_meta=True)
