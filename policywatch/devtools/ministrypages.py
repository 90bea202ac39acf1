"""The markup of the synthetic ministry sites: each site's list and notice pages in the layout its
parser in ``parsers/lists`` and ``parsers/notices`` reads (SITES.md §2-§10).

Pure text builders; :mod:`policywatch.devtools.ministrysite` decides what is published and serves
it. All text is generated.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "SITES",
    "Entry",
    "Site",
    "SiteSpec",
    "column_page",
    "jpaas_answer",
    "list_page",
    "nea_data",
    "notice_page",
    "notice_url",
]

Site = Literal["govcn", "miit", "ndrc", "mofcom", "cac", "samr", "mee", "mof", "nea"]
JPAAS_PATH = "/api-gateway/jpaas-publish-server/front/page/build/unit"
NEA_SOURCE = "5e1d9c3b7a2f4e608d1c2b3a4f5e6d7c"


@dataclass(frozen=True)
class SiteSpec:
    """One site: its column list (the URL a config names), who issues there, how it pages."""

    list_url: str
    issuer: str  # the Chinese name its notices give
    body: str  # the canonical id in config/bodies.yaml
    page_size: int
    kind: Literal["static", "jpaas", "datasource"] = "static"


SITES: dict[Site, SiteSpec] = {
    "govcn": SiteSpec(
        "https://www.gov.cn/zhengce/zuixin/home_0.htm", "国务院", "State Council", 20
    ),
    "miit": SiteSpec(
        "https://www.miit.gov.cn/zwgk/zcwj/wjfb/tz/index.html",
        "工业和信息化部",
        "MIIT",
        24,
        "jpaas",
    ),
    "ndrc": SiteSpec("https://www.ndrc.gov.cn/xxgk/zcfb/tz/", "国家发展改革委", "NDRC", 20),
    "mofcom": SiteSpec(
        "https://www.mofcom.gov.cn/zwgk/zcfb/index.html", "商务部", "MOFCOM", 20, "jpaas"
    ),
    "cac": SiteSpec(
        "https://www.cac.gov.cn/wxzw/wxfb/A093702index_1.htm", "国家互联网信息办公室", "CAC", 20
    ),
    "samr": SiteSpec(
        "https://www.samr.gov.cn/zw/zfxxgk/fdzdgknr/fgs/", "市场监管总局", "SAMR", 20, "jpaas"
    ),
    "mee": SiteSpec("https://www.mee.gov.cn/zcwj/bwj/", "生态环境部", "MEE", 20),
    "mof": SiteSpec("https://gss.mof.gov.cn/gzdt/zhengcefabu/", "财政部", "MOF", 20),
    "nea": SiteSpec(
        "https://www.nea.gov.cn/sjzz/ghs/index.htm", "国家能源局", "NEA", 0, "datasource"
    ),
}


@dataclass(frozen=True)
class Entry:
    """What a list shows of a published notice."""

    url: str
    title: str
    day: dt.date


def _hex(site: str, n: int) -> str:
    return hashlib.md5(f"{site}-{n}".encode(), usedforsecurity=False).hexdigest()


def notice_url(site: Site, n: int, day: dt.date) -> str:
    """Notice ``n`` of ``site`` on the site's real path scheme (SITES.md §2-§10)."""
    ym, ymd, h = f"{day:%Y%m}", f"{day:%Y%m%d}", _hex(site, n)
    return {
        "govcn": f"https://www.gov.cn/zhengce/zhengceku/{ym}/content_{7200000 + n}.htm",
        "miit": f"https://www.miit.gov.cn/zwgk/zcwj/wjfb/tz/art/{day.year}/art_{h}.html",
        "ndrc": f"https://www.ndrc.gov.cn/xxgk/zcfb/tz/{ym}/t{ymd}_{1410000 + n}.html",
        "mofcom": f"https://www.mofcom.gov.cn/zwgk/zcfb/art/{day.year}/art_{h}.html",
        "cac": f"https://www.cac.gov.cn/{day:%Y-%m}/{day:%d}/c_{1770000000000 + n}.htm",
        "samr": f"https://www.samr.gov.cn/zw/zfxxgk/fdzdgknr/fgs/art/{day.year}/art_{h}.html",
        "mee": f"https://www.mee.gov.cn/zcwj/bwj/{ym}/t{ymd}_{1130000 + n}.shtml",
        "mof": f"https://gss.mof.gov.cn/gzdt/zhengcefabu/{ym}/t{ymd}_{3950000 + n}.htm",
        "nea": f"https://www.nea.gov.cn/{ymd}/{h}/c.html",
    }[site]


