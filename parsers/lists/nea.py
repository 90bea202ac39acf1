"""NEA bureau lists (SITES §10): the bureau page names a JSON data source that holds the list.

``/sjzz/<bureau>/index.htm`` carries ``ul#showData0[data="...:<id>"]``; the list is
``ds_<id>.json`` next to the page (``follow``), a ``datasource`` array of objects with
``title``/``showTitle`` (may contain HTML), ``publishUrl``, ``publishTime``, ``summary`` and
``sourceText`` (the issuing department). The file is the whole list: there are no pages.
"""

from __future__ import annotations

from typing import Any

from parsers.lists.base import (
    ListEntry,
    ListPage,
    ListRequest,
    ListSource,
    list_date,
    register,
    single_page,
)
from parsers.notices import common
from parsers.text import squash

DATA_LIST = "ul#showData0[data]"


@register(
    "nea",
    description="NEA /sjzz/<bureau>/: ul#showData0[data=...:<id>] -> ds_<id>.json datasource[]",
    page_url=single_page("nea", "the ds_<id>.json file holds the whole list"),
)
def parse(src: ListSource) -> ListPage:
    if src.looks_like_json():
        return _parse_data_source(src)
    holder = common.first_tag(src.soup, (DATA_LIST,), min_text=0)
    source_id = str(holder.get("data") or "").rsplit(":", 1)[-1].strip() if holder else ""
    if not source_id or not source_id.replace("_", "").replace("-", "").isalnum():
        raise src.error(f'{DATA_LIST} naming a data source (data="...:<id>")', layout=True)
    request = ListRequest(url=src.absolute(f"ds_{source_id}.json"), headers={"Referer": src.url})
    return src.page([], follow=request)


def _parse_data_source(src: ListSource) -> ListPage:
    data = src.json()
    rows = data.get("datasource") if isinstance(data, dict) else None
    if not isinstance(rows, list):
        raise src.error('a JSON object with a "datasource" array', layout=True)
    entries = [_entry(src, row) for row in rows if isinstance(row, dict)]
    if rows and not any(isinstance(r, dict) and r.get("publishUrl") for r in rows):
        raise src.error("datasource objects with publishUrl", layout=True)
    return src.page([e for e in entries if e is not None])


def _plain(value: Any) -> str:
    """Text of a field that may hold HTML (``<font color=red>``): tags dropped, not spaced."""
    text = str(value or "")
    return squash(common.soup_of(text).get_text("")) if "<" in text else squash(text)


def _entry(src: ListSource, row: dict[str, Any]) -> ListEntry | None:
    return src.entry(
        _plain(row.get("title")) or _plain(row.get("showTitle")),
        str(row.get("publishUrl") or ""),
        list_date(str(row.get("publishTime") or "")),
        issuer=_plain(row.get("sourceText")),
        summary=_plain(row.get("summary")),
    )
