"""MOF lists (SITES §9): ``ul.liBox li`` with ``a[title]`` and a span date, on www.mof.gov.cn
and the department subdomains (``gss.mof.gov.cn/gzdt/zhengcefabu/``). The department's name in
``div.zzName`` becomes each entry's issuer. Pages: ``index.htm``, ``index_1.htm``, ...
"""

from __future__ import annotations

from parsers.lists.base import ListPage, ListSource, register
from parsers.lists.layouts import Layout, expected, read
from parsers.lists.paging import numbered, trs_page_count
from parsers.notices import common

LAYOUTS = (Layout(name="liBox", items="ul.liBox > li", containers=("ul.liBox",), dates=("span",)),)
DEPARTMENT = ("div.zzName",)


@register(
    "mof",
    description="MOF and *.mof.gov.cn: ul.liBox li, a[title] + span date; issuer from div.zzName",
    page_url=numbered("mof", "index", "htm"),
)
def parse(src: ListSource) -> ListPage:
    issuer = common.first_text(src.soup, DEPARTMENT)
    match = read(src, LAYOUTS, issuer=issuer)
    if match is None:
        raise src.error(expected(LAYOUTS), layout=True)
    return src.page(match.entries, pages=trs_page_count(src))
