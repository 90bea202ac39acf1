"""CAC channel lists (SITES §4): ``div#loadingInfoPage li`` with an ``a`` (inside ``h5`` on some
channels) and a ``.times`` date; older ``More.htm`` pages have the same items in
``.xpage-container``. Channel pages are ``/<path>/A<code>index_<n>.htm``, page 1 being ``_1``.
"""

from __future__ import annotations

from parsers.lists.base import ListPage, ListSource, register
from parsers.lists.layouts import Layout, expected, read
from parsers.lists.paging import cac_page_url

LAYOUTS = (
    Layout(
        name="loadingInfoPage",
        items="#loadingInfoPage li",
        containers=("#loadingInfoPage",),
        dates=(".times",),
    ),
)


@register(
    "cac",
    description="CAC channels A<code>index_<n>.htm: div#loadingInfoPage li, a + .times",
    page_url=cac_page_url,
)
def parse(src: ListSource) -> ListPage:
    match = read(src, LAYOUTS)
    if match is None:
        raise src.error(expected(LAYOUTS), layout=True)
    return src.page(match.entries)
