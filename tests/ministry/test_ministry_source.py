"""Watching the ministries directly (issue 11): notices from their own list pages are alertable
items, one document is one item across sites, a MERICS story on an alerted document is a
follow-up, a final version says which draft it follows, and an idle run costs one conditional
request per list URL. Real loopback HTTP (the host map) and a real SMTP sink."""

from __future__ import annotations

import datetime as dt
from email.message import EmailMessage
from typing import Any

import sqlalchemy as sa
import yaml

from policywatch.demo import DemoWorld
from policywatch.devtools.ministrysite import MIIT_API, MinistrySite
from policywatch.outbox import deliver_run
from policywatch.settings import Config
from policywatch.store import Store
from policywatch.store.schema import alerts, documents, items

DAY = dt.date(2026, 3, 2)
ROADMAP = "工业和信息化部关于印发固态电池产业发展路线图的通知"


def deliver(world: DemoWorld) -> list[EmailMessage]:
    """Send what the outbox owes; the messages that arrived."""
    config = Config(world.config_dir)
    world.mail.clear()
    with Store.open(config.state_url()) as store:
        report = deliver_run(
            store, config.dir / "channels.yaml", config=config.app.delivery, worker_id="test"
        )
    assert not report.errors, report.errors
    return list(world.mail.messages)


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    return str(part.get_content()) if part is not None else ""


def rows(world: DemoWorld, table: sa.Table) -> list[Any]:
    with Store.open(f"sqlite:///{world.state_path}") as store, store.read() as conn:
        return list(conn.execute(sa.select(table)))


def test_a_notice_on_a_ministry_list_alerts_with_its_title_number_issuer_and_link(
    world: DemoWorld, ministries: MinistrySite, run: Any
) -> None:
    notice = ministries.publish("miit", ROADMAP, day=DAY, doc_number="工信部装〔2026〕61号")
    ministries.publish("miit", "工业和信息化部关于开展职业技能竞赛的通知", day=DAY)
    summary = run("miit-notices")
    assert [s.ok for s in summary.sources] == [True]
    assert {i.section for i in summary.items} == {"notice"}
    assert len(summary.items) == 2
    assert [m.watchlist for m in summary.matches] == ["ev-batteries"]  # 固态电池: a keyword
    [message] = deliver(world)
    body = text_of(message)
    assert ROADMAP in str(message["Subject"])
    for shown in ("工信部装〔2026〕61号", "MIIT", "2026-03-02", notice.url, "固态电池"):
        assert shown in body, shown
    [doc] = [r for r in rows(world, documents) if r.url == notice.url]
    assert doc.identity == "doc:MIIT:工信部装〔2026〕61号"


def test_a_list_with_nothing_new_costs_one_conditional_request(
    world: DemoWorld, ministries: MinistrySite, run: Any
) -> None:
    ministries.publish("miit", ROADMAP, day=DAY, doc_number="工信部装〔2026〕61号")
    ministries.publish("govcn", "国务院关于推动未来产业创新发展的实施意见", day=DAY)
    run("miit-notices", "govcn-latest")
    world.site.reset_counts()
    again = run("miit-notices", "govcn-latest")
    assert again.items == []
    log = world.site.log
    assert [r.path for r in log] == sorted(
        [MIIT_API, "/www.gov.cn/zhengce/zuixin/home_0.htm"], key=[r.path for r in log].index
    )
    assert len(log) == 2  # the MIIT column page is not read again: its API request is kept
    assert all("if-none-match" in r.headers for r in log), [(r.path, r.headers) for r in log]
    ministries.publish("miit", "工业和信息化部关于新一批示范项目的通知", day=DAY)
    world.site.reset_counts()
    third = run("miit-notices", "govcn-latest")
    assert [i.headline for i in third.items] == ["工业和信息化部关于新一批示范项目的通知"]


