"""MIIT 工业和信息化部 (SITES §2): JPAAS ``art_`` pages with ``#con_title``/``#con_time``/``#con_con``."""

from __future__ import annotations

from parsers.notices import common
from parsers.notices.base import Fields, Page, register, standard_fields

SELECTORS = {
    "title": ("h1#con_title", "#con_title", ".ctitle h1"),
    "date": ("#con_time",),
    "source_area": ("div.cinfo",),
    "body": ("div#con_con", "#con_con", "div.ccontent"),
}


@register(
    "miit",
    hosts=("www.miit.gov.cn", "wap.miit.gov.cn", "miit.gov.cn"),
    description="MIIT notices: #con_title, #con_time (发布时间：), 来源 in div.cinfo, #con_con",
    default_body="MIIT",
)
def parse(page: Page) -> Fields:
    fields = standard_fields(page, SELECTORS)
    area = page.tag_of(SELECTORS["source_area"])
    source = common.labelled_value(area, "来源") if area else None
    fields.issuer = source or fields.issuer
    return fields
