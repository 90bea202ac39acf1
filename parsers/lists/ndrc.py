"""NDRC lists (SITES §6): ``ul.u-list li a`` with the title attribute, date ``YYYY/MM/DD`` next to it.

hrefs are relative (``./202502/t20250209_1396066.html``, ``../../../xwdt/...``) and resolve
against the page. The zfxxgk disclosure list (``div.zwxxkg-result tr``, ``a.xxgk_list1``, date in
the last cell) is read too. Pages: ``index.html``, ``index_1.html``, ...
"""

from __future__ import annotations

from parsers.lists.base import ListPage, ListSource, register
from parsers.lists.layouts import Layout, expected, read
from parsers.lists.paging import numbered, trs_page_count

LAYOUTS = (
    Layout(name="u-list", items="ul.u-list > li", containers=("ul.u-list",), dates=("span",)),
    Layout(
        name="zfxxgk",
        items="div.zwxxkg-result tr",
        containers=("div.zwxxkg-result",),
        link="a.xxgk_list1[href]",
        dates=("td:last-child",),
    ),
)


@register(
    "ndrc",
    description="NDRC: ul.u-list li a[title] + YYYY/MM/DD sibling; zfxxgk div.zwxxkg-result tr",
    page_url=numbered("ndrc", "index", "html"),
)
def parse(src: ListSource) -> ListPage:
    match = read(src, LAYOUTS)
    if match is None:
        raise src.error(expected(LAYOUTS), layout=True)
    return src.page(match.entries, pages=trs_page_count(src))