# -- list pages -------------------------------------------------------------------------------


def _directory(url: str) -> str:
    return url.rsplit("/", 1)[0] + "/"


def _href(url: str, page_url: str) -> str:
    """Relative where the site writes relative links (below the list's folder), else absolute."""
    folder = _directory(page_url)
    return "./" + url.removeprefix(folder) if url.startswith(folder) else url


def _pager(pages: int, page: int, stem: str, ext: str) -> str:
    return f'<script type="text/javascript">createPageHTML({pages}, {page - 1}, "{stem}", "{ext}");</script>'


def _doc(title: str, body: str, *, site_name: str = "") -> str:
    meta = f'<meta name="SiteName" content="{site_name}">' if site_name else ""
    return (
        f'<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">{meta}'
        f"<title>{title}</title></head><body>{body}</body></html>"
    )


def _e(text: str) -> str:
    return html.escape(text)


def list_page(site: Site, entries: Sequence[Entry], page: int, pages: int, url: str) -> str:
    """Page ``page`` of a static list (gov.cn, NDRC, CAC, MEE, MOF), ``url`` being its address."""
    if site == "govcn":
        rows = "".join(
            f'<li><h4><a href="{_e(_govcn_href(p.url))}" target="_blank">{_e(p.title)}</a>'
            f'<span class="date">{p.day}</span></h4></li>'
            for p in entries
        )
        body = (
            f'<div class="main"><div class="news_box"><div class="list list_1 list_2"><ul>{rows}'
            f"</ul></div>{_pager(pages, page, 'home', 'htm')}</div></div>"
        )
        return _doc("最新政策_中国政府网", body, site_name="中国政府网")
    if site == "ndrc":
        rows = "".join(
            f'<li><a href="{_e(_href(p.url, url))}" target="_blank" title="{_e(p.title)}">'
            f"{_e(_cut(p.title))}</a><span>{p.day:%Y/%m/%d}</span></li>"
            for p in entries
        )
        body = (
            f'<div class="container"><div class="list"><ul class="u-list">{rows}</ul>'
            f'<div class="page">{_pager(pages, page, "index", "html")}</div></div></div>'
        )
        return _doc("通知 - 中华人民共和国国家发展和改革委员会", body)
    if site == "cac":
        rows = "".join(
            f'<li><h5><a href="{_e(p.url)}" target="_blank">{_e(p.title)}</a></h5>'
            f'<div class="times">{p.day}</div></li>'
            for p in entries
        )
        more = f'<div id="Page"><a href="A093702index_{page + 1}.htm">下一页</a></div>'
        body = (
            f'<div class="main"><div class="xpage-container"><ul id="loadingInfoPage">{rows}</ul>'
            f"{more if page < pages else ''}</div></div>"
        )
        return _doc("网信发布_中央网络安全和信息化委员会办公室", body)
    if site == "mee":
        rows = "".join(
            f'<li><a href="{_e(_href(p.url, url))}" target="_blank">{_e(p.title)}</a>'
            f'<span class="date">{p.day}</span></li>'
            for p in entries
        )
        body = (
            f'<div class="main"><div class="mainLeft"><div class="iframe-list"><ul id="div">{rows}'
            f'</ul></div><div class="slideTxtBox">{_pager(pages, page, "index", "shtml")}</div>'
            "</div></div>"
        )
        return _doc("部文件_中华人民共和国生态环境部", body)
    if site == "mof":
        rows = "".join(
            f'<li><a href="{_e(_href(p.url, url))}" title="{_e(p.title)}" target="_blank">'
            f"{_e(p.title)}</a><span>{p.day}</span></li>"
            for p in entries
        )
        body = (
            '<div class="top"><div class="zzName">关税司</div></div><div class="main">'
            f'<div class="boxTit">政策发布</div><ul class="liBox">{rows}</ul>'
            f'<div class="pageBox">{_pager(pages, page, "index", "htm")}</div></div>'
        )
        return _doc("政策发布 - 关税司", body)
    raise ValueError(f"{site}: its list is not a static page")


def _govcn_href(url: str) -> str:
    """gov.cn's list links are relative: ``../zhengceku/202409/content_1.htm``."""
    prefix = "https://www.gov.cn/zhengce/"
    return "../" + url.removeprefix(prefix) if url.startswith(prefix) else url


def _cut(title: str) -> str:
    """List texts are cut with "..." (the full title is in the ``title`` attribute)."""
    return title if len(title) <= 30 else title[:30] + "..."


# -- two-step lists: JPAAS columns and NEA's data source ----------------------------------------

