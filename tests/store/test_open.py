"""``Store.open(url, create=False)``: what read-only commands use; it never creates a database."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from policywatch.errors import StateError
from policywatch.store import Store
from policywatch.store.engine import make_engine
from policywatch.store.migrations import MIGRATIONS, migrate, pending


def test_a_missing_sqlite_file_is_one_clear_error_and_nothing_is_created(tmp_path: Path) -> None:
    path = tmp_path / "var" / "state.db"
    with pytest.raises(StateError, match=f"no state database at {path}") as info:
        Store.open(f"sqlite:///{path}", create=False)
    assert "policywatch run" in (info.value.hint or "")
    assert not path.parent.exists()


@pytest.mark.postgres
def test_a_postgresql_schema_without_state_is_refused_untouched(pg_schema_url: str) -> None:
    with pytest.raises(StateError, match="no policywatch state in"):
        Store.open(pg_schema_url, create=False)
    engine = make_engine(pg_schema_url)
    with engine.connect() as conn:
        assert sa.inspect(conn).get_table_names() == []
    engine.dispose()


def test_an_existing_database_opens_read_only_and_an_old_one_is_upgraded(store_url: str) -> None:
    engine = make_engine(store_url)
    migrate(engine, upto="0003_item_previous_data")  # as an older policywatch left it
    assert pending(engine) == [
        "0004_notice_backoff", "0005_outbox_item_channel", "0006_holders", "0007_health"
    ]  # fmt: skip
    engine.dispose()
    with Store.open(store_url, create=False) as store:
        assert list(store.items()) == []
        assert pending(store.engine) == []
    assert len(MIGRATIONS) == 7
