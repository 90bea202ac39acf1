"""Fixtures for the fetch tests: a loopback fault server (one endpoint per misbehaviour),
a MERICS-like loopback site, and a sleep hook that records waits instead of sleeping."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path

import pytest

from policywatch.devtools.loopback import LoopbackServer, Reply, Request, ResetConnection
from policywatch.settings import HttpSettings

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SITE = FIXTURES / "site"
GBK_PAGE = "<html><head><title>通知</title></head><body><p>工业和信息化部办公厅关于开展制造业单项冠军遴选工作的通知</p></body></html>"
UTF8_PAGE = "<html><head><title>公告</title></head><body><p>国家发展改革委 发改价格〔2025〕136号 关于完善价格机制的通知</p></body></html>"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Sleeps:
    """The client's sleep hook: records each wait, returns at once."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def http_settings() -> HttpSettings:
    return HttpSettings(
        allowed_hosts=["127.0.0.1"],
        per_host_interval=0,
        connect_timeout=1,
        read_timeout=0.5,
        total_timeout=3,
        max_attempts=3,
        backoff_base=0.2,
        backoff_max=5,
        max_bytes=100_000,
    )


def _nth(server: LoopbackServer, request: Request) -> int:
    """How many times this path was requested, this request included."""
    return server.counts[request.path]


def _fault_routes(server: LoopbackServer) -> None:
    def first_then_ok(path: str, first: Reply) -> None:
        server.routes[path] = lambda req: first if _nth(server, req) == 1 else Reply(200, {}, b"ok")

    server.routes["/slow"] = lambda req: Reply(200, {}, b"late", delay=1.5)
    server.routes["/slow-once"] = lambda req: Reply(
        200, {}, b"ok", delay=1.5 if _nth(server, req) == 1 else 0
    )
    first_then_ok("/500-then-200", Reply(500, {}, b"oops"))
    first_then_ok("/408-then-200", Reply(408, {}, b"timeout"))
    first_then_ok("/429-seconds", Reply(429, {"Retry-After": "3"}, b"slow down"))
    first_then_ok("/429-long", Reply(429, {"Retry-After": "100000"}, b"slow down"))
    server.routes["/429-date"] = lambda req: (
        Reply(429, {"Retry-After": formatdate(time.time() + 30, usegmt=True)}, b"")
        if _nth(server, req) == 1
        else Reply(200, {}, b"ok")
    )
    server.routes["/503"] = lambda req: Reply(503, {}, b"down")
    server.routes["/403"] = lambda req: Reply(403, {}, b"forbidden")
    server.routes["/404"] = lambda req: Reply(404, {}, b"missing")
    server.routes["/410"] = lambda req: Reply(410, {}, b"gone")
    server.routes["/412"] = lambda req: Reply(412, {}, b"<script>challenge()</script>")
    server.routes["/521"] = lambda req: Reply(521, {}, b"")
    server.routes["/challenge-page"] = lambda req: Reply(
        200,
        {"Content-Type": "text/html; charset=utf-8"},
        "<html><head><title>访问验证</title></head><body>请稍候</body></html>".encode(),
    )
    cloudflare = (
        b"<html><head><title>Just a moment...</title></head><body>"
        b'<script src="/cdn-cgi/challenge-platform/h/b/orchestrate/jsch/v1"></script></body></html>'
    )
    server.routes["/403-challenge"] = lambda req: Reply(
        403, {"Content-Type": "text/html"}, cloudflare
    )
    server.routes["/503-challenge"] = lambda req: Reply(
        503, {"Content-Type": "text/html"}, cloudflare
    )
    server.routes["/challenge-markup"] = lambda req: Reply(
        200,
        {"Content-Type": "text/html"},
        b'<html><body><div id="captcha-container"></div></body></html>',
    )
    server.routes["/mentions-verification"] = lambda req: Reply(
        200,
        {"Content-Type": "text/html; charset=utf-8"},
        "<html><head><title>关于网络安全的通知</title></head><body><p>加强安全验证和访问验证管理。</p></body></html>".encode(),
    )

    def reset(req: Request) -> Reply:
        raise ResetConnection

    server.routes["/reset"] = reset
    server.routes["/truncated"] = lambda req: Reply(200, {"Content-Length": "1000"}, b"only ten b")
    server.routes["/endless"] = lambda req: Reply(
        200, {"Content-Type": "application/octet-stream"}, itertools.repeat(b"x" * 8192)
    )
    server.routes["/huge-declared"] = lambda req: Reply(
        200, {"Content-Length": "5000000000", "Connection": "close"}, iter([b"x"])
    )
    server.routes["/drip"] = lambda req: Reply(200, {}, _drip())
    server.routes["/loop-a"] = lambda req: Reply(302, {"Location": "/loop-b"}, b"")
    server.routes["/loop-b"] = lambda req: Reply(302, {"Location": "/loop-a"}, b"")
    server.routes["/redirect-ok"] = lambda req: Reply(301, {"Location": "/hop"}, b"")
    server.routes["/hop"] = lambda req: Reply(307, {"Location": server.url("/ok")}, b"")
    server.routes["/ok"] = lambda req: Reply(200, {"Content-Type": "text/plain"}, b"fine")
    server.routes["/redirect-out"] = lambda req: Reply(
        302, {"Location": "https://attacker.example/steal"}, b""
    )
    server.routes["/gbk-no-charset"] = lambda req: Reply(
        200, {"Content-Type": "text/html"}, GBK_PAGE.encode("gbk")
    )
    server.routes["/lying-latin1"] = lambda req: Reply(
        200, {"Content-Type": "text/html; charset=iso-8859-1"}, UTF8_PAGE.encode()
    )
    server.routes["/lying-utf8"] = lambda req: Reply(
        200, {"Content-Type": "text/html; charset=utf-8"}, GBK_PAGE.encode("gbk")
    )
    server.routes["/meta-gbk"] = lambda req: Reply(
        200,
        {"Content-Type": "text/html"},
        GBK_PAGE.replace("<head>", '<head><meta charset="gb2312">').encode("gbk"),
    )
    server.routes["/sleepy"] = lambda req: Reply(200, {}, b"ok", delay=0.2)


def _drip() -> Iterator[bytes]:
    for _ in range(100):
        time.sleep(0.1)
        yield b"."


@pytest.fixture(scope="session")
def _fault_server() -> Iterator[LoopbackServer]:
    server = LoopbackServer(SITE / "static")
    _fault_routes(server)
    with server:
        yield server


@pytest.fixture
def fault(_fault_server: LoopbackServer) -> LoopbackServer:
    """The fault server with fresh request counts (routes that count hits start over), once the
    slow answers an earlier test gave up on are over (they would count as in flight)."""
    deadline = time.monotonic() + 15
    while _fault_server.in_flight and time.monotonic() < deadline:
        time.sleep(0.05)
    _fault_server.reset_counts()
    return _fault_server


def peak_in_flight(server: LoopbackServer, path: str) -> int:
    """Most requests for ``path`` the server had in flight at once, from its log: a slow
    request of another path that an earlier test gave up on, still arriving, is not counted."""
    spans = [(r.started, r.finished or float("inf")) for r in server.log if r.path == path]
    events = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    peak = current = 0
    for _, step in events:  # at equal times an end (-1) sorts first: touching is not overlapping
        current += step
        peak = max(peak, current)
    return peak


@pytest.fixture
def merics_site() -> Iterator[LoopbackServer]:
    """A MERICS-like site: feed, listing, China Industries and China Essentials briefs."""
    with LoopbackServer(SITE / "merics") as server:
        yield server