_JPAAS_IDS = {
    "miit": ("buildstatic", "8d828e408d90447786ddbe128d495e9e", "当前栏目_list"),
    "samr": ("bulidstatic", "29e9522dc89d4e088a953d8cede72f4c", "内容区域"),
    "mofcom": ("bulidstatic", "8f43c7ad3afc411fb56f281724b73708", "分页列表"),
}


def column_page(site: Site) -> str:
    """The column page of a two-step site: it names the request that loads the list."""
    if site == "nea":
        body = (
            '<div class="main"><div id="tab03">工作进展</div>'
            f'<ul id="showData0" class="list" data="datasource:{NEA_SOURCE}"></ul>'
            '<script src="../../js/datasource-list.js"></script></div>'
        )
        return _doc("发展规划司", body)
    kind, web_id, tag = _JPAAS_IDS[site]
    query = (
        f"{{'parseType':'{kind}','webId':'{web_id}','tplSetId':'{_hex(site, 0)}',"
        f"'pageType':'column','tagId':'{tag}','editType':'null','pageId':'{_hex(site, 1)}'}}"
    )
    script = (
        '<script src="/cms_files/default/script/AuthorizedRead/unitbuild.js" '
        f'parseType="{kind}" url="{JPAAS_PATH}" queryData="{query}"></script>'
    )
    return _doc("通知", f'<div class="lmy_main"><div class="clist_con">{script}</div></div>')


def jpaas_answer(site: Site, entries: Sequence[Entry], page: int, size: int, total: int) -> bytes:
    """The API's JSON answer for page ``page``: ``{success, code, data: {html}}``."""
    if site == "miit":
        rows = "".join(
            f'<li class="cf"><a class="fl" href="{_e(_path(p.url))}" title="{_e(p.title)}">'
            f'{_e(_cut(p.title))}</a><span class="fr">{p.day}</span></li>'
            for p in entries
        )
        items = f'<div id="当前栏目_list" class="clist_con"><div class="page-content"><ul>{rows}</ul></div>'
    elif site == "samr":
        rows = "".join(
            f'<li class="zjnav04Left02_content"><a href="{_e(_path(p.url))}" target="_blank" '
            f'title="{_e(p.title)}">{_e(p.title)}</a><div class="doctime tim">{p.day}</div></li>'
            for p in entries
        )
        items = f'<div class="page-content"><ul class="Three_zhnlist_02">{rows}</ul></div>'
    else:
        rows = "".join(
            f'<li><a href="{_e(_path(p.url))}" title="{_e(p.title)}" target="_blank">'
            f"{_e(p.title)}</a><span>[{p.day}]</span></li>"
            for p in entries
        )
        items = f"<ul>{rows}</ul>"
    pages = f'<div class="pagination" rows="{size}" count="{total}" pageno="{page}"></div>'
    closing = "</div>" if site == "miit" else ""
    answer = {"success": True, "code": 200, "data": {"html": items + pages + closing}}
    return json.dumps(answer, ensure_ascii=False).encode("utf-8")


def _path(url: str) -> str:
    """JPAAS fragments link their own site by path."""
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


def nea_data(entries: Sequence[Entry], issuer: str) -> bytes:
    """NEA's ``ds_<id>.json``: the whole list as a ``datasource`` array."""
    rows = [
        {
            "title": p.title,
            "showTitle": p.title,
            "publishUrl": _path(p.url),
            "publishTime": f"{p.day} 10:00:00",
            "summary": "",
            "sourceText": issuer,
        }
        for p in entries
    ]
    data = {"categoryName": "发展规划司", "categoryDesc": "工作进展", "datasource": rows}
    return json.dumps(data, ensure_ascii=False).encode("utf-8")


# -- notice pages -----------------------------------------------------------------------------


def notice_page(
    site: Site, title: str, number: str | None, issuer: str, at: dt.datetime, body: str
) -> str:
    """A notice in its site's layout: title, 文号 (first paragraph), issuer, date and body."""
    t, who = _e(title), _e(issuer)
    paras = f"<p>{_e(number)}</p>" if number else ""
    paras += "".join(f"<p>{_e(line)}</p>" for line in body.splitlines() if line)
    stamp = f"{at:%Y-%m-%d %H:%M}"
    metas = (
        f'<meta name="ArticleTitle" content="{t}"><meta name="PubDate" content="{stamp}">'
        f'<meta name="ContentSource" content="{who}">'
    )
    if site == "govcn":
        return _govcn_notice(t, _e(number or ""), who, at, paras)
    if site == "miit":
        return _page(
            t, '<meta name="SiteIDCode" content="bm07000001">' + metas,
            f'<div class="ctitle"><h1 id="con_title">{t}</h1></div><div class="cinfo center">'
            f'<span id="con_time">发布时间：{stamp}</span> <span>来源：{who}</span></div>'
            f'<div id="con_con" class="ccontent center">{paras}</div>',
        )  # fmt: skip
    return _page(t, metas, _BODIES[site](t, who, stamp, at, paras))