def test_one_document_on_two_sites_is_one_item_and_alerts_once(
    world: DemoWorld, ministries: MinistrySite, run: Any
) -> None:
    number = "工信部装〔2026〕61号"
    ministries.publish("miit", ROADMAP, day=DAY, doc_number=number)
    first = run("miit-notices")
    assert len(first.matches) == 1
    ministries.publish(  # the policy library lists the same document, issued by MIIT
        "govcn", ROADMAP, day=DAY, doc_number=number, issuer="工业和信息化部"
    )
    second = run("govcn-latest")
    assert [i.change for i in second.items] == []  # unchanged: the same document
    assert second.matches == []
    assert len([r for r in rows(world, items) if r.section == "notice"]) == 1
    assert len(rows(world, alerts)) == 1


def test_merics_commentary_on_an_alerted_notice_is_a_follow_up(
    world: DemoWorld, ministries: MinistrySite, run: Any
) -> None:
    cited = "https://www.miit.gov.cn/zwgk/zcwj/wjfb/tz/art/2026/art_5c4d3e2f1a0b49c8d7e6f5a4b3c2d1e0.html"
    world.add_update()  # the fourth issue, whose first story cites this MIIT notice
    ministries.publish("miit", ROADMAP, day=DAY, doc_number="工信部装〔2026〕61号", url=cited)
    run("miit-notices")
    assert [m["Subject"] for m in deliver(world)] == [f"[ev-batteries] {ROADMAP}"]
    run("merics")
    sent = deliver(world)
    story = [m for m in sent if "A roadmap for solid-state batteries" in str(m["Subject"])]
    assert [str(m["Subject"]) for m in story] == [
        "[ev-batteries] Follow-up: A roadmap for solid-state batteries"
    ]
    assert "MERICS commentary on 工信部装〔2026〕61号, first alerted" in text_of(story[0])


def test_a_corrected_notice_page_read_again_alerts_its_item_as_revised(
    world: DemoWorld, ministries: MinistrySite, run: Any
) -> None:
    cited = "https://www.miit.gov.cn/zwgk/zcwj/wjfb/tz/art/2026/art_5c4d3e2f1a0b49c8d7e6f5a4b3c2d1e0.html"
    first_text = "为加快固态电池产业发展，现将路线图印发给你们，试点期限至2026年底。"
    ministries.publish(
        "miit", ROADMAP, day=DAY, doc_number="工信部装〔2026〕61号", url=cited, body=first_text
    )
    run("miit-notices")
    deliver(world)
    page = world.root / "site" / cited.removeprefix("https://")
    html = page.read_text("utf-8")
    assert "2026年底" in html
    page.write_text(html.replace("2026年底", "2027年6月底"), "utf-8")  # corrected in place
    world.add_update()  # a MERICS issue cites the notice: its page is read again
    summary = run("merics")
    revised = [i for i in summary.items if i.section == "notice"]
    assert [(i.headline, i.change) for i in revised] == [(ROADMAP, "revised")]
    sent = deliver(world)
    [message] = [m for m in sent if ROADMAP in str(m["Subject"])]
    assert str(message["Subject"]) == f"[ev-batteries] Revised: {ROADMAP}"
    text = text_of(message)
    assert "-为加快固态电池产业发展，现将路线图印发给你们，试点期限至2026年底。" in text  # the diff
    assert "+为加快固态电池产业发展，现将路线图印发给你们，试点期限至2027年6月底。" in text
    assert "Newsletter issue" not in text  # a ministry's own notice: its link is the notice's
    assert len([r for r in rows(world, items) if r.section == "notice"]) == 1  # the same item


