"""The run lock: one run at a time per state database, and a log line when a run waits or gives up.

PostgreSQL: a session-level advisory lock on a dedicated connection (``pg_try_advisory_lock``
polled until ``wait`` runs out); the server frees it if the process dies. SQLite has no such thing,
so the lock is a row in ``locks`` with an expiry that a heartbeat thread keeps pushing forward;
a crashed run stops its heartbeat and its row expires after ``ttl`` seconds. On both, the
``locks`` row names the holder, so a waiting run can say whom it waits for.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from policywatch.errors import StateError
from policywatch.store.engine import advisory_key, insert_for, write_tx
from policywatch.store.schema import locks, utcnow

log = logging.getLogger("policywatch.store")

LOCK_TTL = 120.0
POLL = 0.2


def _label(owner: str) -> str:
    return f"{owner} (pid {os.getpid()} on {socket.gethostname()}, {uuid.uuid4().hex[:8]})"


@contextmanager
def hold_lock(engine: Engine, name: str, owner: str, *, wait: float, ttl: float) -> Iterator[None]:
    label = _label(owner)
    if engine.dialect.name == "postgresql":
        with _advisory(engine, name, label, wait=wait, ttl=ttl):
            yield
    else:
        with _row_lock(engine, name, label, wait=wait, ttl=ttl):
            yield


def _wait_loop(name: str, wait: float, attempt: Callable[[], str | None]) -> None:
    """Call ``attempt`` until it returns None (acquired); log once when waiting; give up after wait."""
    deadline = time.monotonic() + wait
    waited_for: str | None = None
    while (holder := attempt()) is not None:
        if waited_for is None:
            log.warning("waiting for run lock '%s' held by %s (up to %g s)", name, holder, wait)
            waited_for = holder
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            log.error("gave up waiting for run lock '%s' held by %s after %g s", name, holder, wait)
            raise StateError(
                f"another run holds the lock '{name}' ({holder}); gave up after {wait:g} s",
                hint="let that run finish; a crashed run's lock is freed automatically "
                "(PostgreSQL at once, SQLite when its lock row expires)",
            )
        time.sleep(min(POLL, remaining))
    if waited_for is not None:
        log.info("acquired run lock '%s' after waiting for %s", name, waited_for)


# -- SQLite: a lock row with a heartbeat --------------------------------------------------------


def _try_row(engine: Engine, name: str, label: str, ttl: float) -> str | None:
    with write_tx(engine) as conn:
        now = utcnow()
        conn.execute(locks.delete().where(locks.c.name == name, locks.c.expires_at < now))
        holder = conn.execute(
            sa.select(locks.c.owner).where(locks.c.name == name)
        ).scalar_one_or_none()
        if holder is not None:
            return str(holder)
        expires = now + dt.timedelta(seconds=ttl)
        conn.execute(
            locks.insert().values(name=name, owner=label, acquired_at=now, expires_at=expires)
        )
        return None


def _extend(engine: Engine, name: str, label: str, ttl: float) -> bool:
    with write_tx(engine) as conn:
        expires = utcnow() + dt.timedelta(seconds=ttl)
        done = conn.execute(
            locks.update()
            .where(locks.c.name == name, locks.c.owner == label)
            .values(expires_at=expires)
        )
        return done.rowcount == 1


def _release_row(engine: Engine, name: str, label: str) -> None:
    with write_tx(engine) as conn:
        conn.execute(locks.delete().where(locks.c.name == name, locks.c.owner == label))


def _heartbeat(engine: Engine, name: str, label: str, ttl: float, stop: threading.Event) -> None:
    while not stop.wait(ttl / 3):
        try:
            if not _extend(engine, name, label, ttl):
                log.error("run lock '%s' of %s was lost (expired and taken over)", name, label)
                return
        except sa.exc.SQLAlchemyError as exc:  # keep trying: the row still protects us until expiry
            log.warning("could not extend run lock '%s': %s", name, exc)


@contextmanager
def _row_lock(engine: Engine, name: str, label: str, *, wait: float, ttl: float) -> Iterator[None]:
    _wait_loop(name, wait, lambda: _try_row(engine, name, label, ttl))
    stop = threading.Event()
    beat = threading.Thread(
        target=_heartbeat, args=(engine, name, label, ttl, stop), daemon=True, name="run-lock"
    )
    beat.start()
    try:
        yield
    finally:
        stop.set()
        beat.join()
        _release_row(engine, name, label)


# -- PostgreSQL: a session advisory lock --------------------------------------------------------


def _note_holder(engine: Engine, name: str, label: str, ttl: float) -> None:
    """Record who holds the advisory lock, for the 'waiting for ... held by' message."""
    now = utcnow()
    row = {"name": name, "owner": label, "acquired_at": now}
    row["expires_at"] = now + dt.timedelta(seconds=ttl)
    with write_tx(engine) as conn:
        stmt = insert_for(conn, locks).values(**row)
        update = {k: stmt.excluded[k] for k in ("owner", "acquired_at", "expires_at")}
        conn.execute(stmt.on_conflict_do_update(index_elements=["name"], set_=update))


def _holder(engine: Engine, name: str) -> str:
    with engine.connect() as conn:
        owner = conn.execute(
            sa.select(locks.c.owner).where(locks.c.name == name)
        ).scalar_one_or_none()
    return str(owner) if owner is not None else "another run"


def _try_advisory(conn: Connection, engine: Engine, key: int, name: str) -> str | None:
    got = conn.execute(sa.select(sa.func.pg_try_advisory_lock(key))).scalar_one()
    conn.commit()
    return None if got else _holder(engine, name)


@contextmanager
def _advisory(engine: Engine, name: str, label: str, *, wait: float, ttl: float) -> Iterator[None]:
    with engine.connect() as conn:
        key = advisory_key(conn, name)
        conn.commit()
        _wait_loop(name, wait, lambda: _try_advisory(conn, engine, key, name))
        try:
            _note_holder(engine, name, label, ttl)
            yield
        finally:
            with write_tx(engine) as other:
                other.execute(locks.delete().where(locks.c.name == name, locks.c.owner == label))
            conn.execute(sa.select(sa.func.pg_advisory_unlock(key)))
            conn.commit()
