"""What the client refuses: compression bombs past the cap (measured in memory, not time) and
allow-listed names that resolve to loopback or private addresses (DNS rebinding)."""

from __future__ import annotations

import gzip
import ipaddress
import tracemalloc
import zlib
from collections.abc import Iterator
from typing import Any

import anyio
import pytest

from policywatch import netguard
from policywatch.devtools.bombs import inflating
from policywatch.devtools.loopback import LoopbackServer, Reply
from policywatch.errors import BlockedError, DisallowedHostError, FetchError, TooLargeError
from policywatch.http import PoliteClient
from policywatch.settings import AppSettings, HttpSettings
from policywatch.transport import HostMapTransport

pytestmark = pytest.mark.anyio

CAP = 1_000_000
PAGE = "<html><head><title>通知</title></head><body><p>关于电池回收的通知</p></body></html>"


def bomb(encoding: str) -> bytes:
    return inflating(1000, encoding)


def _chunks(body: bytes, size: int = 65_536) -> Iterator[bytes]:
    """Streamed without Content-Length, so only the decoded size can trip the cap."""
    return (body[i : i + size] for i in range(0, len(body), size))


@pytest.fixture
def site() -> Iterator[LoopbackServer]:
    server = LoopbackServer()
    for enc in ("gzip", "deflate"):
        server.routes[f"/bomb-{enc}"] = lambda req, enc=enc: Reply(
            200, {"Content-Type": "text/html", "Content-Encoding": enc}, _chunks(bomb(enc))
        )
    encoded = {
        "gzip": gzip.compress(PAGE.encode()),
        "x-gzip": gzip.compress(PAGE.encode()[:40]) + gzip.compress(PAGE.encode()[40:]),
        "deflate": zlib.compress(PAGE.encode()),
        "raw-deflate": zlib.compress(PAGE.encode())[2:-4],
        "gzip, deflate": zlib.compress(gzip.compress(PAGE.encode())),
    }
    for name, body in encoded.items():
        header = "deflate" if name == "raw-deflate" else name
        server.routes[f"/page/{name.replace(', ', '-')}"] = lambda req, b=body, h=header: Reply(
            200, {"Content-Type": "text/html; charset=utf-8", "Content-Encoding": h}, b
        )
    server.routes["/br"] = lambda req: Reply(
        200, {"Content-Type": "text/html", "Content-Encoding": "br"}, b"\x0b\x02\x80hello\x03"
    )
    server.routes["/corrupt"] = lambda req: Reply(
        200, {"Content-Type": "text/html", "Content-Encoding": "gzip"}, b"\x1f\x8bnot gzip at all"
    )
    challenge = b"<html><head><title>Just a moment...</title></head><body>wait</body></html>"
    server.routes["/403-gzip-challenge"] = lambda req: Reply(
        403, {"Content-Type": "text/html", "Content-Encoding": "gzip"}, gzip.compress(challenge)
    )
    server.routes["/ok"] = lambda req: Reply(200, {"Content-Type": "text/plain"}, b"fine")
    with server:
        yield server


def settings(**changes: Any) -> HttpSettings:
    base: dict[str, Any] = {"allowed_hosts": ["127.0.0.1"], "per_host_interval": 0}
    return HttpSettings(**{**base, "max_attempts": 1, "max_bytes": CAP, **changes})


async def _get(url: str, http: HttpSettings | None = None, **kw: Any) -> Any:
    async with PoliteClient(http or settings(), **kw) as client:
        return await client.get(url)


# -- compression bombs --------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
async def test_a_compression_bomb_costs_about_the_cap_in_memory(
    site: LoopbackServer, encoding: str
) -> None:
    """1 MB on the wire, 1000 MB decoded; httpx's own decoding peaked at about 150 MB here."""
    assert len(bomb(encoding)) < 1_100_000
    await _get(site.url("/ok"))  # connection set-up and lazy imports are not the body's cost
    tracemalloc.start()
    try:
        with pytest.raises(TooLargeError, match=f"body exceeds {CAP} bytes"):
            await _get(site.url(f"/bomb-{encoding}"))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 3 * CAP, f"peak {peak / 1e6:.1f} MB for a {CAP / 1e6:g} MB cap"


@pytest.mark.parametrize("name", ["gzip", "x-gzip", "deflate", "raw-deflate", "gzip-deflate"])
async def test_compressed_pages_within_the_cap_are_decoded(site: LoopbackServer, name: str) -> None:
    result = await _get(site.url(f"/page/{name}"))
    assert result.text == PAGE
    assert site.log[-1].headers.get("accept-encoding") == "gzip, deflate"


