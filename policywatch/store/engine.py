"""Engine set-up and the few dialect differences the store needs (SQLite and PostgreSQL).

SQLite: WAL (readers never block the writer), a busy timeout (a writer waits instead of failing),
foreign keys on, and write transactions opened with ``BEGIN IMMEDIATE`` so that a transaction that
reads and then writes cannot fail half-way with "database is locked" when another process wrote
in between. Read transactions stay deferred so a long backtest does not block writers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from policywatch.errors import StateError
from policywatch.settings import STATE_DIALECTS, STATE_URL_HINT

SUPPORTED = STATE_DIALECTS
BUSY_TIMEOUT_MS = 30_000
_IMMEDIATE = "policywatch_immediate"


def make_engine(url: str, *, create: bool = True) -> Engine:
    """An engine for a state URL; SQLite files get their parent folder and pragmas.

    ``create=False``: a SQLite file that does not exist is a StateError (connecting would
    create it), and no folder is made.
    """
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise StateError(
            f"state URL is not a valid SQLAlchemy URL: {_safe(url)}",
            hint="set POLICYWATCH_STATE_URL or state_url in config/policywatch.yaml, "
            "e.g. sqlite:///var/state.db or postgresql+psycopg://user@host/db",
        ) from exc
    dialect = parsed.get_backend_name()
    if dialect not in SUPPORTED:
        raise StateError(
            f"unsupported state database '{dialect}' in {_safe(url)}",
            hint=STATE_URL_HINT,
        )
    if dialect == "sqlite":
        return _sqlite_engine(parsed, create)
    return sa.create_engine(parsed, pool_pre_ping=True)


_NO_STATE_HINT = (
    "nothing has been recorded there yet: run `policywatch run` first, or point "
    "POLICYWATCH_STATE_URL / state_url at the database your runs use"
)


def require_state(engine: Engine) -> None:
    """A StateError unless the database holds policywatch state (its migrations table)."""
    with engine.connect() as conn:
        if sa.inspect(conn).has_table("schema_migrations"):
            return
    where = engine.url.render_as_string(hide_password=True)
    raise StateError(f"no policywatch state in {where}", hint=_NO_STATE_HINT)


def _safe(url: str) -> str:
    """The URL with any password hidden, for messages."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "<unparseable URL>"


def _sqlite_engine(url: sa.URL, create: bool) -> Engine:
    db = url.database
    if db and db != ":memory:" and not db.startswith("file:"):
        path = Path(db).expanduser()
        if not create and not path.is_file():
            raise StateError(f"no state database at {path}", hint=_NO_STATE_HINT)
        path.parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (see _on_begin)
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(_IMMEDIATE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


@contextmanager
def write_tx(engine: Engine) -> Iterator[Connection]:
    """One write transaction: committed on success, rolled back on any exception."""
    with engine.connect() as conn:
        conn = conn.execution_options(**{_IMMEDIATE: True})
        with conn.begin():
            yield conn


def insert_for(conn: Connection, table: sa.Table) -> Any:
    """The dialect's INSERT, which has ``on_conflict_do_nothing`` / ``on_conflict_do_update``."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def advisory_key(conn: Connection, name: str) -> int:
    """A signed 64-bit key for pg advisory locks, distinct per schema so tenants never collide."""
    schema = conn.execute(sa.text("SELECT current_schema()")).scalar_one()
    digest = hashlib.sha256(f"policywatch:{schema}:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)
