"""Synthetic ministry sites that publish notices over time, for tests, the demo and benchmarks.

``MinistrySite(root, server)`` serves, through the loopback host map (``root/<host>/<path>``):

* MIIT's 通知 column: a column page whose list comes from the JPAAS API (a ``buildstatic``
  script naming the request), answered by a route from what was published so far, newest
  first, 24 a page;
* gov.cn's 最新政策 list (``home_0.htm``, newest first) of the documents published there;
* each notice on its site's real path and in its layout (title, 文号, issuer, date, body).

``publish(...)`` adds a notice and rewrites the lists, so a test or a simulated month can make
documents appear between runs. All text is generated.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from policywatch.devtools.loopback import LoopbackServer, Reply, Request

__all__ = ["GOVCN_LIST", "MIIT_API", "MIIT_COLUMN", "MinistrySite", "Published"]

MIIT_COLUMN = "https://www.miit.gov.cn/zwgk/zcwj/wjfb/tz/index.html"
MIIT_API = "/www.miit.gov.cn/api-gateway/jpaas-publish-server/front/page/build/unit"
GOVCN_LIST = "https://www.gov.cn/zhengce/zuixin/home_0.htm"
PAGE_SIZE = 24
Site = Literal["miit", "govcn"]
_ISSUER = {"miit": ("工业和信息化部", "MIIT"), "govcn": ("国务院", "State Council")}


@dataclass
class Published:
    site: Site
    url: str
    title: str
    doc_number: str | None
    day: dt.date


@dataclass
class MinistrySite:
    root: Path
    server: LoopbackServer
    published: list[Published] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _count: int = 0

    def __post_init__(self) -> None:
        self.server.routes[MIIT_API] = self._miit_api
        self._write(MIIT_COLUMN, _miit_column())
        self._write_govcn_list()

    def miit_column(self, url: str) -> None:
        """Another MIIT column page at ``url``; its list comes from the same API route, so it
        lists the same documents (one document filed under two columns)."""
        self._write(url, _miit_column())

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
    ) -> Published:
        """Put a notice on ``site`` (and at the top of its list); returns what was published."""
        with self._lock:
            self._count += 1
            n = self._count
        url = url or _notice_url(site, n, day)
        name = issuer or _ISSUER[site][0]
        text = (
            body or f"为推进相关工作，现将有关事项通知如下。第{n}号合成文本，请各地认真贯彻落实。"
        )
        self._write(url, _notice_page(site, title, doc_number, name, day, text))
        item = Published(site, url, title, doc_number, day)
        with self._lock:
            self.published.insert(0, item)
        if site == "govcn":
            self._write_govcn_list()
        return item

    def _write(self, url: str, text: str) -> None:
        path = self.root / url.split("://", 1)[1]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")

    def _entries(self, site: Site) -> list[Published]:
        with self._lock:
            return [p for p in self.published if p.site == site]

    def _miit_api(self, request: Request) -> Reply:
        page = 1
        raw = (request.query.get("paramJson") or ["{}"])[0]
        try:
            page = int(json.loads(raw).get("pageNo", 1))
        except (ValueError, AttributeError):
            page = 1
        entries = self._entries("miit")
        shown = entries[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        body = {
            "success": True,
            "code": 200,
            "data": {"html": _miit_fragment(shown, page, len(entries))},
        }
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        etag = f'"miit-{len(entries)}-{page}"'
        if request.headers.get("if-none-match") == etag:
            return Reply(304, {"ETag": etag}, b"")
        return Reply(200, {"Content-Type": "application/json", "ETag": etag}, data)

    def _write_govcn_list(self) -> None:
        rows = "".join(
            f'<li><h4><a href="{html.escape(_relative(p.url))}" target="_blank">'
            f'{html.escape(p.title)}</a><span class="date">{p.day}</span></h4></li>'
            for p in self._entries("govcn")
        )
        self._write(GOVCN_LIST, (
            '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
            "<title>最新政策_中国政府网</title></head><body><div class=\"main\"><div class=\"news_box\">"
            f'<div class="list list_1 list_2"><ul>{rows}</ul></div></div></div></body></html>'
        ))  # fmt: skip


def _relative(url: str) -> str:
    """gov.cn's list links are relative: ``../zhengceku/202409/content_1.htm``."""
    return "../" + url.split("/zhengce/", 1)[1]


