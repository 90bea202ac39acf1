"""Fetching notices over real loopback HTTP: statuses, charsets, JS redirects, dedupe, order."""

from __future__ import annotations

import pytest

from parsers.bodies import BodyIndex
from parsers.records import Link, PolicyItem
from policywatch.devtools.loopback import LoopbackServer, Reply, Request
from policywatch.http import PoliteClient
from policywatch.notices import fetch_notice, fetch_notices, notice_links
from policywatch.settings import HttpSettings
from tests.notices.conftest import FIXTURES

pytestmark = pytest.mark.anyio


async def _fetch(
    settings: HttpSettings, url: str, bodies: BodyIndex, site: str | None = None
) -> tuple[str, str | None, str | None, str | None]:
    async with PoliteClient(settings) as client:
        notice = await fetch_notice(client, url, bodies, site=site)
    assert notice.fetched_at is not None
    return notice.status, notice.title, notice.error, notice.doc_number


async def test_ok_notice_parsed_with_forced_site(
    site: LoopbackServer, http_settings: HttpSettings, bodies: BodyIndex
) -> None:
    url = site.url("/miit/wjfb-tz.html?xxgkhide=1")
    async with PoliteClient(http_settings) as client:
        notice = await fetch_notice(client, url, bodies, site="miit")
    assert notice.status == "ok"
    assert notice.site == "miit"
    assert notice.url == site.url("/miit/wjfb-tz.html")
    assert notice.doc_number == "工信厅科函〔2024〕251号"
    assert notice.issuing_body == "MIIT"
    assert next(a.url for a in notice.attachments).startswith(site.base + "/cms_files/")


async def test_unknown_host_uses_the_generic_parser(
    site: LoopbackServer, http_settings: HttpSettings, bodies: BodyIndex
) -> None:
    async with PoliteClient(http_settings) as client:
        notice = await fetch_notice(client, site.url("/generic/ministry-page.html"), bodies)
    assert (notice.site, notice.status, notice.issuing_body) == ("generic", "ok", "MOST")


@pytest.mark.parametrize(
    ("path", "status", "reason"),
    [
        ("/miit/not-found.html", "not_found", "404"),
        ("/miit/no-such-page.html", "not_found", "404"),
        ("/miit/challenge.html", "blocked", "412"),
        ("/govcn/layout-changed.html", "error", "govcn: no title"),
    ],
)
async def test_page_problems_become_statuses(
    site: LoopbackServer,
    http_settings: HttpSettings,
    bodies: BodyIndex,
    path: str,
    status: str,
    reason: str,
) -> None:
    got_status, title, error, _ = await _fetch(http_settings, site.url(path), bodies, "govcn")
    assert (got_status, title) == (status, None)
    assert error is not None
    assert reason in error


async def test_challenge_served_with_200_is_blocked(
    site: LoopbackServer, http_settings: HttpSettings, bodies: BodyIndex
) -> None:
    page = (FIXTURES / "miit" / "challenge.html").read_bytes()
    site.routes["/verify"] = lambda _req: Reply(200, {"Content-Type": "text/html"}, page)
    status, _, error, _ = await _fetch(http_settings, site.url("/verify"), bodies, "miit")
    assert status == "blocked"
    assert error is not None
    assert "安全验证" in error


async def test_server_error_is_an_error_with_reason(
    site: LoopbackServer, http_settings: HttpSettings, bodies: BodyIndex
) -> None:
    site.routes["/broken"] = lambda _req: Reply(500, {"Content-Type": "text/plain"}, b"oops")
    status, _, error, _ = await _fetch(http_settings, site.url("/broken"), bodies)
    assert status == "error"
    assert error is not None
    assert "HTTP 500" in error
    assert site.counts["/broken"] == 1


@pytest.mark.parametrize(
    ("path", "parser", "title"),
    [
        # served as bare text/html: the client has to detect GBK
        ("/mee/gbk-no-charset.gbk.html", "mee", "关于印发《危险废物跨省转移管理工作规程》的通知"),
        # served as text/html; charset=utf-8 (and says so in a meta tag) but the bytes are GBK
        ("/nea/charset-lies.html", "nea", "国家能源局关于促进光伏电站用地规范管理的通知"),
    ],
)
async def test_charsets_over_http(
    site: LoopbackServer,
    http_settings: HttpSettings,
    bodies: BodyIndex,
    path: str,
    parser: str,
    title: str,
) -> None:
    status, got_title, _, number = await _fetch(http_settings, site.url(path), bodies, parser)
    assert (status, got_title) == ("ok", title)
    assert number is not None
    assert number.endswith("号")


async def test_js_redirect_followed_with_referer(
    site: LoopbackServer, http_settings: HttpSettings, bodies: BodyIndex
) -> None:
    url = site.url("/mofcom/js-redirect.html")
    async with PoliteClient(http_settings) as client:
        notice = await fetch_notice(client, url, bodies, site="mofcom")
    assert notice.status == "ok"
    assert notice.doc_number == "商务部 海关总署公告2024年第46号"
    assert notice.url == url  # the cited URL stays the key
    target = [r for r in site.log if r.path == "/mofcom/art-announcement.html"]
    assert len(target) == 1
    assert target[0].headers.get("referer") == url