def test_a_watchlist_without_follow_ups_gets_no_commentary_message(
    world: DemoWorld, ministries: MinistrySite, run: Any
) -> None:
    lists = world.config_dir / "watchlists.yaml"
    data = yaml.safe_load(lists.read_text("utf-8"))
    for watchlist in data["watchlists"]:
        watchlist["follow_ups"] = watchlist["name"] != "ev-batteries"
    lists.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    cited = "https://www.miit.gov.cn/zwgk/zcwj/wjfb/tz/art/2026/art_5c4d3e2f1a0b49c8d7e6f5a4b3c2d1e0.html"
    world.add_update()
    ministries.publish("miit", ROADMAP, day=DAY, doc_number="工信部装〔2026〕61号", url=cited)
    run("miit-notices")
    deliver(world)
    run("merics")
    subjects = [str(m["Subject"]) for m in deliver(world)]
    assert not any("A roadmap for solid-state batteries" in s for s in subjects)
    assert subjects  # the issue's other matches are still sent


def test_the_final_version_of_an_alerted_draft_says_so(
    world: DemoWorld, ministries: MinistrySite, run: Any
) -> None:
    draft = "工业和信息化部关于公开征求《固态电池安全技术规范（征求意见稿）》意见的通知"
    final = "工业和信息化部关于印发《固态电池安全技术规范》的通知"
    ministries.publish("miit", draft, day=DAY)
    run("miit-notices")
    assert len(deliver(world)) == 1
    ministries.publish(
        "miit", final, day=DAY + dt.timedelta(days=40), doc_number="工信部装〔2026〕90号"
    )
    run("miit-notices")
    [message] = deliver(world)
    assert str(message["Subject"]).startswith("[ev-batteries] Final version: ")
    assert f"final version of the draft alerted on {dt.date.today()}" in text_of(message)


def test_a_refusing_site_is_blocked_with_the_host_and_the_setting_named(
    world: DemoWorld, ministries: MinistrySite, run: Any
) -> None:
    world.site.routes[MIIT_API] = lambda request: (403, {"Content-Type": "text/plain"}, b"no")
    world.site.routes["/www.miit.gov.cn/zwgk/zcwj/wjfb/tz/index.html"] = lambda request: (
        403,
        {"Content-Type": "text/plain"},
        b"forbidden",
    )
    summary = run("miit-notices", "merics")
    [miit] = [s for s in summary.sources if s.name == "miit-notices"]
    assert not miit.ok
    assert miit.error is not None
    assert "blocked by www.miit.gov.cn" in miit.error
    assert "http.proxies.www.miit.gov.cn" in miit.error


def test_a_new_source_records_old_notices_as_a_baseline_without_alerts(
    world: DemoWorld, ministries: MinistrySite, run: Any
) -> None:
    today = dt.date.today()
    ministries.publish(
        "miit", ROADMAP, day=today - dt.timedelta(days=60), doc_number="工信部装〔2026〕61号"
    )
    fresh = "工业和信息化部关于固态电池标准体系建设的通知"
    ministries.publish("miit", fresh, day=today - dt.timedelta(days=2))
    first = run("miit-notices", alert_existing=False)
    assert len(first.items) == 2  # both recorded...
    assert first.baseline == {"miit-notices": 1}  # ...the old one without an alert
    assert [str(m["Subject"]) for m in deliver(world)] == [f"[ev-batteries] {fresh}"]
    ministries.publish(
        "miit", "工业和信息化部关于固态电池回收利用的通知", day=today - dt.timedelta(days=90)
    )
    second = run("miit-notices", alert_existing=False)
    assert second.baseline == {}  # the baseline is done: later finds alert whatever their date
    assert len(deliver(world)) == 1


def test_more_new_notices_than_a_list_page_holds_are_all_read_on_a_later_run(
    world: DemoWorld, ministries: MinistrySite, run: Any
) -> None:
    ministries.publish("miit", ROADMAP, day=DAY, doc_number="工信部装〔2026〕61号")
    run("miit-notices")
    # a busy stretch (or an outage of policywatch): 30 new notices, more than the 24 a page holds
    for n in range(30):
        ministries.publish("miit", f"工业和信息化部关于第{n + 1}批试点项目的通知", day=DAY)
    world.site.reset_counts()
    later = run("miit-notices")
    assert len(later.items) == 30
    pages = [r for r in world.site.log if r.path == MIIT_API]
    assert len(pages) == 2  # page 1 all new: page 2 read; it held known notices: no page 3
    world.site.reset_counts()
    idle = run("miit-notices")
    assert idle.items == []
    assert [r.path for r in world.site.log] == [MIIT_API]  # one conditional request again


