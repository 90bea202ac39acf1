"""Synthetic ministry sites that publish notices over time, for tests, the demo and benchmarks.

``MinistrySite(root, server)`` serves the column lists of the nine ministry sites a ``ministry``
source reads (gov.cn, MIIT, NDRC, MOFCOM, CAC, SAMR, MEE, MOF, NEA), through the loopback host map
(``root/<host>/<path>``), each in its real form (SITES.md §2-§10):

* static lists (gov.cn ``home_N.htm``, NDRC/MEE/MOF ``index_N``, CAC ``A093702index_N.htm``),
  rewritten on every publication, newest first, with the site's pager;
* two-step lists: MIIT's, SAMR's and MOFCOM's column pages name the JPAAS API request, answered
  by a route page by page (``paramJson``); NEA's bureau page names ``ds_<id>.json``, answered
  by a route; both with an ETag, so a conditional request of an unchanged list is a 304;
* each notice on its site's real path and in its layout (title, 文号, issuer, date, body), read
  by the site's notice parser.

``publish(...)`` adds a notice and rewrites its site's list, so a test or a simulated month can
make documents appear between runs. ``LIST_URLS`` (and :func:`source_configs`) name each site's
list URL for configs. All text is generated.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from policywatch.devtools import ministrypages as pages
from policywatch.devtools.loopback import LoopbackServer, Reply, Request
from policywatch.devtools.ministrypages import SITES, Entry, Site

__all__ = [
    "GOVCN_LIST",
    "LIST_URLS",
    "MIIT_API",
    "MIIT_COLUMN",
    "SITE_NAMES",
    "MinistrySite",
    "Published",
    "Site",
    "source_configs",
]

LIST_URLS: dict[Site, str] = {site: spec.list_url for site, spec in SITES.items()}
SITE_NAMES: tuple[Site, ...] = tuple(SITES)
MIIT_COLUMN = LIST_URLS["miit"]
GOVCN_LIST = LIST_URLS["govcn"]
MIIT_API = "/www.miit.gov.cn" + pages.JPAAS_PATH
PAGE_SIZE = SITES["miit"].page_size  # MIIT's API pages (kept for callers)


def source_configs(sites: Iterable[Site] = SITE_NAMES) -> list[dict[str, Any]]:
    """``sources:`` entries of type ministry for these sites, named ``<site>-list``."""
    return [
        {"name": f"{s}-list", "type": "ministry", "site": s, "list_urls": [LIST_URLS[s]]}
        for s in sites
    ]


@dataclass
class Published:
    site: Site
    url: str
    title: str
    doc_number: str | None
    day: dt.date
    issuer: str = ""


@dataclass
class MinistrySite:
    root: Path
    server: LoopbackServer
    published: list[Published] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _count: int = 0

    def __post_init__(self) -> None:
        for site, spec in SITES.items():
            if spec.kind == "jpaas":
                host = _host(spec.list_url)
                self.server.routes[f"/{host}{pages.JPAAS_PATH}"] = self._jpaas(site)
            if spec.kind != "static":
                self._write(spec.list_url, pages.column_page(site))
            else:
                self._write_list(site)
        data = _directory(LIST_URLS["nea"]) + f"ds_{pages.NEA_SOURCE}.json"
        self.server.routes["/" + data.split("://", 1)[1]] = self._nea

    def miit_column(self, url: str) -> None:
        """Another MIIT column page at ``url``; its list comes from the same API route, so it
        lists the same documents (one document filed under two columns)."""
        self._write(url, pages.column_page("miit"))

    def publish(
        self,
        site: Site,
        title: str,
        *,
        day: dt.date,
        doc_number: str | None = None,
        body: str = "",
        issuer: str | None = None,
        url: str | None = None,
        at: dt.time = dt.time(10, 0),
    ) -> Published:
        """Put a notice on ``site`` (and at the top of its list); returns what was published.

        ``day`` and ``at`` are the Beijing date and time the notice page shows.
        """
        with self._lock:
            self._count += 1
            n = self._count
        url = url or pages.notice_url(site, n, day)
        name = issuer or SITES[site].issuer
        text = (
            body or f"为推进相关工作，现将有关事项通知如下。第{n}号合成文本，请各地认真贯彻落实。"
        )
        when = dt.datetime.combine(day, at)
        self._write(url, pages.notice_page(site, title, doc_number, name, when, text))
        item = Published(site, url, title, doc_number, day, name)
        with self._lock:
            self.published.insert(0, item)
        if SITES[site].kind == "static":
            self._write_list(site)
        return item

    def entries(self, site: Site) -> list[Entry]:
        """What ``site``'s list shows now, newest first."""
        with self._lock:
            return [Entry(p.url, p.title, p.day) for p in self.published if p.site == site]

    # -- files --------------------------------------------------------------------------------

    def _write(self, url: str, text: str) -> None:
        """Atomically: the server may be reading the old version while a run is going on."""
        path = self.root / url.split("://", 1)[1]
        if url.endswith("/"):
            path = path / "index.html"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)

    def _write_list(self, site: Site) -> None:
        entries, size = self.entries(site), SITES[site].page_size
        count = max(1, math.ceil(len(entries) / size))
        for page in range(1, count + 1):
            url = _static_page_url(site, page)
            shown = entries[(page - 1) * size : page * size]
            self._write(url, pages.list_page(site, shown, page, count, url))

    # -- routes -------------------------------------------------------------------------------

    def _jpaas(self, site: Site) -> Any:
        def answer(request: Request) -> Reply:
            page, size = _page_of(request, SITES[site].page_size)
            entries = self.entries(site)
            shown = entries[(page - 1) * size : page * size]
            return _json_reply(request, pages.jpaas_answer(site, shown, page, size, len(entries)))

        return answer

    def _nea(self, request: Request) -> Reply:
        return _json_reply(request, pages.nea_data(self.entries("nea"), SITES["nea"].issuer))


def _host(url: str) -> str:
    return url.split("://", 1)[1].split("/", 1)[0]


def _directory(url: str) -> str:
    return url.rsplit("/", 1)[0] + "/"


def _static_page_url(site: Site, page: int) -> str:
    """Page ``page`` of a static list, by the site's file names (``parsers.lists.page_url``)."""
    first = LIST_URLS[site]
    if page == 1:
        return first
    folder = _directory(first)
    return {
        "govcn": f"{folder}home_{page - 1}.htm",
        "ndrc": f"{folder}index_{page - 1}.html",
        "cac": f"{folder}A093702index_{page}.htm",
        "mee": f"{folder}index_{page - 1}.shtml",
        "mof": f"{folder}index_{page - 1}.htm",
    }[site]


def _page_of(request: Request, default_size: int) -> tuple[int, int]:
    """(page, size) from ``paramJson={"pageNo":N,"pageSize":"24"}``; page 1 otherwise."""
    raw = (request.query.get("paramJson") or ["{}"])[0]
    try:
        data = json.loads(raw)
        return max(1, int(data.get("pageNo", 1))), max(1, int(data.get("pageSize", default_size)))
    except (ValueError, AttributeError, TypeError):
        return 1, default_size


def _json_reply(request: Request, data: bytes) -> Reply:
    etag = '"' + hashlib.sha1(data, usedforsecurity=False).hexdigest()[:16] + '"'
    if request.headers.get("if-none-match") == etag:
        return Reply(304, {"ETag": etag}, b"")
    return Reply(200, {"Content-Type": "application/json", "ETag": etag}, data)
