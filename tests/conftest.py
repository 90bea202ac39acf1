"""Suite-wide test settings. Area fixtures live in each tests/<area>/conftest.py."""

from __future__ import annotations

import os
import socket
import sys
import uuid
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

REPO = Path(__file__).resolve().parent.parent
SHARED_SAMPLES = REPO.parent / "shared" / "samples"

# Keep Prefect (imported by flow tests) quiet and local, whatever the developer's profile says.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


@pytest.fixture(scope="module", autouse=True)
def _stop_prefect_threads() -> Iterator[None]:
    """After a module that ran flows in-process, stop Prefect's client threads (see
    ``flows.testing.stop_client_services``) so later tests do not share the process with them."""
    yield
    if "prefect.events.worker" in sys.modules:
        from flows import testing

        testing.stop_client_services()


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[Any]:
    """One real Prefect server for the session, shared by tests/flows and tests/e2e."""
    from flows import testing

    server = testing.acquire()
    try:
        yield server
    finally:
        testing.release()


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def unresolvable_host() -> str:
    """A name that never resolves (RFC 6761 reserves .invalid); skips where the resolver does
    not answer "no such name" for it (some networks rewrite failed lookups)."""
    name = "policywatch-test.invalid"
    try:
        socket.getaddrinfo(name, 443)
    except socket.gaierror as exc:
        if exc.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)):
            return name
        pytest.skip(f"the resolver answered {exc} for {name}, not 'no such name'")
    pytest.skip(f"{name} resolved on this machine (a resolver that rewrites failed lookups)")


@pytest.fixture(scope="session")
def shared_samples() -> Path:
    """The real newsletter samples next to the repo; tests that need them skip when absent."""
    if not SHARED_SAMPLES.is_dir():
        pytest.skip(
            f"real samples folder not found at {SHARED_SAMPLES} (read-only, outside the repo)"
        )
    return SHARED_SAMPLES


PG_URL = os.environ.get(
    "POLICYWATCH_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@cache
def _pg_unreachable() -> str | None:
    """Why PostgreSQL cannot be used, or None when it can."""
    try:
        engine = sa.create_engine(PG_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
    except Exception as exc:
        return f"PostgreSQL not reachable at POLICYWATCH_TEST_PG_URL ({type(exc).__name__})"
    return None


@pytest.fixture
def pg_schema_url() -> Iterator[str]:
    """A URL into a throw-away PostgreSQL schema (search_path set through the URL), dropped
    afterwards, so tests never see each other's rows; skipped with the reason when PostgreSQL
    (``POLICYWATCH_TEST_PG_URL``, default the local ``test`` database) is unreachable."""
    reason = _pg_unreachable()
    if reason:
        pytest.skip(reason)
    schema = f"pwtest_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_URL)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    url = sa.engine.make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()
