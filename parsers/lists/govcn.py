"""www.gov.cn policy lists (SITES §3): 最新政策 and the policy library's department lists.

``/zhengce/zuixin/`` pages ``home_0.htm`` … ``home_N.htm`` hold ``li > h4 > a`` plus
``span.date`` inside ``div.list``; the older zhengceku department lists use the same items
under ``.news_box .list``. The ``ZUIXINZHENGCE.json`` file next to the 最新政策 pages (objects
with TITLE, URL, DOCRELPUBTIME) is read too. Links may lead to any ``*.gov.cn`` host: the
policy library publishes the ministries' documents.
"""

from __future__ import annotations

from typing import Any

from parsers.lists.base import ListEntry, ListPage, ListRequest, ListSource, list_date, register
from parsers.lists.layouts import Layout, expected, read
from parsers.lists.paging import numbered, trs_page_count

LAYOUTS = (
    Layout(
        name="list",
        items=".list li",
        containers=(".list",),
        link="h4 a[href]",
        dates=("span.date", ".date"),
    ),
)
_home_pages = numbered("govcn", "home", "htm")


def page_url(first: str | ListRequest, n: int) -> str | ListRequest:
    """Page n is ``home_<n-1>.htm`` next to the first page; the JSON file has one page."""
    if isinstance(first, str) and first.lower().endswith(".json") and n != 1:
        raise ValueError(f"govcn: no page {n}: the JSON list is a single file")
    return _home_pages(first, n)


@register(
    "govcn",
    description="gov.cn 最新政策 home_N.htm and zhengceku lists: .list li > h4 > a + span.date; ZUIXINZHENGCE.json",
    page_url=page_url,
)
def parse(src: ListSource) -> ListPage:
    if src.looks_like_json():
        return _parse_json(src)
    match = read(src, LAYOUTS)
    if match is None:
        raise src.error(expected(LAYOUTS), layout=True)
    return src.page(match.entries, pages=trs_page_count(src))


def _parse_json(src: ListSource) -> ListPage:
    data = src.json()
    if not isinstance(data, list):
        raise src.error("a JSON array of {TITLE, URL, DOCRELPUBTIME} objects", layout=True)
    entries = [_json_entry(src, row) for row in data if isinstance(row, dict)]
    if data and not any(isinstance(row, dict) and _field(row, "URL") for row in data):
        raise src.error("objects with a URL field", layout=True)
    return src.page([e for e in entries if e is not None])


def _field(row: dict[str, Any], name: str) -> str:
    value = row.get(name, row.get(name.lower()))
    return str(value) if value is not None else ""


def _json_entry(src: ListSource, row: dict[str, Any]) -> ListEntry | None:
    published = list_date(_field(row, "DOCRELPUBTIME") or _field(row, "PUBTIME"))
    return src.entry(_field(row, "TITLE"), _field(row, "URL"), published)
