"""The JPAAS CMS lists of MIIT, SAMR and the new MOFCOM site (SITES §2, §5, §7).

A column page holds no list but a ``<script parseType="buildstatic" url="/api-gateway/
jpaas-publish-server/front/page/build/unit" querydata="{...}">``. GET that URL with the
querydata as parameters and the column page as Referer; the answer is JSON ``{success, code,
data: {html}}`` whose ``html`` is the list fragment. Page N adds ``paramJson={"pageNo":N,
"pageSize":...}``; bare pageNo parameters are ignored by the server, which then always answers
page 1. MOFCOM and SAMR spell the parse type ``bulidstatic``: both spellings are accepted.
"""

from __future__ import annotations

import ast
import json
import math
import re
from collections.abc import Mapping
from typing import Any

from bs4 import BeautifulSoup, Tag

from parsers.lists.base import ListPage, ListRequest, ListSource, PageUrl, check_page_number
from parsers.lists.layouts import Layout, expected, read
from parsers.notices import common

UNIT_PATH = "/front/page/build/unit"
PARSE_TYPES = ("buildstatic", "bulidstatic")
MAX_QUERYDATA = 4000
# A page has several build scripts (menus, side boxes): the list's tagId names it.
_LIST_TAG = re.compile(r"列表|分页|内容")
_JS_LITERAL = re.compile(r"(?<=[:,\[])\s*(null|true|false)\s*(?=[,}\]])")
_PY_LITERAL = {"null": "None", "true": "True", "false": "False"}

# The fragment the API answers: the unit itself is the list, so any list item with a link is
# an entry; the pagination bar is read first and then dropped.
FRAGMENT = Layout(
    name="jpaas-fragment",
    items="li",
    containers=("div.page-content", "ul"),
    dates=("span.fr", ".doctime", "span.date", ".date", "span", ".time"),
    drop=("div.pagination", "form"),
)
PAGINATION = ("div.pagination[count]", "[count][rows]")


def parse(src: ListSource, column_layouts: tuple[Layout, ...], page_size: int) -> ListPage:
    """An API answer (JSON), a bare fragment, or a column page (static list, else ``follow``)."""
    if src.looks_like_json():
        return _parse_answer(src)
    match = read(src, column_layouts)
    if match and match.entries:
        return src.page(match.entries)
    request = build_request(src, page_size)
    if request:
        return src.page([], follow=request, page=1)
    if match:
        return src.page([])
    fragment = read(src, (FRAGMENT,)) if _is_fragment(src.soup) else None
    if fragment:
        return src.page(fragment.entries)
    raise src.error(f"a build script ({UNIT_PATH}) or " + expected(column_layouts), layout=True)


def _parse_answer(src: ListSource) -> ListPage:
    data = src.json()
    html = _fragment_html(data)
    if html is None:
        status = _status(data)
        raise src.error(f'a successful answer {{success: true, data: {{html: "..."}}}} ({status})')
    soup = common.soup_of(html)
    page, pages = pagination(soup)
    match = read(src, (FRAGMENT,), root=soup)
    if match is None:
        raise src.error("list items (li with a link) or an empty ul in data.html", layout=True)
    return src.page(match.entries, page=page, pages=pages)


def _fragment_html(data: Any) -> str | None:
    if not isinstance(data, Mapping) or data.get("success") is False:
        return None
    inner = data.get("data")
    html = inner.get("html") if isinstance(inner, Mapping) else None
    return html if isinstance(html, str) else None


def _status(data: Any) -> str:
    if not isinstance(data, Mapping):
        return f"got a JSON {type(data).__name__}"
    shown = {k: data.get(k) for k in ("success", "code", "message", "msg") if k in data}
    return f"got {json.dumps(shown, ensure_ascii=False)[:200]}"


def _is_fragment(soup: BeautifulSoup) -> bool:
    """A saved fragment has no page head: only then may any ``li`` count as an entry."""
    return soup.find("head") is None and soup.find("title") is None


def pagination(soup: BeautifulSoup | Tag) -> tuple[int | None, int | None]:
    """(page number, page count) from ``div.pagination`` (rows, count, pageno)."""
    bar = common.first_tag(soup, PAGINATION, min_text=0)
    if bar is None:
        return None, None
    rows, count, page = (_int(bar.get(k)) for k in ("rows", "count", "pageno"))
    pages = math.ceil(count / rows) if rows and count is not None else None
    return page, pages


def _int(value: Any) -> int | None:
    text = str(value or "").strip()
    return int(text) if text.isdigit() else None


# --- the column page's build script ----------------------------------------------------------


def build_request(src: ListSource, page_size: int) -> ListRequest | None:
    """Page 1 of the list behind a column page, or None if the page has no build script."""
    scripts = [s for s in src.soup.find_all("script") if _is_build_script(s)]
    queries = [(s, q) for s in scripts if (q := read_querydata(str(s.get("querydata"))))]
    if not queries:
        return None
    script, query = next(((s, q) for s, q in queries if _is_list(q)), queries[0])
    return ListRequest(
        url=src.absolute(str(script["url"])),
        params={**query, "paramJson": param_json(1, page_size)},
        headers={"Referer": src.url},
    )


def _is_build_script(script: Tag) -> bool:
    url, kind = str(script.get("url") or ""), str(script.get("parsetype") or "").lower()
    return bool(script.get("querydata")) and (UNIT_PATH in url or kind in PARSE_TYPES)


def _is_list(query: Mapping[str, str]) -> bool:
    return bool(_LIST_TAG.search(query.get("tagId", "")))


def read_querydata(raw: str) -> dict[str, str] | None:
    """The ``querydata`` attribute, a dict literal in single quotes, read without running code.

    JS literals (``null``, ``true``) are accepted; anything but a flat dict is refused, and so is
    an oversized value (``ast.literal_eval`` is safe from code but not from huge input).
    """
    if not raw or len(raw) > MAX_QUERYDATA:
        return None
    text = _JS_LITERAL.sub(lambda m: _PY_LITERAL[m.group(1)], raw.strip())
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    if not isinstance(value, dict) or not value:
        return None
    return {str(k): _param(v) for k, v in value.items()}


def _param(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def param_json(page: int, page_size: int) -> str:
    """``{"pageNo":N,"pageSize":"24"}``, the form the MIIT pages send (SITES §2)."""
    return json.dumps({"pageNo": page, "pageSize": str(page_size)}, separators=(",", ":"))


def page_url_rule(site: str, page_size: int) -> PageUrl:
    """Page N: the first page's API request with ``paramJson`` set to page N.

    A column URL only gives page 1 (the column page itself); later pages need the request
    that the column page's ``follow`` named.
    """

    def page_url(first: str | ListRequest, n: int) -> str | ListRequest:
        check_page_number(n)
        if isinstance(first, ListRequest):
            size = _page_size(first.params.get("paramJson"), page_size)
            return first.model_copy(
                update={"params": {**first.params, "paramJson": param_json(n, size)}}
            )
        if n == 1:
            return first
        raise ValueError(
            f"{site}: page {n} is an API request; pass the ListRequest from page 1's `follow`"
        )

    return page_url


def _page_size(raw: str | None, default: int) -> int:
    try:
        value = json.loads(raw or "{}").get("pageSize", default)
        return int(value)
    except (ValueError, AttributeError, TypeError):
        return default
