"""MOFCOM 商务部 (SITES §7): new JPAAS ``art_`` pages, legacy ``.art-con`` pages, JS redirects.

The new template is unverified, so the selectors try the MIIT-style ids first and then the
legacy classes; redirect pages are recognised by :func:`find_redirect` (in ``common`` because
the layout-changed check of every site uses it too).
"""

from __future__ import annotations

from parsers.notices.base import Fields, Page, register, standard_fields
from parsers.notices.common import find_redirect

__all__ = ["SELECTORS", "find_redirect", "parse"]

SELECTORS = {
    "title": ("#con_title", "div.art-title h1", "h1.art-title", "div.art-tit h2", "h1"),
    "date": ("#con_time", "div.art-title .time", "span.art-time"),
    "source": ("#con_source", "span.art-source"),
    "body": ("#zoom", "#con_con", "div.art-con", "div.art-content", "div.f-cb"),
}


@register(
    "mofcom",
    hosts=("www.mofcom.gov.cn", "mofcom.gov.cn", ".mofcom.gov.cn"),
    description="MOFCOM art_ and legacy .art-con pages: metas, #zoom/.art-con (JS redirects followed)",
    default_body="MOFCOM",
)
def parse(page: Page) -> Fields:
    return standard_fields(page, SELECTORS, prefer_meta=True)
