"""Parsers for the Chinese ministry notices a newsletter item links to (DESIGN 3.2).

One module per site registers itself in :data:`PARSERS`; :func:`parse_notice` picks the parser
by URL host (``generic`` for any other host) and never returns an empty ``ok`` notice: a page
whose layout no longer matches is an ``error`` notice naming the parser.
"""

from __future__ import annotations

from parsers.bodies import BodyIndex
from parsers.notices import cac, generic, govcn, mee, miit, mof, mofcom, ndrc, nea, samr  # noqa: F401  (register)
from parsers.notices.base import PARSERS, NoticeParser, Page, build_notice, error_notice
from parsers.notices.common import canonical_url, decode_html, host_of
from parsers.notices.mofcom import find_redirect
from parsers.notices.pdf import is_pdf, pdf_notice
from parsers.records import Notice

__all__ = [
    "PARSERS",
    "NoticeParser",
    "canonical_url",
    "find_redirect",
    "parse_notice",
    "site_for",
]

GENERIC = "generic"


def site_for(url: str) -> str | None:
    """The registered site whose hosts include the URL's (canonical) host, or None."""
    host = host_of(canonical_url(url))
    return next((p.name for p in PARSERS.values() if p.handles(host)), None)


def parse_notice(
    data: bytes | str,
    url: str,
    *,
    site: str | None = None,
    bodies: BodyIndex,
    encoding: str | None = None,
) -> Notice:
    """Parse one notice page; ``site`` overrides the choice by host (for saved files).

    Without ``site`` the URL's host decides, then a ``SiteDomain`` meta tag, then a site's
    layout markers (a saved gov.cn page: ``#UCAP-CONTENT``), then ``generic``. A PDF (a notice
    linked as a file) is read from its text layer. The one exception raised is ``ParseError``
    for a page nested too deeply to read (``parsers.nesting``); every other problem is a
    notice whose ``status`` says what went wrong.

    ``data`` is text already decoded, or bytes decoded with ``encoding`` when it is honest,
    else the page's meta charset, UTF-8 or GB18030.
    """
    if isinstance(data, bytes) and is_pdf(data):
        return pdf_notice(data, url, site or site_for(url) or GENERIC, bodies)
    html = data if isinstance(data, str) else decode_html(data, encoding)
    page = Page.from_html(html, url)
    name = site or site_for(url) or _site_from_meta(page) or _site_from_layout(page) or GENERIC
    parser = PARSERS.get(name)
    if parser is None:
        known = ", ".join(sorted(PARSERS))
        return error_notice(url, name, f"unknown notice parser {name!r}; known: {known}")
    return build_notice(parser, page, html, bodies)


def _site_from_meta(page: Page) -> str | None:
    """A saved page (no host to go by) often names its site in the ``SiteDomain`` meta tag."""
    domain = page.meta.get("sitedomain", "").strip().strip("/")
    return site_for(f"https://{domain}/") if domain and "/" not in domain else None


def _site_from_layout(page: Page) -> str | None:
    """The site whose layout markers the page carries (markers are specific to one site)."""
    return next((p.name for p in PARSERS.values() if p.markers and page.matches(p)), None)
