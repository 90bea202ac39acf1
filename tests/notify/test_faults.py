"""Slow, failing and missing servers: real SMTP (aiosmtpd) and a loopback webhook.

Every case counts what the server accepted (by Message-ID for email): 0 lost, 0 duplicated.
Timeouts are scaled down through the settings (0.5 s connect, 10 s DATA).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections import Counter
from pathlib import Path

import pytest

from policywatch.devtools.loopback import LoopbackServer, Reply, Request
from policywatch.devtools.mailsink import MailSink, SilentServer
from policywatch.ops import list_alerts
from policywatch.outbox import deliver_pending, deliver_run
from policywatch.store import Store

from .conftest import alerts_for, balanced, fast, make_item, record, watchlist, write_channels

T0 = dt.datetime(2024, 10, 2, 8, 0, tzinfo=dt.UTC)
MAIL = "channels:\n  mail:\n    url: ${U}\n"


def _rows(store: Store) -> dict[str, dict[str, object]]:
    return {f"{r['channel']}:{r['item_id']}": r for r in list_alerts(store)}


def test_smtp_that_acknowledges_after_the_connect_timeout_gets_the_message_once(
    tmp_path: Path, store: Store, sink: MailSink
) -> None:
    channels = write_channels(tmp_path, MAIL, {"U": sink.url()})
    item = make_item(1)
    record(store, [item], alerts_for([item], [watchlist("ev", ["mail"])]))
    sink.slow_ack(2.0)  # stores at once, says 250 two seconds later (> connect timeout 0.5 s)
    settings = fast()

    report = deliver_pending(store, channels, config=settings, now=T0, worker_id="w")
    later = T0 + dt.timedelta(hours=1)
    again = deliver_pending(store, channels, config=settings, now=later, worker_id="w")

    assert (report.sent, report.pending, again.due) == (1, 0, 0)
    assert balanced(report)
    assert len(sink.messages) == len(set(sink.message_ids)) == 1
    assert _rows(store)["mail:item-0001"]["message_id"] == sink.message_ids[0]


def test_a_data_timeout_shorter_than_the_acknowledgement_would_duplicate(
    tmp_path: Path, store: Store, sink: MailSink
) -> None:
    """Why ``data_timeout`` defaults to 10 minutes: giving up on the reply to the message
    means a retry of a message the server already holds."""
    channels = write_channels(tmp_path, MAIL, {"U": sink.url()})
    item = make_item(1)
    record(store, [item], alerts_for([item], [watchlist("ev", ["mail"])]))
    sink.slow_ack(1.5)
    first = deliver_pending(store, channels, config=fast(data_timeout=0.3), now=T0, worker_id="w")
    assert (first.sent, first.retrying) == (0, 1)
    later = T0 + dt.timedelta(hours=1)
    deliver_pending(store, channels, config=fast(), now=later, worker_id="w")
    assert Counter(sink.message_ids).most_common(1)[0][1] == 2  # the same message, twice


def test_smtp_dropping_the_connection_mid_data_is_retried_and_delivered_once(
    tmp_path: Path, store: Store, sink: MailSink
) -> None:
    channels = write_channels(tmp_path, MAIL, {"U": sink.url()})
    items = [make_item(n) for n in (1, 2)]
    record(store, items, alerts_for(items, [watchlist("ev", ["mail"])]))
    sink.drop_next(1)

    first = deliver_pending(store, channels, config=fast(), now=T0, worker_id="w")
    assert (first.sent, first.retrying) == (1, 1)
    dropped = next(r for r in list_alerts(store) if r["status"] == "pending")
    assert "connection lost" in str(dropped["last_error"])
    later = T0 + dt.timedelta(hours=1)
    second = deliver_pending(store, channels, config=fast(), now=later, worker_id="w")

    assert (second.sent, second.due) == (1, 1)
    assert len(sink.messages) == len(set(sink.message_ids)) == 2
    assert sorted(str(r["message_id"]) for r in list_alerts(store)) == sorted(sink.message_ids)


def test_black_holed_smtp_trips_the_breaker_and_the_rest_waits_untried(
    tmp_path: Path, store: Store, sink: MailSink, caplog: pytest.LogCaptureFixture
) -> None:
    items = [make_item(n) for n in range(1, 7)]
    record(store, items, alerts_for(items, [watchlist("ev", ["mail"])]))
    settings = fast(connect_timeout=0.3, breaker_failures=2)
    with SilentServer() as hole:  # accepts TCP, never answers
        channels = write_channels(tmp_path, MAIL, {"U": hole.url()})
        report = deliver_pending(store, channels, config=settings, now=T0, worker_id="w")
        assert hole.connections == 2  # at most K x the connect timeout
    counts = report.channels["mail"]
    assert (counts.due, counts.retrying, counts.deferred, counts.sent) == (6, 2, 4, 0)
    assert balanced(report)
    assert report.outcome == "none_delivered"
    assert "circuit breaker" in counts.note
    assert sum("circuit breaker" in e for e in report.errors) == 1
    rows = list_alerts(store)
    assert Counter(r["attempts"] for r in rows) == Counter({1: 2, 0: 4})
    assert {r["status"] for r in rows} == {"pending"}
    assert all(r["next_attempt_at"] is None for r in rows if r["attempts"] == 0)

    channels = write_channels(tmp_path, MAIL, {"U": sink.url()})  # the server is back
    later = T0 + dt.timedelta(hours=1)
    after = deliver_pending(store, channels, config=settings, now=later, worker_id="w")
    assert (after.sent, after.outcome) == (6, "clean")
    assert len(sink.messages) == len(set(sink.message_ids)) == 6


def test_webhook_500_then_429_with_retry_after_then_200(tmp_path: Path, store: Store) -> None:
    script = [Reply(500), Reply(500), Reply(429, {"Retry-After": "300"}), Reply(200), Reply(200)]
    accepted: list[dict[str, object]] = []

    def hook(request: Request) -> Reply:
        reply = script.pop(0)
        if reply.status == 200:
            accepted.append(json.loads(request.body))
        return reply

    items = [make_item(n) for n in (1, 2)]
    record(store, items, alerts_for(items, [watchlist("ev", ["team"])]))
    settings = fast(backoff_base=60)
    with LoopbackServer(routes={"/hook": hook}) as server:
        url = server.url("/hook").replace("http://", "json://")
        channels = write_channels(tmp_path, "channels:\n  team:\n    url: ${H}\n", {"H": url})

        first = deliver_pending(store, channels, config=settings, now=T0, worker_id="w")
        assert (first.retrying, first.errors[0].split(": ")[-1]) == (2, "HTTP 500")
        t1 = T0 + dt.timedelta(seconds=60)
        second = deliver_pending(store, channels, config=settings, now=t1, worker_id="w")
        assert (second.retrying, second.deferred) == (1, 1)  # the 429 pauses the channel
        assert balanced(first)
        assert balanced(second)
        rows = _rows(store)
        wait = t1 + dt.timedelta(seconds=300)
        assert {r["next_attempt_at"] for r in rows.values()} == {wait}  # Retry-After, both
        early = deliver_pending(store, channels, config=settings, now=wait - dt.timedelta(seconds=1),
                                worker_id="w")  # fmt: skip
        assert early.due == 0
        third = deliver_pending(store, channels, config=settings, now=wait, worker_id="w")
        assert (third.sent, third.outcome) == (2, "clean")
        assert server.counts["/hook"] == 5
    titles = Counter(str(p["title"]) for p in accepted)
    assert len(titles) == 2
    assert set(titles.values()) == {1}


def test_a_channel_whose_variable_is_unset_waits_while_the_other_delivers(
    tmp_path: Path, store: Store, sink: MailSink, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="policywatch")
    text = "channels:\n  mail:\n    url: ${U}\n  team:\n    url: ${TEAM_HOOK}\n"
    items = [make_item(n) for n in (1, 2, 3)]
    record(store, items, alerts_for(items, [watchlist("ev", ["mail", "team"])]))
    channels = write_channels(tmp_path, text, {"U": sink.url()})

    report = deliver_pending(store, channels, config=fast(), now=T0, worker_id="w")

    assert len(sink.messages) == len(set(sink.message_ids)) == 3
    team = report.channels["team"]
    assert (team.due, team.disabled, team.sent) == (3, 3, 0)
    assert "TEAM_HOOK is not set" in team.note
    assert report.outcome == "partial"
    assert balanced(report)
    disabled = [r for r in caplog.records if "disabled" in r.getMessage()]
    assert len(disabled) == 1  # one warning, not one per alert
    waiting = [r for r in list_alerts(store) if r["channel"] == "team"]
    assert {(r["status"], r["attempts"]) for r in waiting} == {("pending", 0)}

    with LoopbackServer(routes={"/t": lambda r: Reply(200)}) as server:
        env = {"U": sink.url(), "TEAM_HOOK": server.url("/t").replace("http://", "json://")}
        channels = write_channels(tmp_path, text, env)
        later = deliver_pending(store, channels, config=fast(), now=T0, worker_id="w")
        assert server.counts["/t"] == 3
    assert (later.sent, later.outcome) == (3, "clean")
    assert len(sink.messages) == 3  # nothing re-sent to mail


def test_a_spent_time_budget_leaves_the_rest_for_the_next_run(
    tmp_path: Path, store: Store, sink: MailSink
) -> None:
    channels = write_channels(tmp_path, MAIL, {"U": sink.url()})
    items = [make_item(n) for n in (1, 2)]
    record(store, items, alerts_for(items, [watchlist("ev", ["mail"])]))
    report = deliver_pending(store, channels, config=fast(time_budget=1e-9), now=T0,
                             worker_id="w")  # fmt: skip
    assert (report.due, report.sent, report.channels["mail"].deferred) == (2, 0, 2)
    assert "time budget" in report.channels["mail"].note
    assert sink.messages == []
    again = deliver_pending(store, channels, config=fast(), now=T0, worker_id="w")
    assert again.sent == 2
    assert len(set(sink.message_ids)) == 2


def test_an_unloadable_channels_file_leaves_every_alert_pending_and_says_so(
    tmp_path: Path, store: Store
) -> None:
    items = [make_item(n) for n in (1, 2)]
    record(store, items, alerts_for(items, [watchlist("ev", ["mail", "team"])]))
    bad = tmp_path / "channels.yaml"
    bad.write_text("channels:\n  mail:\n    ur: x\n", encoding="utf-8")
    report = deliver_run(store, bad, config=fast(), worker_id="w")
    assert (report.due, report.disabled, report.outcome) == (4, 4, "none_delivered")
    assert "channels not loaded" in report.errors[0]
    assert balanced(report)
    assert {r["status"] for r in list_alerts(store)} == {"pending"}
