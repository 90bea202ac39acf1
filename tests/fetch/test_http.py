"""The polite client against the loopback fault server: what it did, not only that it survived."""

from __future__ import annotations

import asyncio
import logging
import socket

import httpx
import pytest

from policywatch.devtools.loopback import LoopbackServer
from policywatch.errors import (
    BlockedError,
    DisallowedHostError,
    FetchError,
    NotFoundError,
    TooLargeError,
    UnresolvedHostError,
)
from policywatch.http import PoliteClient, fetch_url, host_key
from policywatch.settings import HttpSettings

from .conftest import GBK_PAGE, UTF8_PAGE, Sleeps, peak_in_flight

pytestmark = pytest.mark.anyio


async def get(settings: HttpSettings, sleeps: Sleeps, url: str, **kw: str) -> object:
    async with PoliteClient(settings, sleep=sleeps) as client:
        return await client.get(url, **kw)


async def test_500_then_200_retries_once_with_backoff(
    fault: LoopbackServer, http_settings: HttpSettings, sleeps: Sleeps
) -> None:
    async with PoliteClient(http_settings, sleep=sleeps) as client:
        result = await client.get(fault.url("/500-then-200"))
        assert client.requests_made == {host_key(fault.base): 2}
    assert (result.status, result.content, result.attempts) == (200, b"ok", 2)
    assert fault.counts["/500-then-200"] == 2
    assert len(sleeps.waits) == 1
    assert http_settings.backoff_base / 2 <= sleeps.waits[0] <= http_settings.backoff_base


async def test_408_is_retried(
    fault: LoopbackServer, http_settings: HttpSettings, sleeps: Sleeps
) -> None:
    result = await get(http_settings, sleeps, fault.url("/408-then-200"))
    assert getattr(result, "attempts", None) == 2
    assert len(sleeps.waits) == 1


async def test_persistent_503_gives_up_after_max_attempts_with_growing_backoff(
    fault: LoopbackServer, http_settings: HttpSettings, sleeps: Sleeps
) -> None:
    with pytest.raises(FetchError) as info:
        await get(http_settings, sleeps, fault.url("/503"))
    assert type(info.value) is FetchError
    assert (info.value.status, info.value.attempts) == (503, 3)
    assert fault.counts["/503"] == 3
    base = http_settings.backoff_base
    assert len(sleeps.waits) == 2
    assert base / 2 <= sleeps.waits[0] <= base
    assert base <= sleeps.waits[1] <= 2 * base


async def test_429_retry_after_seconds_is_honoured(
    fault: LoopbackServer, http_settings: HttpSettings, sleeps: Sleeps
) -> None:
    result = await get(http_settings, sleeps, fault.url("/429-seconds"))
    assert getattr(result, "attempts", None) == 2
    assert sleeps.waits == [3.0]


async def test_429_retry_after_http_date_is_honoured(
    fault: LoopbackServer, http_settings: HttpSettings, sleeps: Sleeps
) -> None:
    result = await get(http_settings, sleeps, fault.url("/429-date"))
    assert getattr(result, "attempts", None) == 2
    assert len(sleeps.waits) == 1
    assert 20 < sleeps.waits[0] <= 30  # the date is 30 s ahead when the server sends it


async def test_retry_after_is_capped(
    fault: LoopbackServer, http_settings: HttpSettings, sleeps: Sleeps
) -> None:
    settings = http_settings.model_copy(update={"retry_after_cap": 7.0})
    await get(settings, sleeps, fault.url("/429-long"))
    assert sleeps.waits == [7.0]


@pytest.mark.parametrize("path", ["/403"])
async def test_other_4xx_is_not_retried(
    fault: LoopbackServer, http_settings: HttpSettings, sleeps: Sleeps, path: str
) -> None:
    with pytest.raises(FetchError) as info:
        await get(http_settings, sleeps, fault.url(path))
    assert (info.value.status, info.value.attempts) == (403, 1)
    assert sleeps.waits == []
    assert fault.counts[path] == 1


@pytest.mark.parametrize(("path", "status"), [("/404", 404), ("/410", 410)])
async def test_gone_is_not_found_without_retry(
    fault: LoopbackServer, http_settings: HttpSettings, sleeps: Sleeps, path: str, status: int
) -> None:
    with pytest.raises(NotFoundError) as info:
        await get(http_settings, sleeps, fault.url(path))
    assert (info.value.status, info.value.attempts) == (status, 1)
    assert fault.counts[path] == 1
    assert sleeps.waits == []


