"""Revised items end to end, and digests whose items vanished from the state database."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import sqlalchemy as sa

from policywatch.devtools.mailsink import MailSink
from policywatch.models import Alert, PolicyItem, WatchlistReasons
from policywatch.ops import list_alerts
from policywatch.outbox import deliver_pending
from policywatch.settings import DeliverySettings
from policywatch.store import Store, alert_item_ref
from policywatch.store.schema import item_notices, items

from .conftest import REASON, Hook, alert_for, make_item, record, write_channels

T0 = dt.datetime(2024, 10, 2, 8, 0, tzinfo=dt.UTC)
OLD_TEXT = "MIIT sets pilot lines for solid-state batteries. Ten pilot lines are planned by 2026."
NEW_TEXT = (
    "MIIT sets pilot lines for solid-state batteries. Twelve pilot lines are planned by 2027."
)


def _revision_alert(store: Store, item: PolicyItem, watchlist: str, channel: str) -> Alert:
    change = store.diff_items([item])[item.id]
    assert change == "revised"
    ref = alert_item_ref(item, change)
    return Alert(
        key=Alert.make_key(channel, ref, "instant"),
        watchlist=watchlist,
        channel=channel,
        item_id=item.id,
        kind="instant",
        change=change,
        reasons=[WatchlistReasons(watchlist=watchlist, reasons=[REASON])],
    )


def test_revised_item_alert_says_revised_and_shows_the_change(
    tmp_path: Path, store: Store, sink: MailSink, hook: Hook, delivery: DeliverySettings
) -> None:
    text = "channels:\n  mail:\n    url: ${U}\n  team:\n    url: ${H}\n    format: markdown\n"
    channels = write_channels(tmp_path, text, {"U": sink.url(), "H": hook.url()})
    first = make_item(1).model_copy(update={"text": OLD_TEXT})
    record(store, [first], [alert_for(first, "ev", "mail")], run_id="run-1")
    deliver_pending(store, channels, config=delivery, now=T0, worker_id="w")
    assert len(sink.messages) == 1

    revised = first.model_copy(update={"text": NEW_TEXT})
    alerts = [_revision_alert(store, revised, "ev", c) for c in ("mail", "team")]
    record(store, [revised], alerts, run_id="run-2", issue_id="issue-2")
    report = deliver_pending(store, channels, config=delivery, now=T0, worker_id="w")
    assert report.sent == 2

    mail = sink.messages[1]
    assert "Revised:" in str(mail["Subject"])
    plain = mail.get_body(("plain",))
    html_part = mail.get_body(("html",))
    assert plain is not None
    assert html_part is not None
    body = str(plain.get_content())
    assert "[REVISED]" in body
    assert "-Ten pilot lines are planned by 2026." in body
    assert "+Twelve pilot lines are planned by 2027." in body
    assert "MIIT sets pilot lines" not in body.split("What changed")[1]  # only what changed
    assert "+Twelve pilot lines" in str(html_part.get_content())
    posted = hook.posts[0]["json"]["message"]
    assert "REVISED" in posted
    assert "```diff\n-Ten pilot lines are planned by 2026.\n+Twelve pilot" in posted


def test_digest_with_a_vanished_item_is_sent_without_it(
    tmp_path: Path, store: Store, hook: Hook, delivery: DeliverySettings
) -> None:
    channels = write_channels(tmp_path, "channels:\n  team:\n    url: ${H}\n", {"H": hook.url()})
    kept, gone = make_item(1), make_item(2)
    record(store, [kept, gone], [alert_for(i, "ev", "team", "digest") for i in (kept, gone)])
    with store.write() as conn:  # e.g. removed by hand or by a restore
        conn.execute(sa.delete(item_notices).where(item_notices.c.item_id == gone.id))
        conn.execute(sa.delete(items).where(items.c.id == gone.id))

    report = deliver_pending(store, channels, config=delivery, now=T0, worker_id="w")

    assert report.sent == 1
    assert [p["json"]["title"] for p in hook.posts] == [
        "[ev] digest: 1 match in China Industries: October 2024"
    ]
    assert "No. 1" in hook.posts[0]["json"]["message"]
    by_item = {r["item_id"]: r for r in list_alerts(store)}
    assert by_item[kept.id]["status"] == "sent"
    assert by_item[gone.id]["status"] == "pending"
    assert f"item {gone.id} is not in the state database" in by_item[gone.id]["last_error"]
    assert any(gone.id in e for e in report.errors)
