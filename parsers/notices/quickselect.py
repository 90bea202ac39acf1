"""The site parsers' simple CSS selectors answered from an index of the page, not by soupsieve.

Nearly every selector the site modules use is ``tag``, ``#id``, ``.class`` or a compound of them
(``div.article``), possibly under an ancestor (``div.article h1``). soupsieve, pure Python, walks
the whole tree once per selector tried: a third of a notice's parse time. The page is walked
once instead, its elements filed by id, class and tag name, and such selectors become dictionary
lookups. Anything else (attributes, ``>``, pseudo-classes) goes to soupsieve as before, and the
answers are the same either way: the elements, in document order.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from typing import NamedTuple

import soupsieve
from bs4 import BeautifulSoup, Tag

__all__ = ["PageIndex", "parse_selector"]

_COMPOUND = re.compile(r"(?P<name>[a-z][a-z0-9]*)?(?P<rest>(?:[#.][A-Za-z_][\w-]*)*)")
_PART = re.compile(r"([#.])([A-Za-z_][\w-]*)")


class Compound(NamedTuple):
    """``div#main.a.b``: a tag name, an id and classes, any of them absent."""

    name: str | None
    id: str | None
    classes: tuple[str, ...]

    def matches(self, tag: Tag) -> bool:
        if self.name is not None and tag.name != self.name:
            return False
        if self.id is not None and tag.get("id") != self.id:
            return False
        if self.classes:
            have = _classes(tag)
            return all(c in have for c in self.classes)
        return True


def _classes(tag: Tag) -> list[str]:
    value = tag.get("class")
    if isinstance(value, str):  # a soup built without multi-valued attributes
        return value.split()
    return list(value) if value else []


@functools.cache
def parse_selector(selector: str) -> tuple[Compound, ...] | None:
    """``div.article h1`` -> its compounds, outermost first; None when it is not that simple."""
    chain: list[Compound] = []
    for word in selector.split():
        m = _COMPOUND.fullmatch(word)
        if not m:
            return None
        parts = _PART.findall(m.group("rest"))
        ids = [v for kind, v in parts if kind == "#"]
        if len(ids) > 1:
            return None
        chain.append(
            Compound(
                m.group("name"), ids[0] if ids else None, tuple(v for k, v in parts if k == ".")
            )
        )
    return tuple(chain) or None


class PageIndex:
    """The elements of a page by id, class and tag name, each list in document order.

    Elements taken out of the page after it was indexed (``decompose``, ``extract``) are
    skipped when found.
    """

    def __init__(self, root: BeautifulSoup | Tag) -> None:
        self._root = root
        self._by_id: dict[str, list[Tag]] = {}
        self._by_class: dict[str, list[Tag]] = {}
        self._by_name: dict[str, list[Tag]] = {}
        for tag in root.descendants:
            if not isinstance(tag, Tag):
                continue
            self._by_name.setdefault(tag.name, []).append(tag)
            ident = tag.get("id")
            if isinstance(ident, str):
                self._by_id.setdefault(ident, []).append(tag)
            for name in dict.fromkeys(_classes(tag)):  # class="a a" is filed once
                self._by_class.setdefault(name, []).append(tag)

    def select(self, selector: str) -> Iterator[Tag]:
        """What ``soupsieve.iselect(selector, root)`` yields, in document order."""
        chain = parse_selector(selector)
        if chain is None:
            yield from soupsieve.iselect(selector, self._root)
            return
        last, outer = chain[-1], chain[:-1]
        for tag in self._candidates(last):
            if not tag.decomposed and last.matches(tag) and _placed(tag, outer, self._root):
                yield tag

    def named(self, names: tuple[str, ...]) -> list[Tag]:
        """The elements with these tag names still in the page, without the ancestor walk of
        ``select``: for a caller that only decomposes elements or replaces leaf elements."""
        return [
            tag
            for name in names
            for tag in self._by_name.get(name, ())
            if not tag.decomposed and tag.parent is not None
        ]

    def _candidates(self, compound: Compound) -> list[Tag]:
        if compound.id is not None:
            return self._by_id.get(compound.id, [])
        if compound.classes:
            return self._by_class.get(compound.classes[0], [])
        if compound.name is not None:
            return self._by_name.get(compound.name, [])
        return []


def _placed(tag: Tag, outer: tuple[Compound, ...], root: Tag) -> bool:
    """``tag`` is still under ``root`` and has ancestors matching ``outer`` (outermost first;
    as in soupsieve they may be above ``root``). The nearest match of each step is taken: it
    leaves the most ancestors for the steps above it."""
    step, inside, node = len(outer) - 1, False, tag.parent
    while node is not None:
        if node is root:
            inside = True
        if step >= 0 and outer[step].matches(node):
            step -= 1
        if inside and step < 0:
            return True
        node = node.parent
    return False