def _notice_url(site: Site, n: int, day: dt.date) -> str:
    if site == "miit":
        return f"https://www.miit.gov.cn/zwgk/zcwj/wjfb/tz/art/{day.year}/art_{n:032x}.html"
    return f"https://www.gov.cn/zhengce/zhengceku/{day:%Y%m}/content_{7200000 + n}.htm"


def _miit_column() -> str:
    query = (
        "{'parseType':'buildstatic','webId':'8d828e408d90447786ddbe128d495e9e',"
        "'tplSetId':'209741b2109044b5b7695700b2bec37e','pageType':'column',"
        "'tagId':'当前栏目_list','editType':'null','pageId':'5b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e'}"
    )
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        '<meta name="SiteIDCode" content="bm07000001"><title>通知</title></head><body>'
        '<div class="lmy_main"><div class="clist_con"><div id="当前栏目_list">'
        '<script src="/cms_files/default/script/AuthorizedRead/unitbuild.js" '
        'parseType="buildstatic" url="/api-gateway/jpaas-publish-server/front/page/build/unit" '
        f'queryData="{query}"></script></div></div></div></body></html>'
    )


def _miit_fragment(entries: list[Published], page: int, total: int) -> str:
    rows = "".join(
        f'<li class="cf"><a class="fl" href="{html.escape(p.url.removeprefix("https://www.miit.gov.cn"))}"'
        f' title="{html.escape(p.title)}">{html.escape(p.title[:30])}</a>'
        f'<span class="fr">{p.day}</span></li>'
        for p in entries
    )
    pages = f'<div class="pagination" rows="{PAGE_SIZE}" count="{total}" pageno="{page}"></div>'
    return f'<div id="当前栏目_list" class="clist_con"><div class="page-content"><ul>{rows}</ul></div>{pages}</div>'


def _notice_page(
    site: Site, title: str, number: str | None, issuer: str, day: dt.date, body: str
) -> str:
    t, n, who = html.escape(title), html.escape(number or ""), html.escape(issuer)
    paragraphs = f"<p>{n}</p>" if number else ""
    paragraphs += "".join(f"<p>{html.escape(line)}</p>" for line in body.splitlines() if line)
    if site == "govcn":
        return (
            '<!DOCTYPE html><html><head><meta charset="utf-8">'
            f'<title>{t}_中国政府网</title></head><body><table class="bd1">'
            f"<tr><td><b>发文机关：</b></td><td>{who}</td></tr>"
            f"<tr><td><b>标　　题：</b></td><td>{t}</td></tr>"
            f"<tr><td><b>发文字号：</b></td><td>{n}</td><td><b>发布日期：</b></td>"
            f"<td>{day.year}年{day.month:02d}月{day.day:02d}日</td></tr></table>"
            f'<div class="share-title">{t}</div><div id="UCAP-CONTENT">'
            f'<div class="trs_editor_view TRS_UEDITOR">{paragraphs}</div></div></body></html>'
        )
    stamp = f"{day:%Y-%m-%d} 10:00"
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        '<meta name="SiteIDCode" content="bm07000001">'
        f'<meta name="ArticleTitle" content="{t}"><meta name="PubDate" content="{stamp}">'
        f"<title>{t}</title></head><body>"
        f'<div class="ctitle"><h1 id="con_title">{t}</h1></div>'
        f'<div class="cinfo center"><span id="con_time">发布时间：{stamp}</span> '
        f'<span>来源：{who}</span></div><div id="con_con" class="ccontent center">'
        f"{paragraphs}</div></body></html>"
    )
