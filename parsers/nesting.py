"""A limit on how deeply an HTML page may nest its elements.

Real article pages nest a few dozen levels; a page nested thousands deep is broken or hostile,
and walking it recursively would end in a ``RecursionError`` instead of a clear message. Issue
and notice parsers both refuse such pages with the same ``ParseError``.
"""

from __future__ import annotations

from bs4 import BeautifulSoup, Tag

from parsers.errors import ParseError

__all__ = ["MAX_DEPTH", "check_nesting", "too_deep"]

MAX_DEPTH = 256  # the element walkers use two stack frames per level; Python allows 1,000


def too_deep(source: str) -> ParseError:
    return ParseError(
        source,
        f"expected an HTML page nested at most {MAX_DEPTH} elements deep, this one is deeper",
        hint="a saved page may be damaged; save it again from the browser",
    )


def check_nesting(root: BeautifulSoup | Tag, source: str) -> None:
    """Raise :func:`too_deep` when ``root`` nests elements deeper than :data:`MAX_DEPTH`."""
    level: list[Tag] = [root]
    for _ in range(MAX_DEPTH + 1):
        level = [child for tag in level for child in tag.contents if isinstance(child, Tag)]
        if not level:
            return
    raise too_deep(source)
