"""MEE policy-file lists (SITES §8): ``/zcwj/<cat>/`` pages, every ``li`` that has a ``.date``.

The list's container is not documented, so a page without dated items is always a layout
failure (an MEE list is never empty in practice). Pages: ``index.shtml``, ``index_1.shtml``, ...
(the ``.shtml`` extension of a directory URL is a guess from the detail pages).
"""

from __future__ import annotations

from parsers.lists.base import ListPage, ListSource, register
from parsers.lists.layouts import Layout, expected, read
from parsers.lists.paging import numbered, trs_page_count

LAYOUTS = (Layout(name="dated-li", items="li:has(.date)", dates=(".date",)),)


@register(
    "mee",
    description="MEE /zcwj/<cat>/: li:has(.date), a[href] + .date",
    page_url=numbered("mee", "index", "shtml"),
)
def parse(src: ListSource) -> ListPage:
    match = read(src, LAYOUTS)
    if match is None:
        raise src.error(expected(LAYOUTS), layout=True)
    return src.page(match.entries, pages=trs_page_count(src))
