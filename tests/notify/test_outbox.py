"""The outbox against a real SQLite store, a real SMTP sink and a loopback webhook."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa

from policywatch.devtools.mailsink import MailSink
from policywatch.ops import list_alerts
from policywatch.outbox import backoff, deliver_pending
from policywatch.settings import DeliverySettings
from policywatch.store import Store
from policywatch.store.schema import alerts, metadata

from .conftest import (
    Hook,
    alert_for,
    alerts_for,
    make_item,
    record,
    store_url,
    watchlist,
    write_channels,
)

T0 = dt.datetime(2024, 10, 2, 8, 0, tzinfo=dt.UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest) -> Store:
    """Every outbox test on a real SQLite file and on a real PostgreSQL schema."""
    name = "store" if request.param == "sqlite" else "pg_store"
    opened: Store = request.getfixturevalue(name)
    assert opened.dialect == request.param
    return opened


def _statuses(store: Store) -> Counter[str]:
    return Counter(r["status"] for r in list_alerts(store))


def _items_received(sink: MailSink) -> Counter[str]:
    """Which items each received email talks about (by their policy number)."""
    got: Counter[str] = Counter()
    for mail in sink.messages:
        body = mail.get_body(("plain",))
        assert body is not None
        text = str(body.get_content())
        for n in range(1, 10):
            if f"Pilots No. {n}" in text:
                got[f"item-{n:04d}"] += 1
    return got


def test_smtp_down_then_back_each_alert_sent_exactly_once(
    tmp_path: Path, store: Store, delivery: DeliverySettings
) -> None:
    sink = MailSink()  # not started yet: SMTP is down
    channels = write_channels(tmp_path, "channels:\n  mail:\n    url: ${U}\n", {"U": sink.url()})
    items = [make_item(n) for n in (1, 2)]
    record(store, items, [alert_for(i, "ev", "mail") for i in items])

    first = deliver_pending(store, channels, config=delivery, now=T0, worker_id="w")
    assert first.sent == 0
    assert first.pending == 2
    rows = list_alerts(store)
    assert {r["status"] for r in rows} == {"pending"}
    assert {r["attempts"] for r in rows} == {1}
    assert all(r["next_attempt_at"] == T0 + backoff(1, delivery) for r in rows)
    assert all("127.0.0.1" in r["last_error"] for r in rows)

    with sink:
        early = deliver_pending(store, channels, config=delivery, now=T0, worker_id="w")
        assert early.sent == 0  # not due yet: backoff is respected
        later = T0 + dt.timedelta(hours=1)
        again = deliver_pending(store, channels, config=delivery, now=later, worker_id="w")
        assert again.sent == 2
        deliver_pending(store, channels, config=delivery, now=later, worker_id="w")
        assert _items_received(sink) == Counter({"item-0001": 1, "item-0002": 1})
    assert _statuses(store) == Counter({"sent": 2})


def test_webhook_500_then_200(
    tmp_path: Path, store: Store, hook: Hook, delivery: DeliverySettings
) -> None:
    channels = write_channels(tmp_path, "channels:\n  team:\n    url: ${H}\n", {"H": hook.url()})
    item = make_item(1)
    record(store, [item], [alert_for(item, "ev", "team")])
    hook.statuses = [500]
    r1 = deliver_pending(store, channels, config=delivery, now=T0, worker_id="w")
    assert r1.pending == 1
    assert hook.posts == []
    r2 = deliver_pending(
        store, channels, config=delivery, now=T0 + dt.timedelta(days=1), worker_id="w"
    )
    assert r2.sent == 1
    assert len(hook.posts) == 1
    assert "Pilots No. 1" in hook.posts[0]["json"]["message"]
    row = list_alerts(store)[0]
    assert row["status"] == "sent"
    assert row["attempts"] == 1
    assert row["last_error"] is None


def test_always_failing_channel_ends_failed_with_one_ops_notice(
    tmp_path: Path, store: Store, hook: Hook, delivery: DeliverySettings
) -> None:
    text = "channels:\n  dead:\n    url: ${DEAD}\n  ops:\n    url: ${OPS}\n    format: text\n"
    env = {"DEAD": "json://127.0.0.1:1/never", "OPS": hook.url("json", "/ops")}
    channels = write_channels(tmp_path, text, env)
    items = [make_item(n) for n in (1, 2)]
    record(store, items, [alert_for(i, "ev", "dead") for i in items])
    now = T0
    for _ in range(delivery.max_attempts + 2):
        deliver_pending(store, channels, config=delivery, now=now, worker_id="w")
        now += dt.timedelta(days=1)
    assert _statuses(store) == Counter({"failed": 2})
    assert len(hook.posts) == 1
    notice = hook.posts[0]["json"]["message"]
    assert "item-0001" in notice
    assert "item-0002" in notice
    assert "3 attempts" in notice
    assert "never" not in notice  # the dead channel's path is masked
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(alerts.c.ops_notified)).scalars().all() == [True, True]


def test_ops_notice_is_retried_when_ops_itself_fails(
    tmp_path: Path, store: Store, hook: Hook
) -> None:
    config = DeliverySettings(max_attempts=1, backoff_base=1)
    text = "channels:\n  dead:\n    url: json://127.0.0.1:1/x\n  ops:\n    url: ${OPS}\n"
    channels = write_channels(tmp_path, text, {"OPS": hook.url("json", "/ops")})
    item = make_item(1)
    record(store, [item], [alert_for(item, "ev", "dead")])
    hook.statuses = [503]
    r1 = deliver_pending(store, channels, config=config, now=T0, worker_id="w")
    assert r1.ops_notices == 0
    assert hook.posts == []
    r2 = deliver_pending(store, channels, config=config, now=T0, worker_id="w")
    r3 = deliver_pending(store, channels, config=config, now=T0, worker_id="w")
    assert (r2.ops_notices, r3.ops_notices, len(hook.posts)) == (1, 0, 1)


def test_two_deliveries_at_once_do_not_send_twice(
    tmp_path: Path, store: Store, sink: MailSink, delivery: DeliverySettings
) -> None:
    channels = write_channels(tmp_path, "channels:\n  mail:\n    url: ${U}\n", {"U": sink.url()})
    items = [make_item(n) for n in range(1, 9)]
    record(store, items, [alert_for(i, "ev", "mail") for i in items])
    other = Store.open(store_url(store))
    start = threading.Barrier(2)
    reports = []

    def run(s: Store, name: str) -> None:
        start.wait()
        reports.append(deliver_pending(s, channels, config=delivery, worker_id=name))

    threads = [threading.Thread(target=run, args=(s, n)) for s, n in ((store, "a"), (other, "b"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    other.close()
    assert sum(r.sent for r in reports) == 8
    assert _items_received(sink) == Counter({i.id: 1 for i in items})
    assert len({m["Message-ID"] for m in sink.messages}) == 8


def test_instant_and_digest_over_two_runs_each_item_once_per_channel(
    tmp_path: Path, store: Store, sink: MailSink, hook: Hook, delivery: DeliverySettings
) -> None:
    """ev (instant) -> mail; ev-weekly (digest) -> mail and team. Runs overlap on item 2; in
    run 2 item 1 comes back (re-matched) for ev after mail got it in run 1's digest."""
    text = "channels:\n  mail:\n    url: ${U}\n  team:\n    url: ${H}\n    format: markdown\n"
    channels = write_channels(tmp_path, text, {"U": sink.url(), "H": hook.url()})
    ev, weekly = watchlist("ev", ["mail"]), watchlist("ev-weekly", ["mail", "team"], "digest")
    i1, i2, i3 = (make_item(n) for n in (1, 2, 3))

    run1 = alerts_for([i1], [weekly], "run-1") + alerts_for([i2], [ev, weekly], "run-1")
    record(store, [i1, i2], run1, run_id="run-1", issue_id="a")
    r1 = deliver_pending(store, channels, config=delivery, now=T0, worker_id="w")
    run2 = alerts_for([i1, i2, i3], [ev, weekly], "run-2")
    record(store, [i1, i2, i3], run2, run_id="run-2", issue_id="b")
    r2 = deliver_pending(store, channels, config=delivery, now=T0, worker_id="w")

    # mail: run 1 = item 2 instantly (naming ev and ev-weekly) + a digest of item 1;
    # run 2 = item 3 instantly; item 1's instant alert is skipped (mail had it in the digest)
    assert _items_received(sink) == Counter({"item-0001": 1, "item-0002": 1, "item-0003": 1})
    assert len(set(sink.message_ids)) == len(sink.messages) == 3
    assert (r1.channels["mail"].sent, r1.channels["mail"].items) == (2, 2)
    assert (r2.channels["mail"].sent, r2.channels["mail"].skipped) == (1, 1)
    instant_2 = next(m for m in sink.messages if "part 2" in str(m["Subject"]))
    assert str(instant_2["Subject"]).strip().startswith("[ev, ev-weekly] ")  # folded: " [ev"
    # team: one digest per run, each item once
    titles = [p["json"]["title"] for p in hook.posts]
    assert titles == ["[ev-weekly] digest: 2 matches in China Industries: October 2024",
                      "[ev-weekly] digest: 1 match in China Industries: October 2024"]  # fmt: skip
    bodies = [p["json"]["message"] for p in hook.posts]
    assert "No. 1" in bodies[0]
    assert "No. 2" in bodies[0]
    assert "No. 3" in bodies[1]
    assert "No. 2" not in bodies[1]
    assert (r2.channels["team"].sent, r2.channels["team"].items) == (1, 1)
    assert _statuses(store) == Counter({"sent": 6, "skipped": 1})


