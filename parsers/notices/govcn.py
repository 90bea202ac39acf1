"""www.gov.cn policy documents (SITES §3): the ``table.bd1`` metadata block and ``#UCAP-CONTENT``."""

from __future__ import annotations

import re
from itertools import pairwise

from bs4 import Tag

from parsers.notices.base import Fields, Page, register, standard_fields
from parsers.text import squash

SELECTORS = {
    "title": ("div.share-title", "div.article h1", "h1"),
    "date": ("div.pages-date",),
    "source": ("span.font-zyygwj",),
    "body": ("#UCAP-CONTENT",),
    "metadata": ("table.bd1",),
}
# Keys of the metadata table once spaces, full-width spaces and colons are removed.
ISSUER, DOC_NUMBER, WRITTEN, PUBLISHED, TITLE = (
    "发文机关",
    "发文字号",
    "成文日期",
    "发布日期",
    "标题",
)
_KEY_NOISE = re.compile(r"[\s\u3000:：]+")


def metadata(table: Tag) -> dict[str, str]:
    """``<td><b>索 引 号：</b></td><td>value</td>`` pairs, keys normalised (SITES §3)."""
    cells = table.find_all(["td", "th"])
    found: dict[str, str] = {}
    for cell, value in pairwise(cells):
        raw = cell.get_text()
        if not re.search(r"[:：]\s*$", raw.strip()):
            continue
        key = _KEY_NOISE.sub("", raw)
        if key and key not in found:
            found[key] = squash(value.get_text(" "))
    return found


@register(
    "govcn",
    hosts=("www.gov.cn", "gov.cn"),
    description="gov.cn policy documents: table.bd1 (发文机关, 发文字号, 成文日期, 发布日期), #UCAP-CONTENT",
    markers=("#UCAP-CONTENT", "table.bd1"),
)
def parse(page: Page) -> Fields:
    fields = standard_fields(page, SELECTORS)
    table = page.tag_of(SELECTORS["metadata"])
    meta = metadata(table) if table else {}
    fields.title = meta.get(TITLE) or fields.title
    fields.issuer = meta.get(ISSUER) or fields.issuer
    fields.doc_number = meta.get(DOC_NUMBER) or None
    fields.published = meta.get(PUBLISHED) or fields.published or meta.get(WRITTEN)
    return fields
