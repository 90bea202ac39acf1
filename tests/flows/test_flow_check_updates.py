"""check-updates end to end over the loopback demo site: issues, notices, state, matches, e-mail."""

from __future__ import annotations

import datetime as dt
import re
import time
from typing import Any

import pytest
import sqlalchemy as sa

from flows.check_updates import check_updates
from policywatch.demo import DemoWorld
from policywatch.devtools.ministrysite import MIIT_API
from policywatch.store import Store
from policywatch.store.schema import alerts, issues, items
from tests.health.worlds import append_config

pytestmark = pytest.mark.usefixtures("prefect_api")

BATTERY_ISSUE = (
    "https://merics.org/en/merics-briefs/battery-passports-industrial-robots-rare-earth-tracing"
)
AI_ISSUE = (
    "https://merics.org/en/merics-briefs/ai-plus-manufacturing-hydrogen-pipelines-data-exchanges"
)
OLD_ISSUE = "https://merics.org/en/briefing/merics-china-industries-briefing-december-2020"
ESSENTIALS = "fuel-exports-emission-quotas-local-cadres"
MEE = "https://www.mee.gov.cn/xxgk2018/xxgk/xxgk03/202602/t20260224_1123456.html"
SAMR = "https://www.samr.gov.cn/zw/zfxxgk/fdzdgknr/zljds/art/2026/art_0f1e2d3c4b5a69788796a5b4c3d2e1f0.html"
NDRC = "https://www.ndrc.gov.cn/xxgk/zcfb/tz/202603/t20260310_1401234.html"
ROADMAP = (
    "https://www.miit.gov.cn/zwgk/zcwj/wjfb/tz/art/2026/art_5c4d3e2f1a0b49c8d7e6f5a4b3c2d1e0.html"
)


def rows(world: DemoWorld, table: sa.Table) -> list[Any]:
    with Store.open(f"sqlite:///{world.state_path}") as store, store.read() as conn:
        return list(conn.execute(sa.select(table)))


def match_rows(markdown: str) -> list[list[str]]:
    """The cells of the matches artifact's table rows (header and rule left out)."""
    lines = [ln for ln in markdown.splitlines() if ln.startswith("| ")]
    rows = [[c.strip() for c in re.split(r"(?<!\\)\|", ln)[1:-1]] for ln in lines]
    return [r for r in rows if r[0] != "watchlist"]  # one table per issue, each with a header


def subjects(world: DemoWorld) -> list[str]:
    return sorted(str(m["Subject"]) for m in world.messages())


def test_first_run_records_issues_notices_and_sends_alerts(world: DemoWorld, run_flow: Any) -> None:
    state = run_flow(check_updates)
    assert state.is_completed(), state.message
    summary = state.result()

    urls = {i["url"]: i["status"] for i in summary["issues"]}
    assert urls == {BATTERY_ISSUE: "new", AI_ISSUE: "new", OLD_ISSUE: "new", ROADMAP: "new"}
    assert not any(ESSENTIALS in u for u in urls)  # another series: never an issue

    notices = {n["url"]: n for n in summary["notices"]}
    assert notices[MEE]["status"] == "blocked"
    assert notices[SAMR]["status"] == "not_found"
    assert notices[NDRC]["status"] == "ok"
    assert "氢能管网" in (notices[NDRC]["title"] or "")  # the GBK page decoded
    assert sum(n["status"] == "ok" for n in notices.values()) >= 5

    stored_issues = {r.id for r in rows(world, issues)}
    assert stored_issues == set(urls)
    stored_items = rows(world, items)
    assert len(stored_items) == len(summary["items"])

    sent = rows(world, alerts)
    assert sent
    assert all(a.status == "sent" for a in sent)
    assert len(world.messages()) == len(sent) == sum(summary["sent"].values())
    assert len(summary["matches"]) == len(sent)  # one channel per demo watchlist
    tagged = {s.split("]")[0].lstrip("[") for s in subjects(world)}
    assert tagged == {"ev-batteries", "export-controls", "ai-and-data"}
    assert any("Rare-earth tracing" in s for s in subjects(world))


