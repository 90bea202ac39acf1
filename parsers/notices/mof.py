"""MOF 财政部 and its department subdomains (SITES §9): body ``div.my_doccontent``/``.TRS_Editor``."""

from __future__ import annotations

from parsers.notices.base import Fields, Page, register, standard_fields

SELECTORS = {
    "title": ("div.title_con h2", "h2.title_con", "div.box_content h2", "h1"),
    "date": ("div.title_con span.date", "span.date"),
    "source": ("span.source",),
    "body": ("div.my_doccontent", "div.TRS_Editor", "div.box_content"),
}


@register(
    "mof",
    hosts=("www.mof.gov.cn", "mof.gov.cn", ".mof.gov.cn"),
    description="MOF and *.mof.gov.cn releases: metas, div.my_doccontent/.TRS_Editor",
    default_body="MOF",
)
def parse(page: Page) -> Fields:
    return standard_fields(page, SELECTORS, prefer_meta=True)
