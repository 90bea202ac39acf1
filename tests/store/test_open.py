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


@pytest.mark.parametrize("create", [True, False])
def test_a_damaged_sqlite_file_is_one_clear_error_that_says_what_to_do(
    tmp_path: Path, create: bool
) -> None:
    path = tmp_path / "state.db"
    garbage = b"not a database\x00" * 512
    path.write_bytes(garbage)
    with pytest.raises(StateError) as info:
        Store.open(f"sqlite:///{path}", create=create)
    assert (
        str(info.value)
        == f"cannot open the state database sqlite:///{path}: file is not a database"
    )
    assert f"{path} is damaged" in (info.value.hint or "")
    assert "move it aside" in (info.value.hint or "")
    assert path.read_bytes() == garbage


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
    later = [name for name, _ in MIGRATIONS[3:]]
    assert later[0] == "0004_notice_backoff"
    assert pending(engine) == later
    engine.dispose()
    with Store.open(store_url, create=False) as store:
        assert list(store.items()) == []
        assert pending(store.engine) == []
