"""Named schema migrations, each applied in one transaction and recorded in ``schema_migrations``.

Migrations are frozen: once released, a migration's DDL never changes; a schema change is a new
entry at the end of ``MIGRATIONS`` (and the matching change in ``schema``). Opening a
database applies what is missing; a database that records a migration this code does not know
was written by a newer policywatch and is refused rather than silently misread.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from policywatch.errors import StateError
from policywatch.store.engine import advisory_key, write_tx
from policywatch.store.schema import JsonText, UtcDateTime, schema_migrations, utcnow

Migration = tuple[str, Callable[[Connection], None]]


def _initial(conn: Connection) -> None:
    """0001: every table of DESIGN 3.3 (the outbox without its claim columns)."""
    md = sa.MetaData()
    ts = UtcDateTime
    sa.Table(
        "sources",
        md,
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("state", JsonText(), nullable=False),
        sa.Column("updated_at", ts(), nullable=False),
    )
    sa.Table(
        "issues",
        md,
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("title", sa.Text),
        sa.Column("published", sa.Date),
        sa.Column("url", sa.Text),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("data", JsonText(), nullable=False),
        sa.Column("first_seen", ts(), nullable=False),
        sa.Column("last_seen", ts(), nullable=False),
    )
    sa.Table(
        "items",
        md,
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("issue_id", sa.Text, sa.ForeignKey("issues.id"), nullable=False, index=True),
        sa.Column("section", sa.String(40), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("date", sa.Date),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("previous_hash", sa.String(64)),
        sa.Column("data", JsonText(), nullable=False),
        sa.Column("first_seen", ts(), nullable=False),
        sa.Column("last_seen", ts(), nullable=False),
    )
    sa.Table(
        "notices",
        md,
        sa.Column("url", sa.Text, primary_key=True),
        sa.Column("site", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("content_hash", sa.String(64)),
        sa.Column("previous_hash", sa.String(64)),
        sa.Column("data", JsonText(), nullable=False),
        sa.Column("first_seen", ts(), nullable=False),
        sa.Column("last_checked", ts(), nullable=False),
        sa.Column("last_error", sa.Text),
    )
    sa.Table(
        "item_notices",
        md,
        sa.Column("item_id", sa.String(200), sa.ForeignKey("items.id"), primary_key=True),
        sa.Column("notice_url", sa.Text, primary_key=True, index=True),
    )
    sa.Table(
        "alerts",
        md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(500), nullable=False, unique=True),
        sa.Column("watchlist", sa.String(200), nullable=False),
        sa.Column("channel", sa.String(200), nullable=False),
        sa.Column("item_id", sa.String(200), nullable=False, index=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("change", sa.String(20), nullable=False, server_default="new"),
        sa.Column("status", sa.String(20), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", ts()),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", ts(), nullable=False),
        sa.Column("sent_at", ts()),
        sa.Column("run_id", sa.String(200)),
        sa.Column("reasons", JsonText(), nullable=False),
    )
    sa.Table(
        "runs",
        md,
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("started_at", ts(), nullable=False),
        sa.Column("finished_at", ts()),
        sa.Column("status", sa.String(40), nullable=False),
        sa.Column("summary", JsonText()),
    )
    sa.Table(
        "locks",
        md,
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("owner", sa.Text, nullable=False),
        sa.Column("acquired_at", ts(), nullable=False),
        sa.Column("expires_at", ts(), nullable=False),
    )
    md.create_all(conn)


def _alert_claims(conn: Connection) -> None:
    """0002: outbox claims, so that several workers never deliver the same alert twice."""
    pg = conn.dialect.name == "postgresql"
    stamp = "TIMESTAMP WITH TIME ZONE" if pg else "VARCHAR(32)"
    false = "false" if pg else "0"
    conn.exec_driver_sql("ALTER TABLE alerts ADD COLUMN claimed_by TEXT")
    conn.exec_driver_sql(f"ALTER TABLE alerts ADD COLUMN claimed_until {stamp}")
    conn.exec_driver_sql(
        f"ALTER TABLE alerts ADD COLUMN ops_notified BOOLEAN NOT NULL DEFAULT {false}"
    )
    conn.exec_driver_sql("CREATE INDEX ix_alerts_status_next ON alerts (status, next_attempt_at)")


def _item_previous_data(conn: Connection) -> None:
    """0003: the previous content of a revised item, so an alert can show what changed."""
    conn.exec_driver_sql("ALTER TABLE items ADD COLUMN previous_data TEXT")


def _notice_backoff(conn: Connection) -> None:
    """0004: per-notice retry state (failures back off, then give up) and HTTP validators."""
    pg = conn.dialect.name == "postgresql"
    stamp = "TIMESTAMP WITH TIME ZONE" if pg else "VARCHAR(32)"
    conn.exec_driver_sql("ALTER TABLE notices ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0")
    conn.exec_driver_sql(f"ALTER TABLE notices ADD COLUMN next_attempt_at {stamp}")
    conn.exec_driver_sql("ALTER TABLE notices ADD COLUMN etag TEXT")
    conn.exec_driver_sql("ALTER TABLE notices ADD COLUMN last_modified TEXT")
    conn.exec_driver_sql("CREATE INDEX ix_notices_status_next ON notices (status, next_attempt_at)")


def _outbox_item_channel(conn: Connection) -> None:
    """0005: one outbox row per (channel, item, kind) naming every matching watchlist.

    Keys go from ``watchlist|channel|item|kind`` to ``channel|item|kind``; rows that now share a
    key are merged into the oldest one: ``watchlist`` lists every name, ``reasons`` becomes a
    list of ``{watchlist, reasons}``, and a group with any row sent is sent (so nothing that
    was delivered under the old key is ever sent again). ``message_id`` records the message
    that carried a sent alert.
    """
    conn.exec_driver_sql("ALTER TABLE alerts ADD COLUMN message_id TEXT")
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("ALTER TABLE alerts ALTER COLUMN watchlist TYPE TEXT")
    query = sa.text(
        "SELECT id, key, watchlist, channel, kind, status, attempts, next_attempt_at, "
        "last_error, sent_at, reasons, ops_notified FROM alerts ORDER BY id"
    )
    groups: dict[str, list[Any]] = {}
    for row in conn.execute(query):
        groups.setdefault(_new_key(row), []).append(row)
    drop = [r.id for rows in groups.values() for r in rows[1:]]
    for start in range(0, len(drop), 500):
        conn.execute(
            sa.text("DELETE FROM alerts WHERE id IN :ids").bindparams(
                sa.bindparam("ids", expanding=True)
            ),
            {"ids": drop[start : start + 500]},
        )
    merged = [_merged(key, rows) for key, rows in groups.items()]
    if merged:
        conn.execute(
            sa.text(
                "UPDATE alerts SET key = :key, watchlist = :watchlist, reasons = :reasons, "
                "status = :status, attempts = :attempts, next_attempt_at = :next_attempt_at, "
                "last_error = :last_error, sent_at = :sent_at, ops_notified = :ops_notified, "
                "claimed_by = NULL, claimed_until = NULL WHERE id = :id"
            ),
            merged,
        )


def _new_key(row: Any) -> str:
    """``channel|item|kind`` from ``watchlist|channel|item|kind`` (names may hold anything)."""
    old_prefix = f"{row.watchlist}|{row.channel}|"
    if not row.key.startswith(old_prefix):
        return str(row.key)
    ref = row.key[len(old_prefix) :].removesuffix(f"|{row.kind}")
    return f"{row.channel}|{ref}|{row.kind}"


def _merged(key: str, rows: Sequence[Any]) -> dict[str, Any]:
    """The values of the one row that replaces ``rows``: sent wins, then pending, then failed."""
    status = next(s for s in ("sent", "pending", "failed") if any(r.status == s for r in rows))
    chosen = [r for r in rows if r.status == status]
    names = list(dict.fromkeys(r.watchlist for r in rows))
    groups: dict[str, list[Any]] = {n: [] for n in names}
    for r in rows:
        groups[r.watchlist] += [x for x in json.loads(r.reasons) if x not in groups[r.watchlist]]
    reasons = [{"reasons": groups[n], "watchlist": n} for n in names]
    waits = [r.next_attempt_at for r in chosen]
    return {
        "id": rows[0].id,
        "key": key,
        "watchlist": ", ".join(names),
        "reasons": json.dumps(reasons, ensure_ascii=False, sort_keys=True),
        "status": status,
        "attempts": max(r.attempts for r in chosen),
        "next_attempt_at": None if None in waits else min(waits),
        "last_error": chosen[-1].last_error,
        "sent_at": min((r.sent_at for r in chosen if r.sent_at is not None), default=None),
        "ops_notified": all(bool(r.ops_notified) for r in chosen),
    }


def _holders(conn: Connection) -> None:
    """0006: the process behind a lock and a run, so a crashed one on this host is seen at once."""
    conn.exec_driver_sql("ALTER TABLE locks ADD COLUMN holder TEXT")
    conn.exec_driver_sql("ALTER TABLE runs ADD COLUMN holder TEXT")


def _health(conn: Connection) -> None:
    """0007: conditions watched across runs (a source down, a layout canary) and whether the
    ops channel was told, so it hears of each once (``policywatch.canaries``)."""
    md = sa.MetaData()
    sa.Table(
        "health",
        md,
        sa.Column("key", sa.String(300), primary_key=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("failing", sa.Boolean, nullable=False),
        sa.Column("told", sa.Boolean, nullable=False),
        sa.Column("since", UtcDateTime()),
        sa.Column("detail", JsonText(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    md.create_all(conn)


def _documents(conn: Connection) -> None:
    """0008: ministry documents by identity (DESIGN 3.6): one row per document, whichever site
    listed it; the draft family links a draft for comments to its final version."""
    md = sa.MetaData()
    sa.Table(
        "documents",
        md,
        sa.Column("identity", sa.Text, primary_key=True),
        sa.Column("family", sa.Text, nullable=False, index=True),
        sa.Column("is_draft", sa.Boolean, nullable=False),
        sa.Column("item_id", sa.String(200), index=True),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("title", sa.Text),
        sa.Column("doc_number", sa.Text),
        sa.Column("published", sa.Date),
        sa.Column("first_seen", UtcDateTime(), nullable=False),
    )
    md.create_all(conn)


MIGRATIONS: list[Migration] = [
    ("0001_initial", _initial),
    ("0002_alert_claims", _alert_claims),
    ("0003_item_previous_data", _item_previous_data),
    ("0004_notice_backoff", _notice_backoff),
    ("0005_outbox_item_channel", _outbox_item_channel),
    ("0006_holders", _holders),
    ("0007_health", _health),
    ("0008_documents", _documents),
]


def _up_to_date(engine: Engine, known: list[str]) -> bool:
    """One read when nothing is missing (the common case: every run opens the database)."""
    try:
        with engine.connect() as conn:
            done = applied(conn)
    except sa.exc.DBAPIError:  # no schema_migrations table yet: a new database
        return False
    _refuse_newer(done, known)
    return done >= set(known)


def applied(conn: Connection) -> set[str]:
    return set(conn.execute(sa.select(schema_migrations.c.name)).scalars())


def pending(engine: Engine) -> list[str]:
    """The migrations this database still lacks (read only: nothing is created)."""
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table("schema_migrations"):
            return [name for name, _ in MIGRATIONS]
        done = applied(conn)
    return [name for name, _ in MIGRATIONS if name not in done]


def migrate(engine: Engine, *, upto: str | None = None) -> list[str]:
    """Apply the missing migrations in order (stopping after ``upto``); returns the names applied."""
    known = [name for name, _ in MIGRATIONS]
    if upto is not None and upto not in known:
        raise ValueError(f"unknown migration {upto!r}; known: {', '.join(known)}")
    if upto is None and _up_to_date(engine, known):
        return []
    with _migration_tx(engine) as conn:
        schema_migrations.create(conn, checkfirst=True)
    done: list[str] = []
    for name, step in MIGRATIONS:
        if _apply(engine, name, step, known):
            done.append(name)
        if name == upto:
            break
    return done


def _apply(engine: Engine, name: str, step: Callable[[Connection], None], known: list[str]) -> bool:
    """One migration in one transaction; re-checked under a lock so concurrent opens apply it once."""
    with _migration_tx(engine) as conn:
        done = applied(conn)
        _refuse_newer(done, known)
        if name in done:
            return False
        step(conn)
        conn.execute(schema_migrations.insert().values(name=name, applied_at=utcnow()))
        return True


@contextmanager
def _migration_tx(engine: Engine) -> Iterator[Connection]:
    """A write transaction that only one process at a time gets (SQLite: BEGIN IMMEDIATE)."""
    with write_tx(engine) as conn:
        if conn.dialect.name == "postgresql":
            key = advisory_key(conn, "migrations")
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(key)))
        yield conn


def _refuse_newer(done: set[str], known: list[str]) -> None:
    unknown = sorted(done - set(known))
    if unknown:
        raise StateError(
            f"the state database was written by a newer policywatch (migration '{unknown[-1]}'); "
            "upgrade policywatch or point POLICYWATCH_STATE_URL elsewhere",
            hint=f"this policywatch knows migrations up to '{known[-1]}'",
        )
