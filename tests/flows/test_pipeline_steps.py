"""pipeline.py steps without Prefect: parsing, matching, alerts, summary, the loopback host map."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from flows.report import artifact_key, matches_markdown, to_markdown
from policywatch import pipeline as p
from policywatch.demo import SAMPLES, build_workspace
from policywatch.devtools.loopback import LoopbackServer
from policywatch.errors import PolicywatchError, StateError
from policywatch.models import Notice
from policywatch.settings import Config
from policywatch.transport import HostMapTransport

SITE = SAMPLES / "site" / "merics.org" / "en"
BATTERY = SITE / "merics-briefs" / "battery-passports-industrial-robots-rare-earth-tracing.html"
BATTERY_URL = (
    "https://merics.org/en/merics-briefs/battery-passports-industrial-robots-rare-earth-tracing"
)


@pytest.fixture
def rt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[p.Runtime]:
    build_workspace(tmp_path)
    monkeypatch.setenv("POLICYWATCH_STATE_URL", f"sqlite:///{tmp_path / 'state.db'}")
    runtime = p.open_runtime(Config(tmp_path / "config"), run_id="run-1")
    yield runtime
    runtime.close()


def battery(rt: p.Runtime) -> p.FetchedIssue:
    fetched = p.parse_issue_bytes(
        BATTERY.read_bytes(), BATTERY_URL, rt.config.bodies, source="merics"
    )
    assert fetched is not None
    return p.tag_issue(fetched, rt.taxonomy)


def test_parse_keeps_china_industries_and_drops_other_series(rt: p.Runtime) -> None:
    fetched = battery(rt)
    assert fetched.issue_id == BATTERY_URL
    assert {i.section for i in fetched.issue.items} == {"top", "policy_news", "corporate_news"}
    essentials = SITE / "merics-briefs" / "fuel-exports-emission-quotas-local-cadres.html"
    assert (
        p.parse_issue_bytes(essentials.read_bytes(), "https://merics.org/x", rt.config.bodies)
        is None
    )


def test_tagging_changes_the_hash_only_through_content(rt: p.Runtime) -> None:
    one, two = battery(rt), battery(rt)
    assert one.content_hash == two.content_hash
    assert any("CATL" in i.companies for i in one.issue.items)


def test_notices_add_their_sectors_and_companies_but_not_a_new_hash(rt: p.Runtime) -> None:
    fetched = battery(rt)
    item = fetched.issue.items[0]
    url = "https://www.miit.gov.cn/zwgk/zcwj/wjfb/tz/art/2026/art_0.html"
    notice = Notice(
        url=url, site="miit", title="关于推进船舶工业高质量发展的通知", body_text="中国船舶集团"
    )
    blocked = notice.model_copy(update={"url": url + "x", "status": "blocked", "body_text": "华为"})
    links = {item.id: [url, url + "x"]}
    tagged = p.tag_with_notices(fetched, [notice, blocked], links, rt.taxonomy)
    first = tagged.issue.items[0]
    assert "shipbuilding" not in item.sectors
    assert "shipbuilding" in first.sectors
    assert first.companies == [*item.companies, "CSSC"]  # not Huawei: blocked notices do not count
    assert tagged.content_hash == fetched.content_hash
    assert tagged.issue.items[1:] == fetched.issue.items[1:]


def test_match_new_items_then_skip_unchanged_unless_forced(rt: p.Runtime) -> None:
    fetched = battery(rt)
    changes = p.diff_issue(rt.store, fetched)
    assert set(changes.values()) == {"new"}
    matches = p.match_items(rt.matcher, fetched, changes, [], {})
    assert {m.watchlist for m in matches} >= {"ev-batteries", "export-controls"}

    alerts = p.build_alerts(rt.watchlists, matches, fetched.issue.items, changes, rt.run_id)
    assert len(alerts) == len(matches)  # one channel per demo watchlist
    assert all(a.key.endswith("|instant") and a.run_id == "run-1" for a in alerts)
    assert p.unqueued(rt.store, alerts) == alerts
    result = p.record_issue(rt.store, fetched, None, [], {}, alerts, rt.run_id)
    assert result.alerts_enqueued == len(alerts)
    assert p.is_known(rt.store, fetched)

    unchanged = p.diff_issue(rt.store, fetched)
    assert set(unchanged.values()) == {"unchanged"}
    assert p.match_items(rt.matcher, fetched, unchanged, [], {}) == []
    forced = p.match_items(rt.matcher, fetched, unchanged, [], {}, force=True)
    again = p.build_alerts(rt.watchlists, forced, fetched.issue.items, unchanged, rt.run_id)
    assert {a.key for a in again} == {a.key for a in alerts}  # same keys: the outbox dedupes
    assert p.unqueued(rt.store, again) == []
    assert p.record_issue(rt.store, fetched, None, [], {}, again, rt.run_id).alerts_enqueued == 0


def test_a_revised_item_gets_a_new_alert_key(rt: p.Runtime) -> None:
    fetched = battery(rt)
    matches = p.match_items(rt.matcher, fetched, {}, [], {})
    first = p.build_alerts(rt.watchlists, matches, fetched.issue.items, {}, "r1")
    revised = {m.item_id: "revised" for m in matches}
    second = p.build_alerts(rt.watchlists, matches, fetched.issue.items, revised, "r2")  # type: ignore[arg-type]
    assert not {a.key for a in first} & {a.key for a in second}
    assert all("@" in a.key.split("|")[1] for a in second)  # channel|item@hash|kind


def test_summary_markdown_and_table(rt: p.Runtime) -> None:
    fetched = battery(rt)
    changes = p.diff_issue(rt.store, fetched)
    matches = p.match_items(rt.matcher, fetched, changes, [], {})
    summary = p.RunSummary(run_id="r")
    summary.sources.append(p.SourceOutcome("merics", True, 1))
    p.summarise_issue(summary, fetched, changes, [], matches)
    data = json.loads(json.dumps(summary.to_dict()))
    assert data["issues"][0]["status"] == "new"
    markdown = to_markdown(summary)
    assert "Every battery gets a passport" in markdown
    table = matches_markdown(summary)
    assert f"# {len(matches)} match(es)" in table
    rows = [line for line in table.splitlines() if line.startswith("| ")][1:]
    assert len(rows) == len(matches)
    url = fetched.issue.issue.url or fetched.url
    assert all(f"]({url})" in row for row in rows)  # each item links to its issue
    assert (
        artifact_key("check-updates-Policy Watch", "summary")
        == "check-updates-policy-watch-summary"
    )


def test_check_reachable_fails_only_when_every_source_failed() -> None:
    p.check_reachable([p.SourceOutcome("a", False, error="down"), p.SourceOutcome("b", True)])
    with pytest.raises(PolicywatchError, match=r"no source was reachable.*a: down"):
        p.check_reachable([p.SourceOutcome("a", False, error="down")])


def test_unknown_source_names_are_reported(rt: p.Runtime) -> None:
    assert [s.name for s in p.selected_sources(rt.config, None)] == ["merics", "miit-notices"]
    with pytest.raises(PolicywatchError, match=r"unknown source.*nope"):
        p.selected_sources(rt.config, ["nope"])


def test_settle_marks_seen_only_what_was_processed_or_out_of_scope() -> None:
    from policywatch.sources import Candidate, SourceState, settle

    def cand(key: str) -> Candidate:
        return Candidate("merics", key, None, None, key)

    state = SourceState(seen=["a"], etag='"x"')
    outcomes = {
        "b": ("done", cand("b"), ""),
        "c": ("out_of_scope", cand("c"), "China Essentials"),
        "d": ("failed", cand("d"), "HTTP 503"),
        "e": ("unrecognised", cand("e"), "no series label"),
        "f": ("later", cand("f"), "before since"),
    }
    new = settle(state, outcomes, delays=[60.0])  # type: ignore[arg-type]
    assert new.seen == ["a", "b", "c"]
    assert set(new.pending) == {"d", "e"}
    assert new.pending["d"].next_at is None  # a failure: the very next run
    assert new.pending["e"].next_at is not None  # an unrecognised page: after a backoff
    assert new.etag == '"x"'  # the pending entries bring them back, not a full feed read
    again = settle(new, {"d": ("done", cand("d"), "")})
    assert "d" in again.seen
    assert set(again.pending) == {"e"}


def test_host_map_sends_real_urls_to_the_loopback_site(tmp_path: Path) -> None:
    (tmp_path / "www.miit.gov.cn" / "a").mkdir(parents=True)
    (tmp_path / "www.miit.gov.cn" / "a" / "n.html").write_text("<h1>ok</h1>", encoding="utf-8")

    async def get(url: str) -> httpx.Response:
        async with httpx.AsyncClient(transport=HostMapTransport(site.base)) as client:
            return await client.get(url)

    with LoopbackServer(tmp_path) as site:
        response = asyncio.run(get("https://www.miit.gov.cn/a/n.html?x=1"))
        assert response.status_code == 200
        assert str(response.url) == "https://www.miit.gov.cn/a/n.html?x=1"
        assert site.counts["/www.miit.gov.cn/a/n.html"] == 1
    with pytest.raises(StateError, match="only a loopback"):
        HostMapTransport("http://example.org:8080")
