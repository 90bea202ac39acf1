"""MOFCOM lists (SITES §7): the new JPAAS columns and the legacy ``/article/`` lists.

New columns (``/zwgk/zcfb/``) load their list from the build API like MIIT; the fragment's
items are ``<a href title>…</a><span>[YYYY-MM-DD]</span>``. Legacy lists (``/article/b/``…)
hold ``.txtList_01 li`` with ``a[title]`` and a span date ``YYYY-MM-DD[ HH:mm:ss]``, or no span
and the date in the title as ``YYYY年M月D``; ``.listline`` separators are dropped.
"""

from __future__ import annotations

from parsers.lists import jpaas
from parsers.lists.base import ListPage, ListRequest, ListSource, register
from parsers.lists.layouts import Layout

PAGE_SIZE = 20
COLUMN_LAYOUTS = (
    Layout(
        name="txtList_01",
        items=".txtList_01 li",
        containers=(".txtList_01",),
        dates=("span",),
        drop=(".listline",),
    ),
    Layout(
        name="page-content",
        items="div.page-content ul > li",
        containers=("div.page-content",),
        dates=("span",),
    ),
)
_jpaas_pages = jpaas.page_url_rule("mofcom", PAGE_SIZE)


def page_url(first: str | ListRequest, n: int) -> str | ListRequest:
    """JPAAS columns page by ``paramJson``; the legacy ``/article/`` lists have one known page."""
    if isinstance(first, str) and "/article/" in first and n != 1:
        raise ValueError(f"mofcom: no page {n}: the paging of legacy /article/ lists is not known")
    return _jpaas_pages(first, n)


@register(
    "mofcom",
    description="MOFCOM: zwgk columns via the JPAAS API (a[title] + span [date]); legacy .txtList_01 li",
    page_url=page_url,
)
def parse(src: ListSource) -> ListPage:
    return jpaas.parse(src, COLUMN_LAYOUTS, PAGE_SIZE)
