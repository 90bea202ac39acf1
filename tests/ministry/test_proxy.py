"""A per-host proxy (http.proxies, or a source's ``proxy``) routes a site through an egress that
works; credentials come from the environment and never show."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from policywatch.http import PoliteClient
from policywatch.settings import Config, HttpSettings


class _Proxy(BaseHTTPRequestHandler):
    """Answers every absolute-form request itself and remembers the request line."""

    seen: ClassVar[list[tuple[str, str | None]]] = []

    def do_GET(self) -> None:
        _Proxy.seen.append((self.path, self.headers.get("Proxy-Authorization")))
        body = b"via the proxy"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def proxy() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Proxy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Proxy.seen.clear()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def fetch(settings: HttpSettings, url: str) -> bytes:
    async def go() -> bytes:
        async with PoliteClient(settings) as client:
            return (await client.get(url)).content

    return asyncio.run(go())


def test_a_listed_host_goes_through_its_proxy_and_others_do_not(proxy: str) -> None:
    settings = HttpSettings.model_validate(
        {"proxies": {"www.miit.gov.cn": proxy}, "per_host_interval": 0, "max_attempts": 1}
    )
    assert fetch(settings, "http://www.miit.gov.cn/zwgk/index.html") == b"via the proxy"
    assert _Proxy.seen == [("http://www.miit.gov.cn/zwgk/index.html", None)]
    assert settings.proxy_for("www.gov.cn") is None


def test_source_proxy_credentials_come_from_the_environment(
    tmp_path: Path, proxy: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "policywatch.yaml").write_text(
        "http:\n  per_host_interval: 0\n  max_attempts: 1\nsources:\n"
        "  - name: miit\n    type: ministry\n    site: miit\n"
        "    list_urls: [http://www.miit.gov.cn/zwgk/zcwj/wjfb/tz/index.html]\n"
        f"    proxy: http://desk:${{EGRESS_PASSWORD}}@{proxy.removeprefix('http://')}\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("EGRESS_PASSWORD", "s3cret-pw")
    http = Config(tmp_path).app.http
    assert "s3cret-pw" not in repr(http)
    assert fetch(http, "http://www.miit.gov.cn/zwgk/zcwj/wjfb/tz/index.html") == b"via the proxy"
    [(_, auth)] = _Proxy.seen
    assert auth is not None
    assert auth.startswith("Basic ")


def test_an_unset_proxy_variable_is_named_with_its_line(tmp_path: Path) -> None:
    from policywatch.errors import ConfigError

    (tmp_path / "policywatch.yaml").write_text(
        "http:\n  proxies:\n    www.miit.gov.cn: http://u:${NOT_SET_PW}@egress:3128\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=r"policywatch.yaml:3: .*NOT_SET_PW is not set"):
        _ = Config(tmp_path).app