def _page(title: str, metas: str, body: str) -> str:
    return (
        f'<!DOCTYPE html><html><head><meta charset="utf-8">{metas}<title>{title}</title></head>'
        f"<body>{body}</body></html>"
    )


def _govcn_notice(t: str, n: str, who: str, at: dt.datetime, paras: str) -> str:
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        f'<meta name="firstpublishedtime" content="{at:%Y-%m-%d-%H:%M:%S}">'
        f'<title>{t}_中国政府网</title></head><body><table class="bd1">'
        f"<tr><td><b>发文机关：</b></td><td>{who}</td></tr>"
        f"<tr><td><b>标　　题：</b></td><td>{t}</td></tr>"
        f"<tr><td><b>发文字号：</b></td><td>{n}</td><td><b>发布日期：</b></td>"
        f"<td>{at.year}年{at.month:02d}月{at.day:02d}日</td></tr></table>"
        f'<div class="share-title">{t}</div><div id="UCAP-CONTENT">'
        f'<div class="trs_editor_view TRS_UEDITOR">{paras}</div></div></body></html>'
    )


def _ndrc(t: str, who: str, stamp: str, at: dt.datetime, paras: str) -> str:
    return (
        f'<div class="container"><div class="article"><div class="article_title">{t}</div>'
        f'<div class="article_l"><span class="time">发布时间：{at:%Y/%m/%d}</span>'
        f'<span>来源：{who}</span></div><div class="article_con"><div class="TRS_Editor">'
        f"{paras}</div></div></div></div>"
    )


def _mofcom(t: str, who: str, stamp: str, at: dt.datetime, paras: str) -> str:
    return (
        f'<div class="art-main"><div class="art-title"><h1>{t}</h1><p><span class="time">'
        f'{stamp}</span><span class="art-source">来源：{who}</span></p></div>'
        f'<div id="zoom" class="art-con">{paras}</div></div>'
    )


def _cac(t: str, who: str, stamp: str, at: dt.datetime, paras: str) -> str:
    return (
        f'<div class="main"><h1 class="title">{t}</h1><div class="info"><span id="pubtime">'
        f"{at.year}年{at.month:02d}月{at.day:02d}日 {at:%H:%M}</span>"
        f'<span id="source">来源：{who}</span></div><div class="main-content">'
        f'<div class="TRS_Editor">{paras}</div></div></div>'
    )


def _samr(t: str, who: str, stamp: str, at: dt.datetime, paras: str) -> str:
    return (
        f'<div class="Three_xilan"><div class="Three_xilan_01"><h1>{t}</h1></div>'
        f'<div class="Three_xilan_02">发布时间：{at:%Y-%m-%d}　来源：{who}</div>'
        f'<div class="Three_xilan_07">{paras}</div></div>'
    )


def _mee(t: str, who: str, stamp: str, at: dt.datetime, paras: str) -> str:
    return (
        f'<div class="neiright"><div class="neiright_Title"><h2>{t}</h2></div>'
        f'<div class="neiright_JPZ_GK"><span class="xqLyPc">来源：{who}</span>'
        f'<span class="time">{at:%Y-%m-%d}</span></div><div class="content_body_box">'
        f'<div class="TRS_Editor">{paras}</div></div></div>'
    )


def _mof(t: str, who: str, stamp: str, at: dt.datetime, paras: str) -> str:
    return (
        f'<div class="box_content"><div class="title_con"><h2>{t}</h2><span class="date">'
        f"{at.year}年{at.month:02d}月{at.day:02d}日　来源：{who}</span></div>"
        f'<div class="my_doccontent"><div class="TRS_Editor">{paras}</div></div></div>'
    )


def _nea(t: str, who: str, stamp: str, at: dt.datetime, paras: str) -> str:
    return (
        f'<div class="article"><div class="titles"><h1>{t}</h1><span class="times">'
        f'{at:%Y-%m-%d}</span></div><div class="article-content"><div id="detailContent">'
        f"{paras}</div></div></div>"
    )


_BODIES = {
    "ndrc": _ndrc, "mofcom": _mofcom, "cac": _cac, "samr": _samr, "mee": _mee, "mof": _mof,
    "nea": _nea,
}  # fmt: skip