def test_second_run_sends_nothing_new(world: DemoWorld, run_flow: Any) -> None:
    assert run_flow(check_updates).is_completed()
    first = len(world.messages())
    before = [(r.id, r.content_hash, r.last_seen) for r in rows(world, items)]
    world.mail.clear()
    world.site.reset_counts()

    state = run_flow(check_updates)
    assert state.is_completed(), state.message
    summary = state.result()
    # one conditional request per feed or list URL, nothing else: the failed notices back off
    asked = sorted(r.path for r in world.site.log)
    assert asked == sorted(["/merics.org/en/rss.xml", MIIT_API]), asked
    assert all({"if-none-match", "if-modified-since"} & set(r.headers) for r in world.site.log)
    assert world.messages() == []
    assert summary["matches"] == []
    assert summary["items"] == []
    assert sum(summary["enqueued"].values()) == 0
    assert [(r.id, r.content_hash) for r in rows(world, items)] == [(i, h) for i, h, _ in before]
    assert len(rows(world, alerts)) == first

    world.add_update()
    third = run_flow(check_updates).result()
    assert [i["status"] for i in third["issues"]] == ["new"]
    assert world.messages(), "the fourth issue's matches are alerted"
    assert all("gallium" in s.lower() or "solid-state" in s.lower() for s in subjects(world))


def test_dry_run_matches_but_records_and_sends_nothing(
    world: DemoWorld, run_flow: Any, artifacts_of: Any
) -> None:
    state = run_flow(check_updates, dry_run=True)
    assert state.is_completed(), state.message
    summary = state.result()
    assert summary["dry_run"] is True
    assert summary["matches"]
    assert world.messages() == []
    assert rows(world, items) == []
    assert rows(world, alerts) == []

    arts = artifacts_of(state)
    cells = match_rows(arts["check-updates-matches"].data)
    assert {r[0] for r in cells} == {m["watchlist"] for m in summary["matches"]}
    assert "dry run" in arts["check-updates-matches"].data
    assert "dry run" in arts["check-updates-summary"].data

    # The same issues are still new for a real run afterwards.
    real = run_flow(check_updates).result()
    assert len(real["matches"]) == len(summary["matches"])


def test_since_limits_the_backfill(world: DemoWorld, run_flow: Any) -> None:
    summary = run_flow(check_updates, since=dt.date(2026, 3, 1), sources=["merics"]).result()
    assert [i["url"] for i in summary["issues"]] == [AI_ISSUE]


def test_a_failing_notice_host_does_not_fail_the_run_and_is_retried(
    world: DemoWorld, run_flow: Any
) -> None:
    broken = "/www.cac.gov.cn/2026-03/14/c_1773456789012345.htm"
    world.site.routes[broken] = lambda request: (500, {"Content-Type": "text/plain"}, b"oops")
    config = world.config_dir / "policywatch.yaml"  # retry failed notices on the very next run
    config.write_text(config.read_text("utf-8") + "\nnotices:\n  retry_delays: [0]\n", "utf-8")
    state = run_flow(check_updates)
    assert state.is_completed(), state.message
    summary = state.result()
    cac = [n for n in summary["notices"] if "cac.gov.cn" in n["url"]]
    assert [n["status"] for n in cac] == ["error"]
    assert {i["status"] for i in summary["issues"]} == {"new"}
    assert world.messages()

    del world.site.routes[broken]
    world.mail.clear()
    again = run_flow(check_updates).result()
    retried = {n["url"]: n["status"] for n in again["notices"]}
    assert any("cac.gov.cn" in u and s == "ok" for u, s in retried.items())
    assert retried[MEE] == "blocked"
    assert retried[SAMR] == "not_found"
    assert sum(again["enqueued"].values()) == 0
    assert world.messages() == []
    with Store.open(f"sqlite:///{world.state_path}") as store:
        fixed = store.notice("https://www.cac.gov.cn/2026-03/14/c_1773456789012345.htm")
    assert fixed is not None
    assert fixed.status == "ok"
    assert fixed.body_text


