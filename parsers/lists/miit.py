"""MIIT column lists (SITES §2): a column page names the JPAAS API call that loads its list.

Column pages (``/zwgk/zcwj/wjfb/tz/index.html``, ``/jgsj/<dept>/wjfb/index.html``,
``/gzcy/yjzj/index.html``) give ``follow``; the API answer's fragment holds
``div.page-content > ul > li.cf`` with ``a.fl`` (title attribute, href) and ``span.fr``
(YYYY-MM-DD), and ``div.pagination`` (rows, count, pageno). 24 entries a page.
"""

from __future__ import annotations

from parsers.lists import jpaas
from parsers.lists.base import ListPage, ListSource, register
from parsers.lists.layouts import Layout

PAGE_SIZE = 24
COLUMN_LAYOUTS = (
    Layout(
        name="page-content",
        items="div.page-content > ul > li",
        containers=("div.page-content",),
        link="a[href]",
        dates=("span.fr",),
    ),
)


@register(
    "miit",
    description="MIIT columns: buildstatic script -> JPAAS API; div.page-content li.cf, a.fl[title], span.fr",
    page_url=jpaas.page_url_rule("miit", PAGE_SIZE),
)
def parse(src: ListSource) -> ListPage:
    return jpaas.parse(src, COLUMN_LAYOUTS, PAGE_SIZE)
