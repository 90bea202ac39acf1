"""Migration 0005_outbox_item_channel: old per-watchlist outbox rows become one row per item and
channel, and nothing delivered under an old key is ever sent again."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from policywatch.devtools.mailsink import MailSink
from policywatch.ops import list_alerts
from policywatch.outbox import deliver_pending
from policywatch.settings import DeliverySettings
from policywatch.store import Store
from policywatch.store.engine import make_engine
from policywatch.store.migrations import migrate
from policywatch.store.schema import alerts, utcnow

from .conftest import (
    ISSUE,
    REASON,
    alerts_for,
    make_item,
    reason,
    record,
    watchlist,
    write_channels,
)

T0 = dt.datetime(2024, 10, 2, 8, 0, tzinfo=dt.UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def old_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database at the schema of 0004_notice_backoff (before the new outbox key)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'old.db'}"
    url: str = request.getfixturevalue("pg_schema_url")
    return url


def _old_row(watchlist: str, channel: str, item: str, kind: str, status: str, **kw: object) -> dict[str, object]:  # fmt: skip
    reasons = [REASON.model_dump(mode="json"), reason(watchlist).model_dump(mode="json")]
    row = {"key": f"{watchlist}|{channel}|{item}|{kind}", "watchlist": watchlist,
           "channel": channel, "item_id": item, "kind": kind, "status": status, "attempts": 0,
           "created_at": T0, "run_id": "run-old", "reasons": reasons,
           "sent_at": T0 if status == "sent" else None}  # fmt: skip
    return {**row, **kw}


def test_old_keys_are_merged_and_sent_alerts_are_never_sent_again(
    tmp_path: Path, old_url: str, sink: MailSink
) -> None:
    items = [make_item(n) for n in (1, 2, 3)]
    engine = make_engine(old_url)
    migrate(engine, upto="0004_notice_backoff")
    record(Store(engine), items, [])  # written by the older code: items, then old-key alerts
    with engine.begin() as conn:
        conn.execute(alerts.insert(), [
            # item 1: three watchlists, one of them already delivered to mail
            _old_row("ev", "mail", "item-0001", "instant", "sent"),
            _old_row("batteries", "mail", "item-0001", "instant", "pending"),
            _old_row("miit", "mail", "item-0001", "instant", "failed", attempts=5),
            # item 2: delivered to mail by the only watchlist
            _old_row("ev", "mail", "item-0002", "instant", "sent"),
            # item 3: two watchlists, nothing delivered yet
            _old_row("ev", "mail", "item-0003", "instant", "pending", attempts=2),
            _old_row("batteries", "mail", "item-0003", "instant", "pending", attempts=1),
        ])  # fmt: skip
    engine.dispose()

    with Store.open(old_url) as store:  # migrates: 0005_outbox_item_channel
        rows = {r["item_id"]: r for r in list_alerts(store)}
        with store.read() as conn:
            reasons = dict(conn.execute(sa.select(alerts.c.item_id, alerts.c.reasons)).all())
        assert len(rows) == 3
        one, three = rows["item-0001"], rows["item-0003"]
        assert (one["watchlist"], one["status"]) == ("ev, batteries, miit", "sent")
        assert (three["watchlist"], three["status"], three["attempts"]) == (
            "ev, batteries", "pending", 2)  # fmt: skip
        assert [g["watchlist"] for g in reasons["item-0001"]] == ["ev", "batteries", "miit"]
        assert [r["term"] for r in reasons["item-0003"][1]["reasons"]] == ["solid-state", "batteries"]  # fmt: skip
        with store.read() as conn:
            keys = set(conn.execute(sa.select(alerts.c.key)).scalars())
        assert keys == {f"mail|item-000{n}|instant" for n in (1, 2, 3)}

        # the same items matched again (a forced re-match): nothing new is enqueued
        lists = [watchlist(n, ["mail"]) for n in ("ev", "batteries", "miit")]
        again = alerts_for(items, lists, "run-new")
        assert store.new_alert_keys([a.key for a in again]) == set()
        assert store.record(issue_id="issue-1", source="test", meta=ISSUE, content_hash="h",
                            items=items, alerts=again).alerts_enqueued == 0  # fmt: skip
        channels = write_channels(
            tmp_path, "channels:\n  mail:\n    url: ${U}\n", {"U": sink.url()}
        )
        report = deliver_pending(store, channels, config=DeliverySettings(), now=T0 + dt.timedelta(days=1), worker_id="w")  # fmt: skip

    # only item 3, never delivered, goes out: once, naming both its watchlists
    assert (report.sent, report.items) == (1, 1)
    assert len(sink.messages) == 1
    assert "part 3" in str(sink.messages[0]["Subject"])
    assert str(sink.messages[0]["Subject"]).strip().startswith("[ev, batteries] ")


def test_migrated_reasons_json_is_grouped_per_watchlist(tmp_path: Path) -> None:
    """The JSON written by the migration reads back as the model's groups."""
    from policywatch.models import WatchlistReasons

    url = f"sqlite:///{tmp_path / 'x.db'}"
    engine = make_engine(url)
    migrate(engine, upto="0004_notice_backoff")
    with engine.begin() as conn:
        conn.execute(alerts.insert().values(**_old_row("ev", "mail", "i", "digest", "pending")))
    engine.dispose()
    with Store.open(url) as store, store.read() as conn:
        row = conn.execute(sa.select(alerts)).one()
    assert row.key == "mail|i|digest"
    groups = [WatchlistReasons.model_validate(g) for g in row.reasons]
    assert groups[0].watchlist == "ev"
    assert [r.term for r in groups[0].reasons] == ["solid-state", "ev"]
    assert json.dumps(row.reasons)  # still plain JSON
    assert row.created_at <= utcnow()
