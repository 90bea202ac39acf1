"""Faults on the way in: the feed, issue pages and notices answer badly.

Each case: a run with the fault (the user sees one clear line, the run ends as documented), the
fault healed, a run again; then the ledger: every alert a clean run sends arrived, none twice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from policywatch.demo import DemoWorld
from policywatch.devtools.bombs import inflating, pdf_bomb
from policywatch.devtools.loopback import Handler, LoopbackServer, Reply, Request, ResetConnection

from .harness import FEED, FaultCase, Outcome, tune

FEED_URL = "https://merics.org/en/rss.xml"
AI_SLUG = "ai-plus-manufacturing-hydrogen-pipelines-data-exchanges"
AI_PAGE = f"/merics.org/en/merics-briefs/{AI_SLUG}"  # the AI issue's page, as the site sees it
AI_URL = f"https://{AI_PAGE.lstrip('/')}"
AI_FAILED = f"issue merics · {AI_SLUG} failed: "  # the warning of an issue that failed
MIIT_NOTICE = (
    "/www.miit.gov.cn/zwgk/zcwj/wjfb/tz/art/2026/art_3b1f0c2a9d8e4f6a8c7b5e4d3a2f1e0d.html"
)
PEAK_MB = 400  # a run's peak memory under a bomb (benchmarks/faults.py, PEAK_GOAL_MB)


def feed_bytes(world: DemoWorld) -> bytes:
    return (world.root / "site" / FEED.lstrip("/")).read_bytes()


def healed(world: DemoWorld, *paths: str) -> None:
    for path in paths:
        del world.site.routes[path]


def no_traceback(outcome: Outcome) -> None:
    assert "Traceback" not in outcome.output, outcome.tail()


# -- the feed ---------------------------------------------------------------------------------


def reset(request: Request) -> Reply:
    raise ResetConnection


def slow(feed: bytes) -> Handler:
    """The whole feed, but only after the read timeout (FAST_HTTP: 2 s) has passed."""
    return lambda request: Reply(200, {"Content-Type": "application/rss+xml"}, feed, delay=3)


def cut_short(feed: bytes) -> Handler:
    """Half the feed, with a Content-Length that promises all of it."""
    headers = {"Content-Type": "application/rss+xml", "Content-Length": str(len(feed))}
    return lambda request: Reply(200, headers, feed[: len(feed) // 2])


def cut_mid_xml(feed: bytes) -> Handler:
    """Half the feed as a complete response (a proxy that stopped mid-transfer): well-framed
    HTTP, broken XML. Before the fix it was read as a feed with fewer items and nothing said."""
    return lambda request: Reply(
        200, {"Content-Type": "application/rss+xml"}, feed[: len(feed) // 2]
    )


FEED_FAULTS: dict[str, tuple[Callable[[bytes], Handler], str, int]] = {
    # name: (the feed's handler, given the good feed; the cause the user reads; requests made)
    "500": (
        lambda feed: lambda request: Reply(500, {"Content-Type": "text/plain"}, b"down"),
        "server kept failing (HTTP 500, 2 attempt(s))",
        2,
    ),
    "429-retry-after": (
        lambda feed: (
            lambda request: Reply(
                429, {"Content-Type": "text/plain", "Retry-After": "1"}, b"slow down"
            )
        ),
        "server kept failing (HTTP 429, 2 attempt(s))",
        2,
    ),
    "timeout": (slow, "timeout (ReadTimeout) (no response, 2 attempt(s))", 2),
    "reset": (
        lambda feed: reset,
        "connection failed: connection reset or closed by the server (ReadError) "
        "(no response, 2 attempt(s))",
        2,
    ),
    "cut-short": (
        cut_short,
        "connection failed: peer closed connection without sending complete message body",
        2,
    ),
    "cut-mid-xml": (cut_mid_xml, "feed is cut off (Premature end of data in tag ", 1),
}


def test_feed_faults_one_after_another_then_up(
    world: DemoWorld, run: Callable[..., Outcome], case: FaultCase, clean_alerts: Counter[str]
) -> None:
    """Each feed fault in its own run on one world (the MIIT list works all along, so each run
    completes with one problem), then the feed is back and every alert arrives once."""
    good = feed_bytes(world)
    for fault, (handler, cause, requests) in FEED_FAULTS.items():
        world.site.reset_counts()
        world.site.routes[FEED] = handler(good)
        down = run()
        assert down.code == 1, (fault, down.tail())
        assert len(down.lines(f"source merics failed: {FEED_URL}: {cause}")) == 1, down.tail()
        assert "completed with 1 problem(s):" in down.output, fault
        no_traceback(down)
        asked = [r for r in world.site.log if r.path == FEED]
        assert len(asked) == requests, fault
        if fault == "429-retry-after":  # the second attempt waited as long as the server asked
            assert asked[1].started - asked[0].started >= 0.95
        case.tried(fault, down)
    healed(world, FEED)
    up = run()
    assert up.code == 0, up.tail()
    no_traceback(up)
    assert case.settle(world.messages(), clean_alerts) == (0, 0)


# -- an issue page ----------------------------------------------------------------------------


def gzip_bomb(request: Request) -> Reply:
    """1 MB on the wire, 1,000 MB inflated, streamed without a Content-Length: only the decoded
    size can trip the 20 MB cap."""
    body = inflating(1000, "gzip")
    chunks = (body[i : i + 65_536] for i in range(0, len(body), 65_536))
    return Reply(200, {"Content-Type": "text/html", "Content-Encoding": "gzip"}, chunks)


def deep_nesting(request: Request) -> Reply:
    depth = 20_000  # far past the parsers' 256 and Python's recursion limit
    body = b"<html><body>" + b"<div>" * depth + b"x" + b"</div>" * depth + b"</body></html>"
    return Reply(200, {"Content-Type": "text/html; charset=utf-8"}, body)


MAINTENANCE = (
    b"<html><head><title>Maintenance | Merics</title></head><body><h1>We are under maintenance"
    b"</h1><p>merics.org is down for scheduled maintenance. Please come back later.</p></body>"
    b"</html>"
)

ISSUE_FAULTS: dict[str, tuple[Handler, str, int]] = {
    # name: (the AI issue page's handler; the one line the user reads; exit code)
    "gzip-bomb": (gzip_bomb, f"{AI_FAILED}{AI_URL}: body exceeds 20000000 bytes (HTTP 200", 0),
    # pypdf stops inflating the 1,000 MB content stream at its own limit, and the parser says so
    "pdf-bomb": (
        lambda request: Reply(200, {"Content-Type": "application/pdf"}, pdf_bomb(1000)),
        f"{AI_FAILED}{AI_URL}: expected a PDF whose pages inflate to a sane size; a page's "
        "content passes pypdf's decompression limit (a compression bomb?)",
        1,  # an issue of the series that gives no items: the layout watch trips (a problem)
    ),
    "deep-nesting": (
        deep_nesting,
        f"{AI_FAILED}{AI_URL}: expected an HTML page nested at most 256 elements deep, "
        "this one is deeper",
        1,
    ),
    # a 200 page without the series label is not an issue with no items: it is not recorded,
    # and is tried again after notices.retry_delays (0 here)
    "maintenance-200": (
        lambda request: Reply(200, {"Content-Type": "text/html; charset=utf-8"}, MAINTENANCE),
        f"{AI_URL}: the page carries no series label (maintenance or error page?); "
        "trying again later",
        0,
    ),
    "maintenance-503": (
        lambda request: Reply(
            503, {"Content-Type": "text/html; charset=utf-8", "Retry-After": "1"}, MAINTENANCE
        ),
        f"{AI_FAILED}{AI_URL}: server kept failing (HTTP 503, 2 attempt(s))",
        0,  # README "Health": an issue page that failed to load is retried, not a problem
    ),
}


def test_issue_page_faults_one_after_another_then_up(
    world: DemoWorld, run: Callable[..., Outcome], case: FaultCase, clean_alerts: Counter[str]
) -> None:
    """The AI issue's page breaks in one way per run (a failed or unrecognised page is tried
    again on the next run), then it is back: its alerts arrive once, the others never twice."""
    tune(world, notices={"retry_delays": [0]})  # what waits for a retry is due on the next run
    for fault, (handler, line, code) in ISSUE_FAULTS.items():
        world.site.routes[AI_PAGE] = handler
        down = run()
        assert down.code == code, (fault, down.tail())
        assert len(down.lines(line)) == 1, down.tail()
        assert len(down.lines(AI_URL)) <= 2, down.tail()  # that line, and the problem if one
        no_traceback(down)
        assert down.peak_mb < PEAK_MB, (fault, down.peak_mb)
        assert len(world.messages()) == sum(clean_alerts.values()) - 6  # the AI issue's 6 wait
        case.tried(fault, down)
    healed(world, AI_PAGE)
    up = run()
    assert up.code == 0, up.tail()
    no_traceback(up)
    assert case.settle(world.messages(), clean_alerts) == (0, 0)


# -- redirects --------------------------------------------------------------------------------


def test_redirects_off_the_allow_list_then_up(
    world: DemoWorld,
    run: Callable[..., Outcome],
    case: FaultCase,
    clean_alerts: Counter[str],
) -> None:
    """An issue page redirects to a host outside the allow-list, a cited notice to a loopback
    server: neither is followed, each is one line, and the notice is read once it is back."""
    tune(world, notices={"retry_delays": [0]})
    with LoopbackServer() as elsewhere:
        elsewhere.routes["/n"] = lambda request: Reply(200, {"Content-Type": "text/html"}, b"x")
        world.site.routes[AI_PAGE] = lambda request: Reply(
            302, {"Location": "https://evil.example/steal"}, b""
        )
        world.site.routes[MIIT_NOTICE] = lambda request: Reply(
            302, {"Location": elsewhere.url("/n")}, b""
        )
        down = run()
        assert elsewhere.total_requests() == 0
    assert down.code == 0, down.tail()  # a failed page is retried next run: not a problem
    leaves = " leaves the allow-list (no response, 0 attempt(s))"
    issue = f"{AI_FAILED}https://evil.example/steal: redirect from {AI_URL}{leaves}"
    notice_url = f"https://{MIIT_NOTICE.lstrip('/')}"
    notice = f"notice {notice_url} failed: {elsewhere.url('/n')}: redirect from {notice_url}"
    assert len(down.lines(issue)) == 1, down.tail()
    assert len(down.lines(f"{notice}{leaves}; retried later")) == 1, down.tail()
    assert not [r for r in world.site.log if r.host == "evil.example"]  # not even via the map
    no_traceback(down)
    healed(world, AI_PAGE, MIIT_NOTICE)
    up = run()
    assert up.code == 0, up.tail()
    no_traceback(up)
    assert case.settle(world.messages(), clean_alerts) == (0, 0)
