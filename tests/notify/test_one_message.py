"""One message per item per channel (DESIGN 3.5), and counts that match what the sink received.

Every case counts the messages at the SMTP sink by Message-ID: 0 lost, 0 duplicated.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

from flows.report import to_markdown
from policywatch.alerting import build_alerts
from policywatch.devtools.mailsink import MailSink
from policywatch.models import Match
from policywatch.ops import list_alerts, outbox_totals
from policywatch.outbox import deliver_pending
from policywatch.settings import DeliverySettings
from policywatch.store import Store
from policywatch.summary import RunSummary

from .conftest import alerts_for, make_item, reason, record, watchlist, write_channels

T0 = dt.datetime(2024, 10, 2, 8, 0, tzinfo=dt.UTC)
MAIL = "channels:\n  mail:\n    url: ${U}\n"


def _plain(sink: MailSink, index: int = 0) -> str:
    part = sink.messages[index].get_body(("plain",))
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")


def test_build_alerts_one_row_per_item_and_channel() -> None:
    a, b = watchlist("a", ["mail", "team"]), watchlist("b", ["mail"], "digest")
    item = make_item(1)
    matches = [Match(watchlist=w.name, item_id=item.id, reasons=[reason(w.name)]) for w in (a, b)]
    rows = build_alerts({"a": a, "b": b}, matches, [item], {}, "run-1")
    by_key = {r.key: r for r in rows}
    assert set(by_key) == {"mail|item-0001|instant", "team|item-0001|instant"}
    mail = by_key["mail|item-0001|instant"]  # b is a digest watchlist: folded into the instant
    assert (mail.watchlist, mail.watchlists) == ("a, b", ["a", "b"])
    assert [[r.term for r in g.reasons] for g in mail.reasons] == [["a"], ["b"]]
    assert by_key["team|item-0001|instant"].watchlists == ["a"]
    only_digest = build_alerts({"b": b}, matches[1:], [item], {}, "run-1")
    assert [r.key for r in only_digest] == ["mail|item-0001|digest"]
    revised = build_alerts({"b": b}, matches[1:], [item], {item.id: "revised"}, "run-2")
    assert revised[0].key.startswith("mail|item-0001@")
    assert revised[0].change == "revised"


def test_three_watchlists_on_one_item_and_channel_make_one_message(
    tmp_path: Path, store: Store, sink: MailSink, delivery: DeliverySettings
) -> None:
    channels = write_channels(tmp_path, MAIL, {"U": sink.url()})
    item = make_item(1)
    alerts = alerts_for([item], [watchlist(n, ["mail"]) for n in ("ev", "batteries", "miit")])
    assert len(alerts) == 1
    summary = RunSummary(run_id="run-1")
    record(store, [item], alerts)
    summary.count_enqueued(alerts, [a.key for a in alerts])

    report = deliver_pending(store, channels, config=delivery, now=T0, worker_id="w")
    again = deliver_pending(store, channels, config=delivery, now=T0, worker_id="w")
    summary.add_delivery(report)

    assert len(sink.messages) == len(set(sink.message_ids)) == 1  # 0 lost, 0 duplicated
    mail = sink.messages[0]
    assert str(mail["Subject"]).strip().startswith("[ev, batteries, miit] MIIT sets new targets")
    text = _plain(sink)
    assert "Watchlists: ev, batteries, miit" in text
    why = text.split("Why it matched:")[1]
    for name in ("ev", "batteries", "miit"):  # each watchlist with its own reasons under it
        assert f'{name}:\n- keyword "solid-state"' in why
        assert f'- keyword "{name}" in text: on [{name}] rules' in why.split(f"{name}:\n")[1]
    # the report, the run summary, the artifact and the outbox say what the sink got
    assert (report.sent, report.items, report.outcome) == (1, 1, "clean")
    assert (again.due, again.sent) == (0, 0)
    assert summary.sent == Counter({"mail": 1})
    assert "| mail | 1 | 1 | 1 | 1 | 0 | 0 | 0 |  |" in to_markdown(summary)
    assert "1 message(s) sent (1 item(s))" in to_markdown(summary)
    (row,) = list_alerts(store)
    assert (row["watchlist"], row["status"]) == ("ev, batteries, miit", "sent")
    assert row["message_id"] == mail["Message-ID"]
    assert row["headline"].startswith("MIIT sets new targets")
    assert outbox_totals(store) == {"sent": 1, "messages": 1}


def test_instant_and_digest_watchlist_on_one_channel_send_the_item_once_instantly(
    tmp_path: Path, store: Store, sink: MailSink, delivery: DeliverySettings
) -> None:
    channels = write_channels(tmp_path, MAIL, {"U": sink.url()})
    now, weekly = watchlist("now", ["mail"]), watchlist("weekly", ["mail"], "digest")
    both, digest_only = make_item(1), make_item(2)
    alerts = alerts_for([both], [now, weekly]) + alerts_for([digest_only], [weekly])
    record(store, [both, digest_only], alerts)

    report = deliver_pending(store, channels, config=delivery, now=T0, worker_id="w")

    assert len(sink.messages) == len(set(sink.message_ids)) == 2
    subjects = sorted(str(m["Subject"]).strip() for m in sink.messages)
    assert subjects[0].startswith("[now, weekly] MIIT sets new targets")  # item 1, instantly
    assert subjects[1] == "[weekly] digest: 1 match in China Industries: October 2024"
    digest = _plain(sink, [str(m["Subject"]).strip() for m in sink.messages].index(subjects[1]))
    assert "part 2" in digest
    assert "part 1" not in digest
    assert (report.sent, report.items, report.skipped) == (2, 2, 0)


def test_digest_lists_each_item_once_opens_with_contents_and_counts_as_one_message(
    tmp_path: Path, store: Store, sink: MailSink, delivery: DeliverySettings
) -> None:
    channels = write_channels(tmp_path, MAIL, {"U": sink.url()})
    items = [make_item(n) for n in (1, 2, 3)]
    d1, d2 = watchlist("d1", ["mail"], "digest"), watchlist("d2", ["mail"], "digest")
    record(store, items, alerts_for(items, [d1, d2]))
    summary = RunSummary(run_id="run-1")

    report = deliver_pending(store, channels, config=delivery, now=T0, worker_id="w")
    summary.add_delivery(report)

    assert len(sink.messages) == 1
    mail = sink.messages[0]
    assert str(mail["Subject"]).strip() == (
        "[d1, d2] digest: 3 matches in China Industries: October 2024"
    )
    assert mail["X-Policywatch-Items"] == "3"
    text = _plain(sink)
    contents, body = text.split("Contents:\n", 1)[1].split("\n\n", 1)
    assert contents.splitlines() == [
        f"{n}. MIIT sets new targets for solid-state batteries, part {n} (d1, d2)"
        for n in (1, 2, 3)
    ]
    for n in (1, 2, 3):
        assert body.count(f"Pilots No. {n}") == 1  # each item once, however many watchlists
    html = str(mail.get_body(("html",)).get_content())  # type: ignore[union-attr]
    assert '<a href="#item-2">' in html
    assert 'id="item-2"' in html
    assert (report.sent, report.items) == (1, 3)
    assert (summary.sent["mail"], summary.delivery["mail"].items) == (1, 3)
    assert [r["message_id"] for r in list_alerts(store)] == [mail["Message-ID"]] * 3
    assert outbox_totals(store) == {"sent": 3, "messages": 1}


def test_a_forced_rematch_with_more_watchlists_sends_nothing_again(
    tmp_path: Path, store: Store, sink: MailSink, delivery: DeliverySettings
) -> None:
    channels = write_channels(tmp_path, MAIL, {"U": sink.url()})
    item = make_item(1)
    record(store, [item], alerts_for([item], [watchlist("a", ["mail"])]))
    deliver_pending(store, channels, config=delivery, now=T0, worker_id="w")
    later = alerts_for([item], [watchlist("a", ["mail"]), watchlist("b", ["mail"])], "run-2")
    assert store.new_alert_keys([a.key for a in later]) == set()
    record(store, [item], later, run_id="run-2")
    assert deliver_pending(store, channels, config=delivery, now=T0, worker_id="w").due == 0
    assert len(sink.messages) == 1