async def test_slow_response_times_out_on_every_attempt(
    fault: LoopbackServer, http_settings: HttpSettings, sleeps: Sleeps
) -> None:
    settings = http_settings.model_copy(update={"max_attempts": 2})
    with pytest.raises(FetchError) as info:
        await get(settings, sleeps, fault.url("/slow"))
    assert info.value.status is None
    assert info.value.attempts == 2
    assert "timeout" in info.value.reason.lower()
    assert fault.counts["/slow"] == 2
    assert len(sleeps.waits) == 1


async def test_slow_once_then_fast_succeeds_on_retry(
    fault: LoopbackServer, http_settings: HttpSettings, sleeps: Sleeps
) -> None:
    result = await get(http_settings, sleeps, fault.url("/slow-once"))
    assert getattr(result, "attempts", None) == 2
    assert fault.counts["/slow-once"] == 2


async def test_total_timeout_cuts_a_dripping_body(
    fault: LoopbackServer, http_settings: HttpSettings, sleeps: Sleeps
) -> None:
    settings = http_settings.model_copy(update={"total_timeout": 0.4, "max_attempts": 1})
    with pytest.raises(FetchError) as info:
        await get(settings, sleeps, fault.url("/drip"))
    assert "within 0.4s" in info.value.reason
    assert info.value.attempts == 1


async def test_connection_reset_is_retried_then_reported(
    fault: LoopbackServer, http_settings: HttpSettings, sleeps: Sleeps
) -> None:
    with pytest.raises(FetchError) as info:
        await get(http_settings, sleeps, fault.url("/reset"))
    assert type(info.value) is FetchError
    assert (info.value.status, info.value.attempts) == (None, 3)
    assert "connection failed: connection reset or closed by the server (" in info.value.reason
    assert fault.counts["/reset"] == 3
    assert len(sleeps.waits) == 2


async def test_a_host_name_that_does_not_resolve_is_tried_once_per_run(
    http_settings: HttpSettings, sleeps: Sleeps, unresolvable_host: str
) -> None:
    settings = http_settings.model_copy(update={"allowed_hosts": [unresolvable_host]})
    async with PoliteClient(settings, sleep=sleeps) as client:
        with pytest.raises(UnresolvedHostError) as first:
            await client.get(f"http://{unresolvable_host}/en/rss.xml")
        with pytest.raises(UnresolvedHostError) as second:
            await client.get(f"http://{unresolvable_host}/en/analysis")
        assert client.unresolved_hosts == {unresolvable_host}
        assert client.requests_made == {unresolvable_host: 1}  # the second never left
    assert (first.value.attempts, second.value.attempts) == (1, 0)
    assert "does not resolve" in first.value.reason
    assert "earlier in this run" in second.value.reason
    assert "network" in (first.value.hint or "")
    assert sleeps.waits == []


async def test_a_temporary_name_resolution_failure_is_retried(
    http_settings: HttpSettings, sleeps: Sleeps
) -> None:
    """EAI_AGAIN ("temporary failure in name resolution") may heal: retried like any connect error."""
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        try:
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        except socket.gaierror as exc:
            raise httpx.ConnectError(str(exc), request=request) from exc

    transport = httpx.MockTransport(handler)
    async with PoliteClient(http_settings, sleep=sleeps, transport=transport) as client:
        with pytest.raises(FetchError) as info:
            await client.get("http://127.0.0.1:9/feed")
        assert client.unresolved_hosts == set()
    assert type(info.value) is FetchError
    assert info.value.attempts == http_settings.max_attempts == len(calls)
    assert len(sleeps.waits) == http_settings.max_attempts - 1


async def test_truncated_body_is_an_error_not_a_short_page(
    fault: LoopbackServer, http_settings: HttpSettings, sleeps: Sleeps
) -> None:
    with pytest.raises(FetchError) as info:
        await get(http_settings, sleeps, fault.url("/truncated"))
    assert info.value.attempts == 3
    assert fault.counts["/truncated"] == 3


