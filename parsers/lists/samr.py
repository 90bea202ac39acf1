"""SAMR column lists (SITES §5): the same JPAAS scheme as MIIT, or a list already in the page.

Columns such as ``/zw/zfxxgk/fdzdgknr/<dept>/`` and ``/xw/zj/`` load their list from the
build API (``follow``); the fragment's items vary by column (``li.zjnav04Left02_content`` with
a ``.doctime`` cell, or a separate date ``li`` after the link's), so the fragment is read by
the generic JPAAS rule. 20 entries a page (guessed from public crawlers; the first page's
request fixes the size for all pages).
"""

from __future__ import annotations

from parsers.lists import jpaas
from parsers.lists.base import ListPage, ListSource, register
from parsers.lists.layouts import Layout

PAGE_SIZE = 20
_DATES = (".doctime", "span.fr", "span.date", ".date", "span")
COLUMN_LAYOUTS = (
    Layout(
        name="page-content",
        items="div.page-content ul > li",
        containers=("div.page-content",),
        dates=_DATES,
    ),
    Layout(
        name="Three_zhnlist_02",
        items="ul.Three_zhnlist_02 > li",
        containers=("ul.Three_zhnlist_02",),
        dates=_DATES,
    ),
)


@register(
    "samr",
    description="SAMR columns: buildstatic script -> JPAAS API, or a static div.page-content/ul.Three_zhnlist_02 list",
    page_url=jpaas.page_url_rule("samr", PAGE_SIZE),
)
def parse(src: ListSource) -> ListPage:
    return jpaas.parse(src, COLUMN_LAYOUTS, PAGE_SIZE)