async def test_mobile_redirect_snippet_on_a_notice_page_is_not_followed(
    site: LoopbackServer, http_settings: HttpSettings, bodies: BodyIndex
) -> None:
    snippet = (
        b"<script>if(/iPhone/.test(navigator.userAgent)){window.location.href='/m.html';}</script>"
    )
    page = (
        (FIXTURES / "miit" / "wjfb-tz.html").read_bytes().replace(b"</head>", snippet + b"</head>")
    )
    site.routes["/with-mobile-jump"] = lambda _req: Reply(200, {"Content-Type": "text/html"}, page)
    status, title, _, _ = await _fetch(http_settings, site.url("/with-mobile-jump"), bodies, "miit")
    assert status == "ok"
    assert title is not None
    assert site.counts["/m.html"] == 0


async def test_js_redirect_off_the_allow_list_is_not_followed(
    site: LoopbackServer, http_settings: HttpSettings, bodies: BodyIndex
) -> None:
    page = b"<script>window.location.href='https://elsewhere.example.com/x.html';</script>"
    site.routes["/jump"] = lambda _req: Reply(200, {"Content-Type": "text/html"}, page)
    status, _, error, _ = await _fetch(http_settings, site.url("/jump"), bodies, "mofcom")
    assert status == "error"
    assert error is not None
    assert "allow-list" in error


async def test_js_redirect_loop_stops(
    site: LoopbackServer, http_settings: HttpSettings, bodies: BodyIndex
) -> None:
    def hop(req: Request) -> Reply:
        n = int(req.path.rsplit("-", 1)[1]) + 1
        body = f"<script>window.location.href='/hop-{n}';</script>".encode()
        return Reply(200, {"Content-Type": "text/html"}, body)

    for i in range(10):
        site.routes[f"/hop-{i}"] = hop
    status, _, error, _ = await _fetch(http_settings, site.url("/hop-0"), bodies, "mofcom")
    assert status == "error"
    assert error is not None
    assert "redirect" in error
    assert sum(site.counts[f"/hop-{i}"] for i in range(10)) == 4  # the page + 3 JS hops


async def test_fetch_notices_dedupes_filters_and_keeps_order(
    site: LoopbackServer, http_settings: HttpSettings, bodies: BodyIndex
) -> None:
    urls = [
        site.url("/nea/new-detail.html"),
        "https://www.example.com/not-allowed.html",
        site.url("/miit/not-found.html"),
        site.url("/nea/new-detail.html?xxgkhide=1"),
        site.url("/nea/legacy-detail.html#top"),
    ]
    async with PoliteClient(http_settings) as client:
        notices = await fetch_notices(client, urls, bodies, site="nea")
    assert [(n.url, n.status) for n in notices] == [
        (site.url("/nea/new-detail.html"), "ok"),
        (site.url("/miit/not-found.html"), "not_found"),
        (site.url("/nea/legacy-detail.html"), "ok"),
    ]
    assert site.counts["/nea/new-detail.html"] == 1
    assert sum(site.counts.values()) == 3


async def test_fetch_notices_runs_concurrently(
    http_settings: HttpSettings, bodies: BodyIndex
) -> None:
    settings = http_settings.model_copy(update={"per_host_concurrency": 4})
    with LoopbackServer(FIXTURES, latency=0.2) as slow:
        urls = [slow.url(f"/nea/new-detail.html?n={i}") for i in range(4)]
        async with PoliteClient(settings) as client:
            notices = await fetch_notices(client, urls, bodies, site="nea")
        assert [n.status for n in notices] == ["ok"] * 4
        assert slow.max_in_flight > 1


def test_notice_links_keeps_allowed_hosts_canonical_and_unique() -> None:
    links = [
        Link(text="通知", url="http://wap.miit.gov.cn/zwgk/art/2024/art_1.html?xxgkhide=1"),
        Link(text="same", url="https://www.miit.gov.cn/zwgk/art/2024/art_1.html"),
        Link(text="news", url="https://www.reuters.com/world/china/x"),
        Link(text="mail", url="mailto:someone@example.com"),
        Link(text="gov", url="http://www.gov.cn/zhengce/content/202409/content_1.htm"),
    ]
    item = PolicyItem(id="i1", section="top", position=1, headline="h", links=links)
    allowed = ("www.miit.gov.cn", "www.gov.cn")
    got = notice_links(item, lambda u: u.split("/")[2] in allowed)
    assert got == [
        "https://www.miit.gov.cn/zwgk/art/2024/art_1.html",
        "https://www.gov.cn/zhengce/content/202409/content_1.htm",
    ]


async def test_a_linked_office_file_is_an_error_naming_its_type(
    http_settings: HttpSettings, bodies: BodyIndex
) -> None:
    docx = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    with LoopbackServer() as server:
        server.routes["/P020240904.docx"] = lambda req: Reply(
            200, {"Content-Type": docx}, b"PK\x03\x04" + bytes(range(256)) * 8
        )
        async with PoliteClient(http_settings) as client:
            notice = await fetch_notice(client, server.url("/P020240904.docx"), bodies)
    assert notice.status == "error"
    assert notice.error == f"not a web page or PDF ({docx}); open the file itself"