async def test_redirect_loop_is_stopped(
    fault: LoopbackServer, http_settings: HttpSettings, sleeps: Sleeps
) -> None:
    with pytest.raises(FetchError) as info:
        await get(http_settings, sleeps, fault.url("/loop-a"))
    assert "redirect loop" in info.value.reason
    assert fault.counts["/loop-a"] == 1
    assert fault.counts["/loop-b"] == 1


async def test_too_many_redirects(
    fault: LoopbackServer, http_settings: HttpSettings, sleeps: Sleeps
) -> None:
    settings = http_settings.model_copy(update={"max_redirects": 1})
    with pytest.raises(FetchError, match="more than 1 redirects"):
        await get(settings, sleeps, fault.url("/redirect-ok"))
    assert fault.counts["/ok"] == 0


async def test_redirects_inside_the_allow_list_are_followed(
    fault: LoopbackServer, http_settings: HttpSettings, sleeps: Sleeps
) -> None:
    async with PoliteClient(http_settings, sleep=sleeps) as client:
        result = await client.get(fault.url("/redirect-ok"))
        assert client.requests_made[host_key(fault.base)] == 3
    assert (result.url, result.content) == (fault.url("/ok"), b"fine")


async def test_redirect_outside_the_allow_list_is_not_followed(
    fault: LoopbackServer, http_settings: HttpSettings, sleeps: Sleeps
) -> None:
    async with PoliteClient(http_settings, sleep=sleeps) as client:
        with pytest.raises(DisallowedHostError) as info:
            await client.get(fault.url("/redirect-out"))
        assert list(client.requests_made) == [host_key(fault.base)]
    assert info.value.url == "https://attacker.example/steal"
    assert fault.url("/redirect-out") in info.value.reason


async def test_disallowed_url_is_never_requested(http_settings: HttpSettings) -> None:
    async with PoliteClient(http_settings) as client:
        with pytest.raises(DisallowedHostError):
            await client.get("https://example.com/")
        assert client.requests_made == {}


async def test_endless_body_is_cut_at_the_cap(
    fault: LoopbackServer, http_settings: HttpSettings, sleeps: Sleeps
) -> None:
    with pytest.raises(TooLargeError) as info:
        await get(http_settings, sleeps, fault.url("/endless"))
    assert info.value.attempts == 1
    assert str(http_settings.max_bytes) in info.value.reason
    assert sleeps.waits == []


async def test_declared_huge_body_is_refused_before_reading(
    fault: LoopbackServer, http_settings: HttpSettings, sleeps: Sleeps
) -> None:
    with pytest.raises(TooLargeError, match="Content-Length 5000000000"):
        await get(http_settings, sleeps, fault.url("/huge-declared"))


async def test_conditional_get_reports_304_as_not_modified(
    fault: LoopbackServer, http_settings: HttpSettings, sleeps: Sleeps
) -> None:
    async with PoliteClient(http_settings, sleep=sleeps) as client:
        first = await client.get(fault.url("/page.html"))
        again = await client.get(fault.url("/page.html"), etag=first.etag)
        since = await client.get(fault.url("/page.html"), last_modified=first.last_modified)
    assert first.etag
    assert first.last_modified
    assert not first.not_modified
    assert (again.status, again.not_modified, again.content) == (304, True, b"")
    assert again.etag == first.etag
    assert since.not_modified
    sent = [r.headers for r in fault.log]
    assert sent[1]["if-none-match"] == first.etag
    assert sent[2]["if-modified-since"] == first.last_modified


@pytest.mark.parametrize(
    "path",
    ["/412", "/521", "/challenge-page", "/challenge-markup", "/403-challenge", "/503-challenge"],
)
async def test_challenges_are_blocked_not_retried(
    fault: LoopbackServer, http_settings: HttpSettings, sleeps: Sleeps, path: str
) -> None:
    with pytest.raises(BlockedError) as info:
        await get(http_settings, sleeps, fault.url(path))
    assert info.value.attempts == 1
    assert fault.counts[path] == 1
    assert sleeps.waits == []


