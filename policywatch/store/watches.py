"""The ``health`` table: what ``policywatch.canaries`` watches across runs, read and written.

A watch with nothing to remember (not failing, nobody told, no failure counted) has no row.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from policywatch.canaries import Watch
from policywatch.store.schema import health, utcnow
from policywatch.store.writes import upsert

__all__ = ["load_watches", "save_watches"]


def load_watches(engine: Engine) -> dict[str, Watch]:
    """Every stored watch by key."""
    with engine.connect() as conn:
        rows = conn.execute(sa.select(health)).all()
    return {row.key: _watch(row) for row in rows}


def _watch(row: Any) -> Watch:
    detail = row.detail or {}
    return Watch(
        row.kind, row.subject, failures=row.failures, failing=bool(row.failing),
        told=bool(row.told), since=row.since, error=detail.get("error"),
        urls=list(detail.get("urls", [])),
    )  # fmt: skip


def save_watches(conn: Connection, watches: Iterable[Watch]) -> None:
    """Upsert each watch, or delete its row when it has nothing left to remember."""
    now = utcnow()
    for w in watches:
        if w.quiet:
            conn.execute(health.delete().where(health.c.key == w.key))
            continue
        row = {
            "key": w.key, "kind": w.kind, "subject": w.subject, "failures": w.failures,
            "failing": w.failing, "told": w.told, "since": w.since,
            "detail": {"error": w.error, "urls": w.urls}, "updated_at": now,
        }  # fmt: skip
        upsert(conn, health, row, ["key"])
