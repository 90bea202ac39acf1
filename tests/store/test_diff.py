"""Diff semantics (new / revised / unchanged) for items and notices, links, outbox idempotency."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from store_helpers import ISSUE_ID, count, make_alert, make_item, make_notice, record

from policywatch.store import Store, alert_item_ref, item_hash
from policywatch.store.schema import alerts, issues, items, notices


def _row(store: Store, table: sa.Table, key: sa.Column[Any], value: str) -> Any:
    with store.read() as conn:
        return conn.execute(sa.select(table).where(key == value)).one()


def test_item_new_then_unchanged(store: Store) -> None:
    item = make_item()
    assert store.diff_items([item]) == {"item-1": "new"}
    first = record(store, [item])
    assert first.item_changes == {"item-1": "new"}
    assert store.diff_items([item]) == {"item-1": "unchanged"}
    second = record(store, [item])
    assert second.item_changes == {"item-1": "unchanged"}
    assert second.issue == "unchanged"
    assert count(store, "items") == 1


def test_item_revised_keeps_first_seen_and_previous_hash(store: Store) -> None:
    old = make_item()
    record(store, [old])
    before = _row(store, items, items.c.id, "item-1")
    new = make_item(text="The ministry now asks for a report on recycling and reuse.")

    assert store.diff_items([new]) == {"item-1": "revised"}
    result = record(store, [new], content_hash="issue-hash-2")

    after = _row(store, items, items.c.id, "item-1")
    assert result.item_changes == {"item-1": "revised"}
    assert result.issue == "revised"
    assert after.first_seen == before.first_seen
    assert after.last_seen > before.last_seen
    assert after.previous_hash == before.content_hash == item_hash(old)
    assert after.content_hash == item_hash(new)
    assert after.data["text"] == new.text
    assert before.previous_data is None
    assert after.previous_data == before.data  # kept so an alert can show what changed
    record(store, [new], content_hash="issue-hash-2")  # unchanged: the previous content stays
    assert _row(store, items, items.c.id, "item-1").previous_data == before.data


def test_enrichment_and_moves_are_not_revisions(store: Store) -> None:
    record(store, [make_item()])
    moved = make_item(position=7, sectors=["batteries"], companies=["CATL"])
    assert store.diff_items([moved]) == {"item-1": "unchanged"}
    record(store, [moved])
    stored = store.item("item-1")
    assert stored is not None
    assert stored[0].companies == ["CATL"]  # the latest enrichment is kept


def test_mixed_changes_are_counted(store: Store) -> None:
    record(store, [make_item("a"), make_item("b")])
    result = record(store, [make_item("a"), make_item("b", headline="Changed"), make_item("c")])
    assert result.item_changes == {"a": "unchanged", "b": "revised", "c": "new"}
    assert dict(result.items) == {"unchanged": 1, "revised": 1, "new": 1}


def test_notice_new_unchanged_revised(store: Store) -> None:
    notice = make_notice()
    assert store.diff_notice(notice) == "new"
    assert record(store, [], notices=[notice]).notice_changes == {notice.url: "new"}
    assert store.diff_notice(notice) == "unchanged"
    assert record(store, [], notices=[notice]).notice_changes == {notice.url: "unchanged"}

    changed = make_notice(body_text="各省：修订后的测试正文。")
    assert store.diff_notice(changed) == "revised"
    before = _row(store, notices, notices.c.url, notice.url)
    assert record(store, [], notices=[changed]).notice_changes == {notice.url: "revised"}
    after = _row(store, notices, notices.c.url, notice.url)
    assert after.previous_hash == before.content_hash
    assert after.content_hash != before.content_hash
    assert after.first_seen == before.first_seen


def test_notice_fetcher_hash_is_used(store: Store) -> None:
    record(store, [], notices=[make_notice(content_hash="aaa")])
    assert store.diff_notice(make_notice(content_hash="aaa", body_text="other")) == "unchanged"
    assert store.diff_notice(make_notice(content_hash="bbb")) == "revised"


def test_notice_going_404_then_blocked_is_recorded(store: Store) -> None:
    good = make_notice()
    record(store, [], notices=[good])
    before = _row(store, notices, notices.c.url, good.url)

    gone = make_notice(status="not_found", body_text="", error="HTTP 404")
    result = record(store, [], notices=[gone])
    after = _row(store, notices, notices.c.url, good.url)
    assert result.notice_status_changes == 1
    assert (after.status, after.last_error) == ("not_found", "HTTP 404")
    assert after.last_checked > before.last_checked
    assert after.content_hash == before.content_hash  # the last good content is kept
    stored = store.notice(good.url)
    assert stored is not None
    assert (stored.status, stored.body_text) == ("not_found", good.body_text)

    blocked = make_notice(status="blocked", body_text="", error="challenge page (HTTP 412)")
    assert record(store, [], notices=[blocked]).notice_status_changes == 1
    assert _row(store, notices, notices.c.url, good.url).status == "blocked"

    back = record(store, [], notices=[good])
    assert back.notice_changes == {good.url: "unchanged"}
    assert back.notice_status_changes == 1
    row = _row(store, notices, notices.c.url, good.url)
    assert (row.status, row.last_error) == ("ok", None)


def test_notice_never_reachable_is_recorded_as_new(store: Store) -> None:
    gone = make_notice(status="not_found", body_text="", title=None, error="HTTP 404")
    assert record(store, [], notices=[gone]).notice_changes == {gone.url: "new"}
    row = _row(store, notices, notices.c.url, gone.url)
    assert (row.status, row.content_hash) == ("not_found", None)
    assert record(store, [], notices=[make_notice()]).notice_changes == {gone.url: "revised"}


def test_fetched_at_becomes_last_checked(store: Store) -> None:
    when = dt.datetime(2024, 10, 3, 6, 0, tzinfo=dt.UTC)
    record(store, [], notices=[make_notice(fetched_at=when)])
    assert _row(store, notices, notices.c.url, make_notice().url).last_checked == when


def test_items_link_to_notices(store: Store) -> None:
    a, b = make_notice("https://www.miit.gov.cn/a.html"), make_notice("https://www.gov.cn/b.html")
    record(store, [make_item()], notices=[a, b], item_notices={"item-1": [a.url, b.url, a.url]})
    stored = store.item("item-1")
    assert stored is not None
    item, meta, linked = stored
    assert item == make_item()
    assert meta.title == "China Industries test issue"
    assert sorted(n.url for n in linked) == sorted([a.url, b.url])

    # a later run that re-fetched only one notice keeps the other link
    record(store, [make_item()], notices=[a], item_notices={"item-1": [a.url]})
    stored = store.item("item-1")
    assert stored is not None
    assert sorted(n.url for n in stored[2]) == sorted([a.url, b.url])
    assert count(store, "item_notices") == 2
    assert store.item("missing") is None


def test_link_to_a_notice_not_fetched_yet(store: Store) -> None:
    later = "https://www.ndrc.gov.cn/later.html"
    record(store, [make_item()], item_notices={"item-1": [later]})
    stored = store.item("item-1")
    assert stored is not None
    assert stored[2] == []  # nothing to show until the notice itself is recorded
    record(store, [make_item()], notices=[make_notice(later)])
    stored = store.item("item-1")
    assert stored is not None
    assert [n.url for n in stored[2]] == [later]


def test_items_since_filters_on_item_date(store: Store) -> None:
    record(
        store,
        [
            make_item("old", date=dt.date(2024, 8, 1)),
            make_item("new", date=dt.date(2024, 9, 20)),
            make_item("undated", date=None),  # takes the issue's publication date
        ],
    )
    assert [i.id for i, _, _ in store.items()] == ["old", "new", "undated"]
    assert [i.id for i, _, _ in store.items(since=dt.date(2024, 9, 1))] == ["new", "undated"]
    assert [i.id for i, _, _ in store.items(since=dt.date(2024, 10, 3))] == []


def test_alerts_enqueue_once_across_two_records(store: Store) -> None:
    alert_list = [make_alert(), make_alert(channel="ev-team-slack")]
    first = record(store, [make_item()], alerts=alert_list, run_id="run-1")
    second = record(store, [make_item()], alerts=alert_list, run_id="run-2")
    assert (first.alerts_enqueued, second.alerts_enqueued) == (2, 0)
    with store.read() as conn:
        rows = conn.execute(sa.select(alerts).order_by(alerts.c.id)).all()
    assert [r.channel for r in rows] == ["analyst-email", "ev-team-slack"]
    assert {(r.status, r.attempts, r.run_id, r.ops_notified) for r in rows} == {
        ("pending", 0, "run-1", False)
    }
    assert rows[0].reasons[0]["reasons"][0]["term"] == "battery"
    assert rows[0].created_at.utcoffset() == dt.timedelta(0)


def test_revised_item_can_alert_again(store: Store) -> None:
    item = make_item()
    record(store, [item], alerts=[make_alert(alert_item_ref(item, "new"))])
    revised = make_item(headline="A revised headline")
    change = store.diff_items([revised])["item-1"]
    ref = alert_item_ref(revised, change)
    assert ref == f"item-1@{item_hash(revised)[:8]}"
    again = record(store, [revised], alerts=[make_alert(ref, change=change)])
    assert again.alerts_enqueued == 1
    assert count(store, "alerts") == 2


def test_issue_row_and_known_issue(store: Store) -> None:
    assert store.known_issue(ISSUE_ID) is None
    record(store, [make_item()], source="folder")
    assert store.known_issue(ISSUE_ID) == "issue-hash-1"
    row = _row(store, issues, issues.c.id, ISSUE_ID)
    assert (row.source, row.published, row.data["title"]) == (
        "folder",
        dt.date(2024, 10, 2),
        "China Industries test issue",
    )


def test_source_state_round_trip(store: Store) -> None:
    assert store.source_state("merics") is None
    state = {"etag": '"abc"', "seen": ["https://merics.org/a"], "consecutive_failures": 0}
    store.save_source_state("merics", state)
    store.save_source_state("merics", {**state, "consecutive_failures": 2})
    assert store.source_state("merics") == {**state, "consecutive_failures": 2}


def test_runs_start_and_finish(store: Store) -> None:
    store.start_run("run-1")
    run = store.run("run-1")
    assert run is not None
    assert (run["status"], run["finished_at"]) == ("running", None)
    store.finish_run("run-1", "ok", {"items": {"new": 3}})
    run = store.run("run-1")
    assert run is not None
    assert (run["status"], run["summary"]) == ("ok", {"items": {"new": 3}})
    assert run["finished_at"] >= run["started_at"]
