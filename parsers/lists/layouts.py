"""Reading entries out of an HTML list by a site's declared layout.

Each site declares where its list sits (``Layout``); this module does the reading the same way
for every site: link, title (the ``title`` attribute first, since list texts are often cut
with "..."), date (the date cell, else the item's other text, else the next sibling, as NDRC and
some SAMR columns put it there, else a date written in the title), and the rule that tells a
real empty list from a page whose layout changed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from bs4 import BeautifulSoup, Tag
from bs4.element import NavigableString

from parsers.lists.base import ListEntry, ListSource, list_date
from parsers.notices import common
from parsers.text import squash


@dataclass(frozen=True)
class Layout:
    """Where a list sits on a page.

    ``containers`` are the list's own elements: when one is present but holds no item, the list
    is really empty. A layout without containers never reports an empty list, so a page that
    lost its items fails loudly instead.
    """

    name: str
    items: str
    containers: tuple[str, ...] = ()
    link: str = "a[href]"
    dates: tuple[str, ...] = ()
    drop: tuple[str, ...] = ()

    def describe(self) -> str:
        where = " or ".join(self.containers) if self.containers else "the page"
        return f"{self.items} with {self.link} in {where}"


@dataclass
class Match:
    layout: Layout
    entries: list[ListEntry]


def read(
    src: ListSource,
    layouts: tuple[Layout, ...],
    *,
    root: BeautifulSoup | Tag | None = None,
    issuer: str | None = None,
) -> Match | None:
    """Entries by the first layout that fits ``root`` (the page by default), or None.

    A layout fits when it finds items with links (entries may still be empty if every link
    left the site), or when its container is there without items (a real empty list).
    """
    root = src.soup if root is None else root
    for layout in layouts:
        for selector in layout.drop:
            for tag in common.select(root, selector):
                tag.decompose()
        items = common.select(root, layout.items)
        linked = [(item, link) for item in items if (link := _link(item, layout))]
        if linked:
            entries = [_entry(src, item, link, layout, issuer) for item, link in linked]
            return Match(layout, [e for e in entries if e is not None])
        if not items and any(common.select(root, c) for c in layout.containers):
            return Match(layout, [])
    return None


def expected(layouts: tuple[Layout, ...]) -> str:
    """What the layouts look for, for the "layout may have changed" error."""
    return "a list (" + "; ".join(layout.describe() for layout in layouts) + ")"


def _link(item: Tag, layout: Layout) -> Tag | None:
    found = common.select(item, layout.link)
    return found[0] if found else None


def _entry(
    src: ListSource, item: Tag, link: Tag, layout: Layout, issuer: str | None
) -> ListEntry | None:
    title = str(link.get("title") or "").strip() or link.get_text("")
    return src.entry(title, str(link["href"]), item_date(item, link, layout), issuer=issuer)


def item_date(item: Tag, link: Tag, layout: Layout) -> dt.date | None:
    """The date cell, else the item's text outside the link, a date-only next sibling, the title."""
    for selector in layout.dates:
        for cell in common.select(item, selector):
            found = list_date(cell.get_text(" "))
            if found:
                return found
    sibling = item.find_next_sibling()
    # Only a date-only sibling counts: a next item's date is not this item's.
    beside = sibling.get_text(" ") if sibling and not sibling.find("a", href=True) else ""
    title = str(link.get("title") or "") + " " + link.get_text(" ")
    for text in (_text_outside(item, link), beside, title):
        found = list_date(text)
        if found:
            return found
    return None


def _text_outside(item: Tag, link: Tag) -> str:
    """The item's visible text that is not inside its link (where a date sits next to it)."""
    parts = [
        str(s)
        for s in item.find_all(string=True)
        if isinstance(s, NavigableString) and not any(p is link for p in s.parents)
    ]
    return squash(" ".join(parts))
