"""Store fixtures: every test runs on a real SQLite file and on a real PostgreSQL schema.

PostgreSQL comes from ``POLICYWATCH_TEST_PG_URL`` (default: local ``test`` database). Each test
gets its own throw-away schema (search_path set through the URL), so tests never see each other's
rows and nothing outside that schema is touched.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from policywatch.store import Store


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def store_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('state')}/var/state.db"
    else:
        yield request.getfixturevalue("pg_schema_url")


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    with Store.open(store_url) as opened:
        yield opened
