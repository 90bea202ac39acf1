"""Page N of the static HTML lists: file names the CMS writes, and the page count it prints.

Page numbers start at 1 everywhere in this package; each scheme maps them to its own names.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

from parsers.lists.base import ListRequest, ListSource, PageUrl, check_page_number

# TRS sites print their pager from a script: createPageHTML(<page count>, <current index>, ...).
_CREATE_PAGE = re.compile(r"createPageHTML\(\s*['\"]?(?:[A-Za-z_][\w-]*['\"]?\s*,\s*)?(\d+)")


def trs_page_count(src: ListSource) -> int | None:
    """The page count a TRS pager script announces, if the page has one."""
    m = _CREATE_PAGE.search(src.text)
    return int(m.group(1)) if m and int(m.group(1)) > 0 else None


def _with_path(url: str, path: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def _directory(path: str) -> str:
    return path if path.endswith("/") else path.rsplit("/", 1)[0] + "/"


def numbered(site: str, stem: str, default_ext: str) -> PageUrl:
    """Page 1 is the first URL; page n is ``<dir>/<stem>_<n-1>.<ext>``.

    TRS lists (NDRC, MEE, MOF) are ``index.html``, ``index_1.html``, ...; gov.cn's are
    ``home_0.htm`` (also served as the directory and ``home.htm``), ``home_1.htm``, ... The first
    URL's extension is kept; a directory URL gets the site's usual one.
    """
    pattern = re.compile(rf"/{re.escape(stem)}(?:_(\d+))?\.(s?html?)$")

    def page_url(first: str | ListRequest, n: int) -> str | ListRequest:
        check_page_number(n)
        if isinstance(first, ListRequest):
            raise ValueError(f"{site}: lists are plain pages; pass the first page's URL")
        if n == 1:
            return first
        path = urlsplit(first).path or "/"
        m = pattern.search(path)
        ext = m.group(2) if m else default_ext
        return _with_path(first, f"{_directory(path)}{stem}_{n - 1}.{ext}")

    return page_url


_CAC_CHANNEL = re.compile(r"(A\w+?index_)(\d+)(\.html?)$")


def cac_page_url(first: str | ListRequest, n: int) -> str | ListRequest:
    """CAC channels: ``/<path>/A093702index_1.htm`` is page 1, ``..._<n>.htm`` page n."""
    check_page_number(n)
    if isinstance(first, ListRequest):
        raise ValueError("cac: lists are plain pages; pass the first page's URL")
    if n == 1:
        return first
    parts = urlsplit(first)
    if not _CAC_CHANNEL.search(parts.path):
        raise ValueError(
            f"cac: no page {n}: {first} is not a channel page like .../A093702index_1.htm"
        )
    return _with_path(first, _CAC_CHANNEL.sub(rf"\g<1>{n}\g<3>", parts.path))
