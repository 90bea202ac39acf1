"""A synthetic MERICS-like site of any size, for benchmarks and scale tests.

``write_site(root, issues=60, notices_per_issue=10)`` writes, under ``root/<host>/<path>`` (the
layout the loopback host map serves): an RSS feed listing every issue, one China Industries issue
page per feed entry (five top stories and five policy-news entries, each citing one ministry
notice), and the cited notices on five real ministry hosts in their own page layouts (MIIT,
gov.cn, NDRC, MOFCOM, CAC). ``write_issue`` and ``write_feed`` write one issue commenting on
given notices and the feed (the timeliness benchmark's month). All text is generated; nothing is
copied from real pages.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from email.utils import format_datetime
from pathlib import Path

__all__ = ["NOTICE_HOSTS", "Citation", "Site", "write_feed", "write_issue", "write_site"]

NOTICE_HOSTS = (
    "www.miit.gov.cn",
    "www.gov.cn",
    "www.ndrc.gov.cn",
    "www.mofcom.gov.cn",
    "www.cac.gov.cn",
)
FEED_URL = "https://merics.org/en/rss.xml"
_TOPICS = (
    ("power batteries", "动力电池", "new energy vehicles"),
    ("industrial robots", "工业机器人", "robotics"),
    ("rare earths", "稀土", "rare earth magnets"),
    ("data exchanges", "数据交易", "the data economy"),
    ("hydrogen pipelines", "氢能管网", "hydrogen"),
    ("semiconductor equipment", "半导体设备", "chips"),
    ("shipbuilding", "船舶工业", "shipyards"),
    ("solar glass", "光伏玻璃", "solar power"),
)
_BODY = {
    "www.miit.gov.cn": ("MIIT", "工业和信息化部", "工信部"),
    "www.gov.cn": ("State Council", "国务院", "国发"),
    "www.ndrc.gov.cn": ("NDRC", "国家发展改革委", "发改"),
    "www.mofcom.gov.cn": ("MOFCOM", "商务部", "商务部公告"),
    "www.cac.gov.cn": ("CAC", "国家互联网信息办公室", "国家互联网信息办公室令"),
}


@dataclass
class Site:
    """What was written: the issue and notice URLs, per notice host."""

    root: Path
    feed_url: str = FEED_URL
    issues: list[str] = field(default_factory=list)
    notices: dict[str, list[str]] = field(default_factory=dict)

    @property
    def notice_count(self) -> int:
        return sum(len(v) for v in self.notices.values())


def write_site(
    root: Path, *, issues: int = 60, notices_per_issue: int = 10, start: dt.date | None = None
) -> Site:
    """Write the site; issue ``i`` is published ``i`` weeks after ``start`` (oldest first)."""
    start = start or dt.date(2025, 1, 6)
    site = Site(root)
    entries = []
    for i in range(issues):
        day = start + dt.timedelta(weeks=i)
        links = [_write_notice(root, site, i, j, day) for j in range(notices_per_issue)]
        url = f"https://merics.org/en/merics-briefs/synthetic-issue-{i:03d}"
        _write(root, url, _issue_page(i, day, url, links))
        site.issues.append(url)
        entries.append((url, f"Synthetic issue {i:03d}", day))
    _write(root, FEED_URL, _feed(reversed(entries)))
    return site


def _write(root: Path, url: str, text: str) -> None:
    rest = url.split("://", 1)[1]
    path = root / rest
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _notice_url(host: str, n: int, day: dt.date) -> str:
    ym = day.strftime("%Y%m")
    if host == "www.miit.gov.cn":
        return f"https://{host}/zwgk/zcwj/wjfb/tz/art/{day.year}/art_{n:032x}.html"
    if host == "www.gov.cn":
        return f"https://{host}/zhengce/zhengceku/{ym}/content_{7000000 + n}.htm"
    if host == "www.ndrc.gov.cn":
        return f"https://{host}/xxgk/zcfb/tz/{ym}/t{day:%Y%m%d}_{1400000 + n}.html"
    if host == "www.mofcom.gov.cn":
        return f"https://{host}/zwgk/zcfb/art/{day.year}/art_{n + 1:032x}.html"
    return f"https://{host}/{day:%Y-%m}/{day:%d}/c_{1700000000000 + n}.htm"


def _write_notice(root: Path, site: Site, issue: int, j: int, day: dt.date) -> str:
    n = issue * 1000 + j
    host = NOTICE_HOSTS[(issue + j) % len(NOTICE_HOSTS)]
    url = _notice_url(host, n, day)
    topic = _TOPICS[(issue + j) % len(_TOPICS)]
    _write(root, url, _notice_page(host, n, day, topic))
    site.notices.setdefault(host, []).append(url)
    return url


def _notice_page(host: str, n: int, day: dt.date, topic: tuple[str, str, str]) -> str:
    _, issuer, prefix = _BODY[host]
    title = f"{issuer}关于推进{topic[1]}产业高质量发展的通知（第{n}号）"
    number = f"{prefix}〔{day.year}〕{n}号"
    body = "".join(
        f"<p>第{k}条 为促进{topic[1]}产业发展，各地应加强规划引导，完善标准体系，"
        f"支持企业开展技术攻关和应用示范。合成文本{n}-{k}。</p>"
        for k in range(1, 9)
    )
    stamp = f"{day:%Y-%m-%d} 10:00"
    if host == "www.gov.cn":
        return (
            '<!DOCTYPE html><html><head><meta charset="utf-8">'
            f'<meta name="firstpublishedtime" content="{day:%Y-%m-%d}-10:00:00">'
            f'<title>{title}_中国政府网</title></head><body><table class="bd1">'
            f"<tr><td><b>发文机关：</b></td><td>{issuer}</td></tr>"
            f"<tr><td><b>标　　题：</b></td><td>{title}</td></tr>"
            f"<tr><td><b>发文字号：</b></td><td>{number}</td><td><b>发布日期：</b></td>"
            f"<td>{day.year}年{day.month:02d}月{day.day:02d}日</td></tr></table>"
            f'<div class="share-title">{title}</div><div id="UCAP-CONTENT">'
            f'<div class="trs_editor_view TRS_UEDITOR"><p>{number}</p>{body}</div></div>'
            "</body></html>"
        )
    if host == "www.miit.gov.cn":
        return (
            '<!DOCTYPE html><html><head><meta charset="utf-8">'
            '<meta name="SiteIDCode" content="bm07000001">'
            f'<meta name="ArticleTitle" content="{title}"><meta name="PubDate" content="{stamp}">'
            f"<title>{title}</title></head><body>"
            f'<div class="ctitle"><h1 id="con_title">{title}</h1></div>'
            f'<div class="cinfo center"><span id="con_time">发布时间：{stamp}</span> '
            f'<span>来源：{issuer}</span></div><div id="con_con" class="ccontent center">'
            f"<p>{number}</p>{body}</div></body></html>"
        )
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        f'<meta name="ArticleTitle" content="{title}"><meta name="PubDate" content="{stamp}">'
        f'<meta name="ContentSource" content="{issuer}"><title>{title}</title></head><body>'
        f'<h1 class="title" id="title">{title}</h1>'
        f'<div class="TRS_Editor art-con article_con" id="BodyLabel"><p>{number}</p>{body}</div>'
        "</body></html>"
    )


def _issue_page(i: int, day: dt.date, url: str, links: list[str]) -> str:
    top, news = links[:5], links[5:]
    stories = "".join(_story(i, k, day, link) for k, link in enumerate(top, 1))
    items = "".join(
        f"<li>{day:%B} {day.day}: The "
        f"{_BODY[_host(link)][0]} issued a notice on {_TOPICS[(i + k) % len(_TOPICS)][0]} "
        f"(case {i}-{k}) and asked provinces to report progress "
        f'(<a href="{link}">notice</a>)</li>'
        for k, link in enumerate(news, 1)
    )
    return _issue_shell(f"Synthetic issue {i:03d}", day, url, stories, items)


def _issue_shell(title: str, day: dt.date, url: str, stories: str, items: str) -> str:
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{title} | Merics</title>"
        f'<link rel="canonical" href="{url}"></head><body><main><article>'
        '<div class="publication-type">MERICS Briefs</div>'
        '<div class="series">MERICS China Industries</div>'
        f"<h1>{title}</h1>"
        f'<section class="field-name-field-date-published"><time datetime="{day}T12:00:00Z">'
        f"{day:%b} {day.day}, {day.year}</time></section>"
        f'<div class="field--name-body"><h2>MERICS Top 5</h2>{stories}'
        f"<h2>Policy news</h2><ul>{items}</ul></div></article></main></body></html>"
    )


@dataclass(frozen=True)
class Citation:
    """A ministry notice an issue comments on: where it is, its Chinese title, what it is about."""

    url: str
    title_zh: str
    topic: str  # English, e.g. "power batteries"
    body: str  # the issuer's short English name, e.g. "MIIT"
    day: dt.date


def write_issue(
    root: Path, url: str, title: str, day: dt.date, top: list[Citation], news: list[Citation]
) -> None:
    """One China Industries issue at ``url`` commenting on the given notices (top stories
    cite each notice with its Chinese title, policy-news entries link it)."""
    stories = "".join(_cited_story(k, title, c) for k, c in enumerate(top, 1))
    items = "".join(
        f"<li>{c.day:%B} {c.day.day}: The {c.body} issued a notice on {c.topic} and asked "
        f'provinces to report progress (<a href="{c.url}">notice</a>)</li>'
        for c in news
    )
    _write(root, url, _issue_shell(title, day, url, stories, items))


def write_feed(root: Path, entries: list[tuple[str, str, dt.date]]) -> None:
    """The RSS feed listing ``(url, title, day)`` entries, newest first as given."""
    _write(root, FEED_URL, _feed(entries))


def _cited_story(k: int, issue: str, c: Citation) -> str:
    """A top story; its headline names the issue, since a story's id is its headline's."""
    return (
        f"<h3>{k}. {issue}: the {c.body} sets new rules for {c.topic}</h3>"
        f"<p>At a glance: The {c.body} issued rules on {c.topic}. Key requirements include:</p>"
        "<ul><li>Provincial plans within six months</li>"
        "<li>Standards for testing and certification</li></ul>"
        f"<p>MERICS comment: The rules show how Beijing steers {c.topic}.</p>"
        f"<p>Article: Notice on {c.topic.title()} ({c.title_zh}) "
        f'(<a href="{c.url}">Link</a>) Issuing body: {c.body} '
        f"Date: {c.day:%B} {c.day.day}, {c.day.year}</p>"
    )


def _host(url: str) -> str:
    return url.split("/")[2]


def _story(i: int, k: int, day: dt.date, link: str) -> str:
    en, zh, sector = _TOPICS[(i + k) % len(_TOPICS)]
    body, issuer, _ = _BODY[_host(link)]
    return (
        f"<h3>{k}. Issue {i} story {k}: new rules for {en}</h3>"
        f"<p>At a glance: The {body} issued rules on {en} for {sector} (case {i}-{k}). "
        "Key requirements include:</p><ul><li>Provincial plans within six months</li>"
        "<li>Standards for testing and certification</li></ul>"
        f"<p>MERICS comment: The rules show how Beijing steers {sector} (case {i}-{k}).</p>"
        f"<p>Article: Notice on the Development of {en.title()} ({issuer}关于推进{zh}产业高质量"
        f'发展的通知) (<a href="{link}">Link</a>) Issuing body: {body} '
        f"Date: {day:%B} {day.day}, {day.year}</p>"
    )


def _feed(entries: object) -> str:
    items = "".join(
        f"<item><title>{title}</title><link>{url}</link>"
        f"<pubDate>{format_datetime(dt.datetime.combine(day, dt.time(12), dt.UTC))}</pubDate>"
        "<description>MERICS China Industries</description></item>"
        for url, title, day in entries  # type: ignore[attr-defined]
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>MERICS</title><link>https://merics.org/en</link>{items}</channel></rss>"
    )
