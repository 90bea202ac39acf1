"""Cleaning up after a run that died: its ``runs`` row closed as ``crashed``, its claims released.

A run killed with ``kill -9`` (or by the OOM killer, or a reboot) leaves its ``runs`` row
``running`` and, if it died while delivering, alerts claimed by its delivery token
(``run-<run_id[:12]>:<hex>``, see ``policywatch.outbox``). When the dead run was on this host
(``holder.is_gone``), both are cleaned up at once by the run that takes the lock next; claims
of a run on another host are left to expire with their lease, since that run may still be
alive behind a network split.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from policywatch.store.holder import Holder, is_gone
from policywatch.store.schema import alerts, runs, utcnow

__all__ = ["close_crashed", "release_claims", "run_worker_id", "sweep"]

log = logging.getLogger("policywatch.store")


def run_worker_id(run_id: str) -> str:
    """The outbox worker id of a run: its claim tokens are ``<this>:<hex>``."""
    return f"run-{run_id[:12]}"


def release_claims(conn: Connection, run_id: str) -> int:
    """Free the pending alerts claimed by ``run_id``'s delivery; returns how many."""
    prefix = run_worker_id(run_id) + ":"
    done = conn.execute(
        alerts.update()
        .where(
            alerts.c.status == "pending", alerts.c.claimed_by.startswith(prefix, autoescape=True)
        )
        .values(claimed_by=None, claimed_until=None)
    )
    return int(done.rowcount or 0)


def close_crashed(conn: Connection, run_id: str, why: str, *, release: bool) -> int:
    """Close ``run_id``'s row as ``crashed`` if it is still running; with ``release``, free its
    claims too. Returns the number of claims released."""
    conn.execute(
        runs.update()
        .where(runs.c.id == run_id, runs.c.status == "running")
        .values(status="crashed", finished_at=utcnow(), summary={"error": why})
    )
    return release_claims(conn, run_id) if release else 0


def sweep(conn: Connection, here: Holder) -> list[str]:
    """Close every ``running`` run whose process on this host is gone (killed while it waited
    for the lock, or while it held a PostgreSQL advisory lock); returns their ids."""
    query = sa.select(runs.c.id, runs.c.holder).where(runs.c.status == "running")
    closed: list[str] = []
    for run_id, data in conn.execute(query).all():
        holder = Holder.from_json(data)
        if holder is not None and is_gone(holder, here):
            freed = close_crashed(
                conn, run_id, f"crashed: {holder.describe()} is gone", release=True
            )
            log.warning(
                "run %s (%s) is gone: closed as crashed, %d claimed alert(s) released",
                run_id, holder.describe(), freed,
            )  # fmt: skip
            closed.append(run_id)
    return closed
