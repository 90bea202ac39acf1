"""Parsers for the ministries' own list pages (issue "Watch the ministries directly").

One module per site registers itself in :data:`LIST_PARSERS`. :func:`parse_list` reads one
fetched page (HTML, or the JSON an API answers) and returns a :class:`ListPage`: its entries,
newest first as the site lists them, or for a two-step site (MIIT, SAMR and MOFCOM columns,
NEA bureau pages) the :class:`ListRequest` to make instead. :func:`page_url` gives page N.
Pure: the caller fetches, these only read.

Errors: :class:`BlockedListError` for a challenge page (record the source as blocked), and
``ParseError`` naming the site and the selectors when no list is found (the layout may have
changed). A list that is really empty (its container is there) is zero entries, not an error.
"""

from __future__ import annotations

from parsers.lists import cac, govcn, mee, miit, mof, mofcom, ndrc, nea, samr  # noqa: F401  (register)
from parsers.lists.base import (
    LIST_PARSERS,
    BlockedListError,
    ListEntry,
    ListPage,
    ListParser,
    ListRequest,
    ListSource,
)
from parsers.notices.common import canonical_url, decode_html

__all__ = [
    "LIST_PARSERS",
    "BlockedListError",
    "ListEntry",
    "ListPage",
    "ListParser",
    "ListRequest",
    "page_url",
    "parse_list",
]


def _parser(site: str) -> ListParser:
    parser = LIST_PARSERS.get(site)
    if parser is None:
        known = ", ".join(sorted(LIST_PARSERS))
        raise ValueError(f"unknown list site {site!r}; known: {known}")
    return parser


def parse_list(
    site: str, content: bytes | str, url: str, *, encoding: str | None = None
) -> ListPage:
    """Parse one list page or API answer of ``site`` fetched from ``url``.

    ``content`` is text, or bytes decoded by the project's charset rules (valid UTF-8, then
    ``encoding`` from the HTTP header when it decodes them, then ``<meta charset>``, GB18030).
    Raises BlockedListError (a challenge page) or ParseError (no list found); ValueError for
    an unknown site.
    """
    parser = _parser(site)
    text = content if isinstance(content, str) else decode_html(content, encoding)
    return parser.parse(ListSource(site=site, url=canonical_url(url), text=text))


def page_url(site: str, first: str | ListRequest, n: int) -> str | ListRequest:
    """Page ``n`` (1 = the first page) of the list whose first page is ``first``.

    ``first`` is the first page's URL, or for JPAAS sites the ``follow`` request that page 1
    named (later pages are API requests). Raises ValueError when the site has no page ``n``
    or cannot page from ``first``.
    """
    return _parser(site).page_url(first, n)
