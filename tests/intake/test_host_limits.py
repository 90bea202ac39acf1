"""Issues processed at once never put more requests on a host than ``per_host_concurrency``:
counted by the loopback server (in flight from the first byte read to the last byte written)."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from policywatch.devtools.loopback import LoopbackServer
from policywatch.devtools.sitegen import NOTICE_HOSTS, write_site
from policywatch.intake import run_plain
from policywatch.settings import Config
from policywatch.transport import HOST_MAP_ENV

REPO = Path(__file__).resolve().parents[2]
LIMIT = 3


def _config(folder: Path, state: Path) -> Config:
    shutil.copytree(REPO / "config", folder)
    (folder / "policywatch.yaml").write_text(
        f"state_url: sqlite:///{state}\n"
        "http:\n"
        f"  per_host_concurrency: {LIMIT}\n"
        "  per_host_interval: 0\n"
        "intake:\n"
        "  issue_concurrency: 16\n"
        "sources:\n"
        "  - name: merics\n"
        "    type: merics\n"
        "    feed_url: https://merics.org/en/rss.xml\n"
        "    listing_url: null\n",
        encoding="utf-8",
    )
    return Config(folder)


def test_concurrent_issues_keep_every_host_within_its_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = write_site(tmp_path / "site", issues=12, notices_per_issue=10)
    config = _config(tmp_path / "config", tmp_path / "state.db")
    with LoopbackServer(tmp_path / "site", latency=0.05) as server:
        monkeypatch.setenv(HOST_MAP_ENV, server.base)
        summary = asyncio.run(run_plain(config, alert_existing=True))
        by_host = dict(server.max_in_flight_by)
        requests = server.total_requests()

    assert {i.status for i in summary.issues} == {"new"}
    assert len(summary.issues) == 12
    assert requests == 1 + 12 + site.notice_count  # the feed, each issue, each notice once
    assert {n.status for n in summary.notices} == {"ok"}
    for host in NOTICE_HOSTS:
        assert by_host[host] <= LIMIT, f"{host}: {by_host[host]} requests at once"
    # and the issues really overlapped: a host saw more than one request at a time
    assert max(by_host[host] for host in NOTICE_HOSTS) > 1, by_host
