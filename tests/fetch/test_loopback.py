"""The loopback server itself (the demo and other test areas build on it)."""

from __future__ import annotations

from pathlib import Path

import httpx

from policywatch.devtools.loopback import LoopbackServer, Reply

from .conftest import SITE

STATIC = SITE / "static"


def test_static_files_content_types_and_sidecar_headers() -> None:
    with LoopbackServer(STATIC) as site, httpx.Client() as client:
        page = client.get(site.url("/page"))  # found as page.html
        gbk = client.get(site.url("/notice.gbk.html"))
        lying = client.get(site.url("/lying/page.html"))
        sidecar = client.get(site.url("/lying/page.html.headers.json"))
        missing = client.get(site.url("/../conftest.py"))
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert gbk.headers["content-type"] == "text/html"
    assert gbk.content == (STATIC / "notice.gbk.html").read_bytes()
    assert lying.headers["content-type"] == "text/html; charset=iso-8859-1"
    assert lying.headers["x-test"] == "1"
    assert (sidecar.status_code, missing.status_code) == (404, 404)
    assert site.counts["/page"] == 1


def test_etag_and_last_modified_give_304() -> None:
    with LoopbackServer(STATIC) as site, httpx.Client() as client:
        first = client.get(site.url("/page.html"))
        etag = client.get(site.url("/page.html"), headers={"If-None-Match": first.headers["etag"]})
        since = client.get(
            site.url("/page.html"), headers={"If-Modified-Since": first.headers["last-modified"]}
        )
        stale = client.get(site.url("/page.html"), headers={"If-None-Match": '"other"'})
    assert (first.status_code, etag.status_code, since.status_code) == (200, 304, 304)
    assert stale.status_code == 200


def test_routes_base_placeholder_and_run_time_swaps(tmp_path: Path) -> None:
    (tmp_path / "feed.xml").write_text("<link>{{base}}/en/x</link>", "utf-8")
    with LoopbackServer(STATIC) as site, httpx.Client() as client:
        site.routes["/hello"] = lambda req: (201, {"X-Q": ",".join(req.query["q"])}, b"hi")
        hello = client.get(site.url("/hello?q=1"))
        site.set_root(tmp_path)
        feed = client.get(site.url("/feed.xml"))
        gone = client.get(site.url("/page.html"))
        assert [r.path for r in site.log] == ["/hello", "/feed.xml", "/page.html"]
        site.reset_counts()
        assert site.total_requests() == 0
    assert (hello.status_code, hello.headers["x-q"], hello.content) == (201, "1", b"hi")
    assert feed.text == f"<link>{site.base}/en/x</link>"
    assert gone.status_code == 404


def test_streamed_reply_closes_the_connection() -> None:
    with LoopbackServer() as site, httpx.Client() as client:
        site.routes["/chunks"] = lambda req: Reply(200, {}, iter([b"a", b"b", b"c"]))
        response = client.get(site.url("/chunks"))
    assert response.content == b"abc"
    assert response.headers["connection"] == "close"