def test_artifacts_summarise_the_run_without_secrets(
    world: DemoWorld, run_flow: Any, artifacts_of: Any
) -> None:
    state = run_flow(check_updates)
    arts = artifacts_of(state)
    assert set(arts) == {"check-updates-summary", "check-updates-matches"}
    markdown = arts["check-updates-summary"].data
    for heading in (
        "## Issues",
        "## New and revised items",
        "## Notices",
        "## Matches per watchlist",
        "## Delivery per channel",
    ):
        assert heading in markdown
    assert "Rare-earth tracing" in markdown
    assert "blocked" in markdown
    assert "not_found" in markdown
    assert "| ev-batteries |" in markdown
    assert "| analyst-email | 13 | 13 | 13 | 13 | 0 |" in markdown  # enqueued, due, sent, items
    cells = match_rows(arts["check-updates-matches"].data)
    assert len(cells) == len(state.result()["matches"])
    # per issue: watchlist | item (linked to its issue) | why | change | notice
    # an issue on merics.org, or the MIIT column's own notice
    issue_link = re.compile(r"^\[.*\]\(https://(merics\.org|www\.miit\.gov\.cn)/")
    assert all(issue_link.match(r[1]) for r in cells), [r[1] for r in cells]
    assert all(r[2] and r[2] != "-" for r in cells)  # the reasons, third
    assert any("](https://www.miit.gov.cn/" in r[4] for r in cells)  # the cited notice, linked
    smtp = world.env["POLICYWATCH_DEMO_SMTP_URL"]
    port = smtp.split(":")[2].split("?")[0]
    for art in arts.values():
        assert "mailto" not in art.data
        assert port not in art.data


def test_a_broken_issue_fails_alone_and_is_retried_next_run(
    world: DemoWorld, run_flow: Any
) -> None:
    page = world.root / "site/merics.org/en/merics-briefs" / (AI_ISSUE.rsplit("/", 1)[1] + ".html")
    good = page.read_bytes()
    page.write_text(
        "<html><body><main><div>MERICS China Industries</div><h1>Broken</h1>"
        "<p>No stories here.</p></main></body></html>",
        encoding="utf-8",
    )
    state = run_flow(check_updates)
    assert state.is_completed(), state.message
    status = {i["url"]: i["status"] for i in state.result()["issues"]}
    assert status[AI_ISSUE] == "failed"
    assert status[BATTERY_ISSUE] == "new"
    assert status[OLD_ISSUE] == "new"

    page.write_bytes(good)
    world.mail.clear()
    again = run_flow(check_updates).result()
    assert [(i["url"], i["status"]) for i in again["issues"]] == [(AI_ISSUE, "new")]
    assert world.messages()


def test_an_unknown_source_fails_the_run_with_its_artifact(
    world: DemoWorld, run_flow: Any, artifacts_of: Any
) -> None:
    state = run_flow(check_updates, sources=["nope"])
    assert state.is_failed()
    assert "unknown source(s): nope" in state.message
    summary_md = artifacts_of(state)["check-updates-summary"].data
    assert summary_md.startswith(
        "# check-updates: failed\n\n**Run failed: unknown source(s): nope**\n\n"
        "Hint: configured sources: merics, miit-notices\n"
    )  # the cause first, not at the bottom
    assert rows(world, items) == []


