"""CAC 国家互联网信息办公室 (SITES §4): ``c_<id>.htm`` pages, body ``.TRS_Editor``/``.article_con``."""

from __future__ import annotations

from parsers.notices.base import Fields, Page, register, standard_fields

SELECTORS = {
    "title": ("h1.title", "#title", "div.title h1", "h1"),
    "date": ("#pubtime", "span.time", ".pubtime"),
    "source": ("#source", "span.source"),
    "body": ("div.TRS_Editor", "div.article_con", "#content", "div.main-content"),
}


@register(
    "cac",
    hosts=("www.cac.gov.cn", "cac.gov.cn"),
    description="CAC notices and orders: h1/#title, meta PubDate, #source, .TRS_Editor/.article_con",
    default_body="CAC",
)
def parse(page: Page) -> Fields:
    return standard_fields(page, SELECTORS)