def test_unknown_channel_is_recorded_as_an_error(
    tmp_path: Path, store: Store, hook: Hook, delivery: DeliverySettings
) -> None:
    channels = write_channels(tmp_path, "channels:\n  team:\n    url: ${H}\n", {"H": hook.url()})
    item = make_item(1)
    record(store, [item], [alert_for(item, "ev", "gone")])
    report = deliver_pending(store, channels, config=delivery, now=T0, worker_id="w")
    assert report.channels["gone"].retrying == 1
    assert "not defined in channels.yaml" in list_alerts(store)[0]["last_error"]


SECRET = "PlantedSecret-7f3a9c"


def test_planted_secret_never_reaches_logs_db_or_messages(
    tmp_path: Path, store: Store, hook: Hook, sink: MailSink, delivery: DeliverySettings,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    caplog.set_level(logging.DEBUG)
    text = (
        "channels:\n  team:\n    url: ${HOOK}\n  down:\n    url: ${DOWN}\n"
        "  mail:\n    url: ${MAIL}\n"
    )
    env = {
        "HOOK": hook.url("json", f"/hooks/{SECRET}"),
        "DOWN": f"json://127.0.0.1:1/hooks/{SECRET}",
        "MAIL": "mailto://user:"
        + SECRET
        + f"@127.0.0.1:{sink.port}?to=a@example.org&from=pw@example.org&mode=insecure",
    }
    channels = write_channels(tmp_path, text, env)
    item = make_item(1)
    record(store, [item], [alert_for(item, "ev", c) for c in ("team", "down", "mail")])
    report = deliver_pending(store, channels, config=delivery, now=T0, worker_id="w")
    assert report.sent == 1  # team; 'down' refuses, 'mail' has no AUTH on the sink

    rendered = [str(report.summary()), *(repr(c) for c in channels.values())]
    rendered += [str(r) for r in list_alerts(store)]
    rendered += [str(p["json"]) for p in hook.posts]
    assert all(SECRET not in text for text in rendered)
    assert SECRET not in caplog.text
    with store.engine.connect() as conn:  # every row of every table, on both dialects
        for table in metadata.sorted_tables:
            assert SECRET not in str(conn.execute(sa.select(table)).all())
    if store.dialect == "sqlite":
        db_path = Path(str(store.engine.url.database))
        for path in (db_path, db_path.with_name(db_path.name + "-wal")):
            if path.exists():
                assert SECRET.encode() not in path.read_bytes()
    assert hook.posts
    assert hook.posts[0]["path"] == f"/hooks/{SECRET}"


def test_live_claim_is_respected_and_stale_claim_is_taken_over_without_resend(
    tmp_path: Path, store: Store, sink: MailSink, delivery: DeliverySettings
) -> None:
    from policywatch.outbox import LEASE, DeliveryReport, _claim, _Ctx, _deliver

    channels = write_channels(tmp_path, "channels:\n  mail:\n    url: ${U}\n", {"U": sink.url()})
    item = make_item(1)
    record(store, [item], [alert_for(item, "ev", "mail")])
    stale = _claim(store, "crashed-worker", T0, None)  # a worker that claimed, then stalled
    assert len(stale) == 1
    busy = deliver_pending(store, channels, config=delivery, now=T0, worker_id="b")
    assert busy.sent == 0
    later = T0 + LEASE + dt.timedelta(seconds=1)
    took_over = deliver_pending(store, channels, config=delivery, now=later, worker_id="b")
    assert took_over.sent == 1
    # the stalled worker wakes up: its claim is gone, so it must not send again
    ctx = _Ctx(store, channels, delivery, later, "crashed-worker", None, DeliveryReport("x"), True)
    _deliver(ctx, "mail", stale, digest=False)
    assert len(sink.messages) == 1
    assert _statuses(store) == Counter({"sent": 1})


def test_a_crashing_service_fails_its_alert_only_with_a_masked_error(
    tmp_path: Path, store: Store, hook: Hook, delivery: DeliverySettings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    import policywatch.channels as channels_module

    real = channels_module._send_service

    def flaky(target, wanted, message, settings):  # type: ignore[no-untyped-def]
        if "crash" in str(target.plugin.url(privacy=False)):
            raise RuntimeError(f"plugin bug while posting to {target.plugin.url(privacy=False)}")
        real(target, wanted, message, settings)

    monkeypatch.setattr(channels_module, "_send_service", flaky)
    text = "channels:\n  bad:\n    url: ${BAD}\n  team:\n    url: ${H}\n"
    env = {"BAD": hook.url("json", f"/crash/{SECRET}"), "H": hook.url()}
    channels = write_channels(tmp_path, text, env)
    item = make_item(1)
    record(store, [item], [alert_for(item, "ev", c) for c in ("bad", "team")])

    report = deliver_pending(store, channels, config=delivery, now=T0, worker_id="w")

    assert report.channels["team"].sent == 1
    assert report.channels["bad"].retrying == 1
    assert len(hook.posts) == 1
    bad = next(r for r in list_alerts(store) if r["channel"] == "bad")
    assert bad["status"] == "pending"
    assert "RuntimeError: plugin bug" in bad["last_error"]
    assert SECRET not in bad["last_error"]
    assert SECRET not in str(report.summary())
