"""The ``health`` table (migration 0007_health): watches survive between runs on SQLite and
PostgreSQL, and a watch with nothing to remember leaves no row."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from policywatch.canaries import Watch, told
from policywatch.store import Store
from policywatch.store.engine import make_engine
from policywatch.store.migrations import applied, migrate
from policywatch.store.schema import health
from policywatch.store.watches import load_watches, save_watches

T0 = dt.datetime(2026, 3, 2, 6, 0, tzinfo=dt.UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Store]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('state')}/state.db"
    else:
        url = request.getfixturevalue("pg_schema_url")
    with Store.open(url) as opened:
        yield opened


def test_watches_round_trip_and_quiet_ones_are_deleted(store: Store) -> None:
    down = Watch("source", "merics", failures=3, failing=True, since=T0, error="HTTP 500")
    streak = Watch("notice_layout", "miit", failures=2, urls=["https://www.miit.gov.cn/a"])
    with store.write() as conn:
        save_watches(conn, [down, streak])
    assert load_watches(store.engine) == {down.key: down, streak.key: streak}

    with store.write() as conn:
        save_watches(conn, [told(down)])
    assert load_watches(store.engine)[down.key].told is True

    recovered = Watch("source", "merics", failures=0, failing=False, told=True, since=T0)
    with store.write() as conn:
        save_watches(conn, [told(recovered)])  # recovery told: nothing left to remember
    assert set(load_watches(store.engine)) == {streak.key}
    with store.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(health)).scalar_one() == 1


def test_an_older_database_gets_the_health_table(tmp_path_factory: pytest.TempPathFactory) -> None:
    url = f"sqlite:///{tmp_path_factory.mktemp('old')}/state.db"
    engine = make_engine(url)
    migrate(engine, upto="0006_holders")
    with engine.connect() as conn:
        assert not sa.inspect(conn).has_table("health")
    engine.dispose()
    with Store.open(url) as store, store.read() as conn:
        assert "0007_health" in applied(conn)
        assert sa.inspect(conn).has_table("health")
        assert load_watches(store.engine) == {}