async def test_a_body_that_decodes_past_the_cap_is_refused_even_when_small_on_the_wire(
    site: LoopbackServer,
) -> None:
    with pytest.raises(TooLargeError):
        await _get(site.url("/page/gzip"), settings(max_bytes=len(PAGE.encode()) - 1))
    assert (await _get(site.url("/page/gzip"), settings(max_bytes=len(PAGE.encode())))).text == PAGE


@pytest.mark.parametrize(
    ("path", "reason"),
    [("/br", "unsupported Content-Encoding 'br'"), ("/corrupt", "cannot decode the body")],
)
async def test_unsupported_or_corrupt_encodings_are_one_clear_error(
    site: LoopbackServer, path: str, reason: str
) -> None:
    with pytest.raises(FetchError, match=reason):
        await _get(site.url(path))


async def test_a_compressed_challenge_page_is_still_recognised(site: LoopbackServer) -> None:
    with pytest.raises(BlockedError, match="Just a moment"):
        await _get(site.url("/403-gzip-challenge"))


# -- addresses, not only names ------------------------------------------------------------------


async def test_an_allowed_name_that_resolves_to_loopback_is_refused_before_connecting(
    site: LoopbackServer,
) -> None:
    url = f"http://localhost:{site.port}/ok"
    with pytest.raises(DisallowedHostError) as info:
        await _get(url, settings(allowed_hosts=["localhost"]))
    assert "localhost resolves to" in info.value.reason
    assert "(loopback), not a public address" in info.value.reason
    address = info.value.reason.split("resolves to ")[1].split(" ")[0]
    assert ipaddress.ip_address(address).is_loopback
    assert "http.allow_private_hosts" in (info.value.hint or "")
    assert info.value.attempts == 0
    assert site.total_requests() == 0  # never connected


async def test_allow_private_hosts_lets_a_listed_name_through(site: LoopbackServer) -> None:
    result = await _get(
        f"http://localhost:{site.port}/ok", settings(allow_private_hosts=["localhost"])
    )
    assert result.content == b"fine"
    assert site.log[-1].headers["host"] == f"localhost:{site.port}"  # the name, not the address


async def test_a_rebinding_name_is_resolved_once_and_the_checked_address_is_used(
    site: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A resolver that answers differently each time (public, then loopback) gets one question;
    the connection goes to the address that was checked, the Host header keeps the name."""
    answers = iter(["127.0.0.1", "203.0.113.7"])
    asked: list[str] = []

    async def resolver(host: str, port: int, **kw: Any) -> list[Any]:
        asked.append(host)
        return [(2, 1, 6, "", (next(answers), port))]

    monkeypatch.setattr(anyio, "getaddrinfo", resolver)
    with pytest.raises(DisallowedHostError, match=r"rebind\.example resolves to 127\.0\.0\.1"):
        await _get(
            f"http://rebind.example:{site.port}/ok", settings(allowed_hosts=["rebind.example"])
        )
    assert asked == ["rebind.example"]
    answers = iter(["127.0.0.1"])
    http = settings(allow_private_hosts=["rebind.example"])
    result = await _get(f"http://rebind.example:{site.port}/ok", http)
    assert result.content == b"fine"
    assert site.log[-1].headers["host"] == f"rebind.example:{site.port}"
    assert asked == ["rebind.example", "rebind.example"]  # once per connection, not per step


async def test_the_loopback_host_map_still_works(site: LoopbackServer) -> None:
    site.routes["/www.miit.gov.cn/notice.html"] = lambda req: Reply(200, {}, b"mapped")
    http = settings(allowed_hosts=[])
    result = await _get(
        "https://www.miit.gov.cn/notice.html", http, transport=HostMapTransport(site.base)
    )
    assert result.content == b"mapped"


async def test_an_ip_address_written_in_the_allow_list_is_used_as_written(
    site: LoopbackServer,
) -> None:
    assert (await _get(site.url("/ok"), settings(allowed_hosts=["127.0.0.1"]))).content == b"fine"


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("192.168.0.10", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "not globally routable"),
        ("8.8.8.8", None),
        ("2001:4860:4860::8888", None),
    ],
)
def test_what_counts_as_not_public(address: str, kind: str | None) -> None:
    assert netguard.not_public(ipaddress.ip_address(address)) == kind


def test_allow_private_hosts_are_validated_and_allowed() -> None:
    app = AppSettings.model_validate({"http": {"allow_private_hosts": ["Mirror.Intranet."]}})
    assert app.http.allow_private_hosts == ["mirror.intranet"]
    assert "mirror.intranet" in app.http.allow_list()
    with pytest.raises(ValueError, match="is not a host name"):
        AppSettings.model_validate({"http": {"allow_private_hosts": ["http://x/y"]}})
