"""Schema migrations: from empty, from an older schema, and refusing a newer one."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa
from store_helpers import make_item, record

from policywatch.errors import StateError
from policywatch.store import Store
from policywatch.store.engine import make_engine
from policywatch.store.migrations import MIGRATIONS, applied, migrate
from policywatch.store.schema import alerts, metadata, utcnow

ALL = [name for name, _ in MIGRATIONS]


def _applied(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return applied(conn)
    finally:
        engine.dispose()


def test_open_empty_database_applies_every_migration(store_url: str) -> None:
    with Store.open(store_url) as store:
        names = set(sa.inspect(store.engine).get_table_names())
        columns = {c["name"] for c in sa.inspect(store.engine).get_columns("alerts")}
    assert set(metadata.tables) <= names
    assert {"claimed_by", "claimed_until", "ops_notified"} <= columns
    assert _applied(store_url) == set(ALL)


def test_reopening_applies_nothing(store_url: str) -> None:
    Store.open(store_url).close()
    engine = make_engine(store_url)
    try:
        assert migrate(engine) == []
    finally:
        engine.dispose()


def test_older_database_is_upgraded_and_keeps_its_rows(store_url: str) -> None:
    engine = make_engine(store_url)
    assert migrate(engine, upto=ALL[0]) == ALL[:1]
    with engine.begin() as conn:  # an outbox row written by the older code (no claim columns)
        conn.execute(
            sa.text(
                "INSERT INTO alerts (key, watchlist, channel, item_id, kind, created_at, reasons)"
                " VALUES ('w|c|i|instant', 'w', 'c', 'i', 'instant', :now, '[]')"
            ),
            {"now": utcnow() if engine.dialect.name == "postgresql" else utcnow().isoformat()},
        )
    engine.dispose()
    assert _applied(store_url) == set(ALL[:1])

    with Store.open(store_url) as store, store.read() as conn:
        row = conn.execute(sa.select(alerts)).one()
    assert _applied(store_url) == set(ALL)
    # 0005_outbox_item_channel: the key is now channel|item|kind (tests/notify/test_migration.py)
    assert (row.key, row.status, row.attempts) == ("c|i|instant", "pending", 0)
    assert row.ops_notified is False
    assert row.claimed_by is None


def test_newer_database_is_refused(store_url: str) -> None:
    Store.open(store_url).close()
    engine = make_engine(store_url)
    with engine.begin() as conn:
        conn.execute(
            sa.text("INSERT INTO schema_migrations (name, applied_at) VALUES (:n, :t)"),
            {"n": "9999_from_the_future", "t": utcnow().isoformat()},
        )
    engine.dispose()
    with pytest.raises(StateError) as info:
        Store.open(store_url)
    message = str(info.value)
    assert "newer policywatch (migration '9999_from_the_future')" in message
    assert "POLICYWATCH_STATE_URL" in message


def test_sqlite_file_gets_its_folder_and_pragmas(tmp_path: Path) -> None:
    db = tmp_path / "deep" / "er" / "state.db"
    with Store.open(f"sqlite:///{db}") as store, store.engine.connect() as conn:
        assert db.exists()
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() > 0


def test_foreign_keys_are_enforced(store: Store) -> None:
    with pytest.raises(sa.exc.IntegrityError), store.write() as conn:
        conn.execute(sa.text("INSERT INTO item_notices VALUES ('no-such-item', 'https://x')"))


@pytest.mark.parametrize(
    ("url", "expected"),
    [("mysql://u@h/db", "unsupported state database 'mysql'"), ("not a url", "not a valid")],
)
def test_bad_state_urls_are_clear_errors(url: str, expected: str) -> None:
    with pytest.raises(StateError, match=expected):
        Store.open(url)


def test_unreachable_postgres_is_a_state_error_without_password() -> None:
    url = "postgresql+psycopg://user:s3cret@127.0.0.1:1/db?connect_timeout=2"
    with pytest.raises(StateError) as info:
        Store.open(url)
    assert "cannot open the state database" in str(info.value)
    assert "s3cret" not in str(info.value)


def test_timestamps_round_trip_as_aware_utc(store: Store) -> None:
    cest = dt.timezone(dt.timedelta(hours=2))
    with store.write() as conn:
        when = dt.datetime(2024, 10, 2, 10, 30, tzinfo=cest)
        conn.execute(
            sa.insert(metadata.tables["runs"]).values(id="r2", started_at=when, status="ok")
        )
    run = store.run("r2")
    assert run is not None
    assert run["started_at"] == dt.datetime(2024, 10, 2, 8, 30, tzinfo=dt.UTC)
    assert run["started_at"].utcoffset() == dt.timedelta(0)


def test_naive_timestamps_are_refused(store: Store) -> None:
    with pytest.raises(sa.exc.StatementError, match="timezone-aware"), store.write() as conn:
        conn.execute(
            sa.insert(metadata.tables["runs"]).values(
                id="r", started_at=dt.datetime(2024, 1, 1), status="ok"
            )
        )


def test_record_works_after_upgrade(store_url: str) -> None:
    engine = make_engine(store_url)
    migrate(engine, upto=ALL[0])
    engine.dispose()
    with Store.open(store_url) as store:
        assert record(store, [make_item()]).issue == "new"


def test_upgrade_to_0003_adds_previous_data_kept_on_revision(store_url: str) -> None:
    engine = make_engine(store_url)
    migrate(engine, upto="0002_alert_claims")
    with engine.begin() as conn:
        columns = {c["name"] for c in sa.inspect(conn).get_columns("items")}
    engine.dispose()
    assert "previous_data" not in columns
    with Store.open(store_url) as store:
        old = make_item()
        record(store, [old])
        revised = make_item(text="A revised text.")
        assert record(store, [revised], content_hash="h2").item_changes == {"item-1": "revised"}
        with store.read() as conn:
            data = conn.execute(sa.select(metadata.tables["items"].c.previous_data)).scalar_one()
    assert data == old.model_dump(mode="json")