def test_no_reachable_source_fails_the_run(
    world: DemoWorld, run_flow: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = world.config_dir / "policywatch.yaml"
    text = config.read_text(encoding="utf-8")
    text = text.replace(
        "feed_url: https://merics.org/en/rss.xml", "feed_url: https://merics.org/en/gone.xml"
    )
    text = text.replace("listing_url: null", "listing_url: https://merics.org/en/gone")
    config.write_text(text, encoding="utf-8")

    state = run_flow(check_updates, sources=["merics"])
    assert state.is_failed()
    assert "no source was reachable" in state.message
    # one attempt each (a 404 is not retried) and no task retries on top of the client's
    assert world.site.counts["/merics.org/en/gone"] == 1
    assert world.site.counts["/merics.org/en/gone.xml"] == 1
    with Store.open(f"sqlite:///{world.state_path}") as store:
        assert store.source_state("merics")["consecutive_failures"] == 1  # type: ignore[index]


def test_a_source_host_that_does_not_resolve_fails_fast_without_retries(
    world: DemoWorld, run_flow: Any, monkeypatch: pytest.MonkeyPatch, unresolvable_host: str
) -> None:
    from policywatch import pipeline
    from policywatch.intake import core as intake

    config = world.config_dir / "policywatch.yaml"
    text = config.read_text(encoding="utf-8")
    text = text.replace("https://merics.org/en/rss.xml", f"https://{unresolvable_host}/en/rss.xml")
    text = text.replace(
        "listing_url: null", f"listing_url: https://{unresolvable_host}/en/analysis"
    )
    text = text.replace("http:\n", f"http:\n  allowed_hosts: [{unresolvable_host}]\n", 1)
    config.write_text(text, encoding="utf-8")
    monkeypatch.delenv(pipeline.HOST_MAP_ENV)  # real name resolution, no loopback mapping
    calls: list[str] = []
    real = intake.list_candidates

    async def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append("discover")
        return await real(*args, **kwargs)

    monkeypatch.setattr(intake, "list_candidates", counted)

    state = run_flow(check_updates, sources=["merics"])
    assert state.is_failed()
    assert "no source was reachable" in state.message
    assert "did not resolve" in state.message  # the listing is not even tried on that host
    assert calls == ["discover"]  # no task retry: a name that does not resolve won't in 2 s


def test_an_issue_failing_after_parsing_fails_alone_and_is_retried_next_run(
    world: DemoWorld, run_flow: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from policywatch import pipeline

    real_record = pipeline.record_issue

    def record(store: Any, fetched: Any, *args: Any) -> Any:
        if fetched.url == AI_ISSUE:
            raise ValueError("an item the store cannot take")
        return real_record(store, fetched, *args)

    monkeypatch.setattr(pipeline, "record_issue", record)
    state = run_flow(check_updates, sources=["merics"])
    assert state.is_completed(), state.message
    summary = state.result()
    by_url = {i["url"]: i for i in summary["issues"]}
    assert len(summary["issues"]) == 3  # the failed issue is listed once, as failed
    assert by_url[AI_ISSUE]["status"] == "failed"
    assert "ValueError: an item the store cannot take" in by_url[AI_ISSUE]["error"]
    assert by_url[BATTERY_ISSUE]["status"] == "new"
    assert all(m["issue"] != by_url[AI_ISSUE]["title"] for m in summary["matches"])
    assert AI_ISSUE not in {r.id for r in rows(world, issues)}

    monkeypatch.setattr(pipeline, "record_issue", real_record)
    world.mail.clear()
    again = run_flow(check_updates, sources=["merics"]).result()
    assert [(i["url"], i["status"]) for i in again["issues"]] == [(AI_ISSUE, "new")]
    assert world.messages()


def task_run_names(state: Any, expected: int) -> list[str]:
    """The run's task run names, once the API has recorded ``expected`` of them (the server
    writes task runs from their events in batches, within seconds)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    run_filter = FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id]))
    names: list[str] = []
    deadline = time.monotonic() + 30
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            names = sorted(t.name for t in client.read_task_runs(flow_run_filter=run_filter))
            if len(names) >= expected:
                break
            time.sleep(0.5)
    return names


def test_each_issue_has_a_task_named_after_it(world: DemoWorld, run_flow: Any) -> None:
    state = run_flow(check_updates)
    assert state.is_completed(), state.message
    names = task_run_names(state, 9)
    # 2 sources listed, the MIIT column's notice, the 4 pages the feed lists (3 issues and one
    # of another series), the notice retry, delivery
    assert len(names) == 9, names
    pages = [n.removeprefix("merics · ") for n in names if n.startswith("merics · ")]
    assert len(pages) == 4, names
    assert "battery-passports-industrial-robots-rare-earth-tracing" in pages
    assert not any(n.startswith(tuple(f"{k} issues: " for k in range(2, 9))) for n in names)


def test_a_backfill_shares_issue_tasks(world: DemoWorld, run_flow: Any) -> None:
    append_config(world, "intake:\n  issue_tasks: 2\n")
    state = run_flow(check_updates)
    assert state.is_completed(), state.message
    assert len(state.result()["issues"]) == 4  # every issue processed all the same
    names = task_run_names(state, 7)
    assert len(names) == 7, names  # the 4 MERICS pages in 2 tasks
    shared = [n for n in names if n.startswith("2 issues: ")]
    assert len(shared) == 2, names
    assert not any(n.startswith("merics · ") for n in names), names
    assert all(n.count("merics · ") == 2 and " … " in n for n in shared), shared