async def test_challenge_is_logged_once_per_host(
    fault: LoopbackServer,
    http_settings: HttpSettings,
    sleeps: Sleeps,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="policywatch.http")
    async with PoliteClient(http_settings, sleep=sleeps) as client:
        for path in ("/412", "/challenge-page", "/412"):
            with pytest.raises(BlockedError):
                await client.get(fault.url(path))
    warnings = [r for r in caplog.records if r.name == "policywatch.http"]
    assert len(warnings) == 1
    assert host_key(fault.base) in warnings[0].getMessage()


async def test_a_notice_that_mentions_verification_is_not_a_challenge(
    fault: LoopbackServer, http_settings: HttpSettings, sleeps: Sleeps
) -> None:
    result = await get(http_settings, sleeps, fault.url("/mentions-verification"))
    assert "访问验证管理" in getattr(result, "text", "")


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/gbk-no-charset", GBK_PAGE),
        ("/meta-gbk", GBK_PAGE.replace("<head>", '<head><meta charset="gb2312">')),
        ("/lying-latin1", UTF8_PAGE),
        ("/lying-utf8", GBK_PAGE),
    ],
)
async def test_decoding(
    fault: LoopbackServer, http_settings: HttpSettings, sleeps: Sleeps, path: str, expected: str
) -> None:
    result = await get(http_settings, sleeps, fault.url(path))
    assert getattr(result, "text", None) == expected
    assert getattr(result, "encoding", None) in ("gb18030", "utf-8")


async def test_user_agent_and_referer_are_sent(
    fault: LoopbackServer, http_settings: HttpSettings, sleeps: Sleeps
) -> None:
    await get(http_settings, sleeps, fault.url("/ok"), referer="https://merics.org/en/x")
    headers = fault.log[0].headers
    assert headers["user-agent"] == http_settings.user_agent
    assert headers["referer"] == "https://merics.org/en/x"


async def test_per_host_concurrency_is_measured_on_the_server(
    fault: LoopbackServer, http_settings: HttpSettings, sleeps: Sleeps
) -> None:
    async with PoliteClient(http_settings, sleep=sleeps) as client:
        results = await asyncio.gather(*(client.get(fault.url("/sleepy")) for _ in range(8)))
    assert len(results) == 8
    assert fault.counts["/sleepy"] == 8
    assert peak_in_flight(fault, "/sleepy") == http_settings.per_host_concurrency


async def test_per_host_interval_spaces_request_starts(
    fault: LoopbackServer, http_settings: HttpSettings, sleeps: Sleeps
) -> None:
    settings = http_settings.model_copy(update={"per_host_interval": 5.0})
    async with PoliteClient(settings, sleep=sleeps) as client:
        for _ in range(3):
            await client.get(fault.url("/ok"))
    # The recorded waits never sleep, so each next slot is booked 5 s after the previous one.
    assert len(sleeps.waits) == 2
    assert 4.0 < sleeps.waits[0] <= 5.0
    assert 9.0 < sleeps.waits[1] <= 10.0


def test_is_allowed() -> None:
    client = PoliteClient(HttpSettings(allowed_hosts=["docs.example.net"]))
    assert client.is_allowed("https://www.miit.gov.cn/zwgk/art/2024/art_x.html")
    assert client.is_allowed("https://images.mofcom.gov.cn/a.pdf")  # *.mofcom.gov.cn
    assert client.is_allowed("http://docs.example.net/a")
    assert not client.is_allowed("https://miit.gov.cn.evil.com/")
    assert not client.is_allowed("https://evilmofcom.gov.cn/")
    assert not client.is_allowed("ftp://www.gov.cn/file")
    assert not client.is_allowed("not a url")


def test_fetch_url_is_a_sync_convenience(
    fault: LoopbackServer, http_settings: HttpSettings
) -> None:
    result = fetch_url(fault.url("/ok"), http_settings)
    assert (result.status, result.content, result.attempts) == (200, b"fine", 1)


async def test_redirect_without_location_is_an_error() -> None:
    """Edge case through MockTransport: a 302 with no Location header."""
    import httpx

    transport = httpx.MockTransport(lambda request: httpx.Response(302))
    settings = HttpSettings(allowed_hosts=["mock.test"], per_host_interval=0)
    async with PoliteClient(settings, transport=transport) as client:
        with pytest.raises(FetchError, match="unusable Location") as info:
            await client.get("https://mock.test/a")
    assert (info.value.status, info.value.attempts) == (302, 1)