def test_a_list_page_whose_layout_changed_fails_its_source_not_the_run(
    world: DemoWorld, ministries: MinistrySite, run: Any
) -> None:
    redesigned = b"<!DOCTYPE html><html><body><div class='new-design'>soon</div></body></html>"
    world.site.routes["/www.gov.cn/zhengce/zuixin/home_0.htm"] = lambda request: (
        200,
        {"Content-Type": "text/html; charset=utf-8"},
        redesigned,
    )
    ministries.publish("miit", ROADMAP, day=DAY, doc_number="工信部装〔2026〕61号")
    summary = run("miit-notices", "govcn-latest")
    outcomes = {s.name: s for s in summary.sources}
    assert outcomes["miit-notices"].ok
    assert [m.watchlist for m in summary.matches] == ["ev-batteries"]  # the other list still alerts
    govcn = outcomes["govcn-latest"]
    assert not govcn.ok
    assert govcn.error is not None
    assert "https://www.gov.cn/zhengce/zuixin/home_0.htm" in govcn.error
    assert "layout may have changed" in govcn.error
    del world.site.routes["/www.gov.cn/zhengce/zuixin/home_0.htm"]
    ministries.publish("govcn", "国务院关于推动未来产业创新发展的实施意见", day=DAY)
    again = run("govcn-latest")
    assert [s.ok for s in again.sources] == [True]  # read again in full once the list is back
    assert [i.headline for i in again.items] == ["国务院关于推动未来产业创新发展的实施意见"]


def test_more_new_notices_than_one_list_page_between_runs_are_all_read(
    world: DemoWorld, ministries: MinistrySite, run: Any
) -> None:
    ministries.publish("govcn", "国务院关于推动未来产业创新发展的实施意见", day=DAY)
    run("govcn-latest")
    titles = [f"国务院办公厅关于第{n}批试点工作的通知" for n in range(1, 31)]
    for title in titles:  # a busy day: more than one page (20) of new documents
        ministries.publish("govcn", title, day=DAY)
    world.site.reset_counts()
    second = run("govcn-latest")
    assert sorted(i.headline for i in second.items) == sorted(titles)
    lists = [r.path for r in world.site.log if "/zuixin/" in r.path]
    assert lists == [
        "/www.gov.cn/zhengce/zuixin/home_0.htm",
        "/www.gov.cn/zhengce/zuixin/home_1.htm",
    ]


def test_a_listed_notice_whose_page_failed_is_read_again_on_a_later_run(
    world: DemoWorld, ministries: MinistrySite, run: Any
) -> None:
    config = world.config_dir / "policywatch.yaml"
    data = yaml.safe_load(config.read_text("utf-8"))
    data["notices"] = {"retry_delays": [0]}  # retried on the very next run
    config.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    notice = ministries.publish("miit", ROADMAP, day=DAY, doc_number="工信部装〔2026〕61号")
    page = "/" + notice.url.split("://", 1)[1]
    world.site.routes[page] = lambda request: (503, {"Content-Type": "text/plain"}, b"busy")
    first = run("miit-notices")
    assert first.matches == []
    assert [i.status for i in first.issues] == ["failed"]
    del world.site.routes[page]  # the page answers again
    second = run("miit-notices")
    assert [m.watchlist for m in second.matches] == ["ev-batteries"]
    assert [str(m["Subject"]) for m in deliver(world)] == [f"[ev-batteries] {ROADMAP}"]
    world.site.reset_counts()
    third = run("miit-notices")  # settled: neither listed nor fetched again
    assert third.items == []
    assert [r.path for r in world.site.log] == [MIIT_API]
