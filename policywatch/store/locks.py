"""The run lock: one run at a time per state database, taken over at once from a crashed holder.

PostgreSQL: a session-level advisory lock on a dedicated connection (``pg_try_advisory_lock``
polled until ``wait`` runs out); the server frees it when the process dies. SQLite has no such
thing, so the lock is a row in ``locks`` with an expiry that a heartbeat thread pushes forward.

On both, the ``locks`` row names the owner (the run id) and its process (``holder``: host, boot
id, pid, start time). A waiting run that finds the holder gone from this host (killed, or from
a previous boot) takes the lock at once, and waits for a holder alive on this host even past
its row's expiry (a starved heartbeat); a holder on another host cannot be checked, so its row
must expire (SQLite, ``LOCK_TTL`` after its last heartbeat) or its session end (PostgreSQL).
The run that takes the lock closes the dead run's ``runs`` row as ``crashed`` and releases the
outbox claims it held (see ``healing``).

Times: the row lives ``LOCK_TTL`` (90 s) and is renewed every ``HEARTBEAT`` (30 s); a run waits
``LOCK_WAIT`` (120 s), longer than a dead holder's row can live, so after a crash on another
host the next run still gets the lock instead of failing.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from policywatch.errors import StateError
from policywatch.store import healing
from policywatch.store.engine import advisory_key, insert_for, write_tx
from policywatch.store.holder import Holder, Verdict, current, verdict
from policywatch.store.schema import locks, utcnow

log = logging.getLogger("policywatch.store")

LOCK_TTL = 90.0
HEARTBEAT = LOCK_TTL / 3
LOCK_WAIT = LOCK_TTL + HEARTBEAT
POLL = 0.2
NOTE_GRACE = 5.0  # seconds a waiter gives a new PostgreSQL holder to write its row
NOT_RECORDED = "(holder not recorded yet)"


@dataclass(frozen=True)
class LockRow:
    """Who holds a lock, as its row says (``holder`` is None for rows of older versions)."""

    owner: str
    holder: Holder | None
    expires_at: dt.datetime | None = None

    @classmethod
    def of(cls, row: sa.Row[tuple[object, ...]]) -> LockRow:
        m = row._mapping
        return cls(str(m["owner"]), Holder.from_json(m["holder"]), m["expires_at"])

    def verdict(self, here: Holder) -> Verdict:
        return "unknown" if self.holder is None else verdict(self.holder, here)

    def gone(self, here: Holder) -> bool:
        return self.verdict(here) == "gone"

    def describe(self, here: Holder | None = None) -> str:
        """``run 1f2e (pid 4242 on host-a)``; another host's holder is said to be one."""
        if self.holder is None:
            return f"run {self.owner}"
        where = self.holder.describe()
        if here is not None and self.holder.host != here.host:
            where += ", another host: not checkable from here"
        return f"run {self.owner} ({where})"


@contextmanager
def hold_lock(engine: Engine, name: str, owner: str, *, wait: float, ttl: float) -> Iterator[None]:
    me = current()
    if engine.dialect.name == "postgresql":
        with _advisory(engine, name, owner, me, wait=wait, ttl=ttl):
            yield
    else:
        with _row_lock(engine, name, owner, me, wait=wait, ttl=ttl):
            yield


def read_holder(engine: Engine, name: str) -> LockRow | None:
    """The ``locks`` row of ``name`` (on PostgreSQL it may outlive a crashed holder)."""
    with engine.connect() as conn:
        row = conn.execute(sa.select(locks).where(locks.c.name == name)).first()
    return LockRow.of(row) if row is not None else None


def _wait_loop(name: str, wait: float, me: Holder, attempt: Callable[[], LockRow | None]) -> None:
    """Call ``attempt`` until it returns None (acquired); log once when waiting; give up after wait.

    The waiting line names the holder: a PostgreSQL holder writes its row just after it got the
    advisory lock, so a run that asks in between waits up to ``NOTE_GRACE`` for the row before
    it says it waits for an unknown holder."""
    start = time.monotonic()
    deadline = start + wait
    waited_for: str | None = None
    while (holder := attempt()) is not None:
        unnamed = holder.owner == NOT_RECORDED and time.monotonic() - start < NOTE_GRACE
        if waited_for is None and not unnamed:
            waited_for = holder.describe(me)
            log.warning("waiting for run lock '%s' held by %s (up to %g s)", name, waited_for, wait)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            said = holder.describe(me)
            log.error("gave up waiting for run lock '%s' held by %s after %g s", name, said, wait)
            raise StateError(
                f"another run holds the lock '{name}' ({said}); gave up after {wait:g} s",
                hint="let that run finish; the lock of a run that crashed on this host is taken "
                f"over at once, one from another host after {LOCK_TTL:g} s (SQLite) or when its "
                "database session ends (PostgreSQL)",
            )
        time.sleep(min(POLL, remaining))
    if waited_for is not None:
        log.info("acquired run lock '%s' after waiting for %s", name, waited_for)


def _take_over(conn: Connection, name: str, prev: LockRow, me: Holder, *, lost: bool) -> None:
    """The previous holder is gone (``prev.gone``) or lost its lock (``lost``: expired row, or
    PostgreSQL session ended): close its run as crashed; release its claims if it is gone."""
    if prev.holder is not None and prev.gone(me):
        why = f"crashed: {prev.holder.describe()} is gone; lock '{name}' taken over"
        freed = healing.close_crashed(conn, prev.owner, why, release=True)
        log.warning(
            "run lock '%s': %s is gone; taken over at once, its run closed as crashed, "
            "%d claimed alert(s) released", name, prev.describe(), freed,
        )  # fmt: skip
    elif lost:
        why = f"crashed: lost lock '{name}' (its row expired or its session ended)"
        healing.close_crashed(conn, prev.owner, why, release=False)
        log.warning(
            "run lock '%s': the lock of %s expired; taken over (its claimed alerts, if any, "
            "wait for their lease)", name, prev.describe(me),
        )  # fmt: skip


# -- SQLite: a lock row with a heartbeat --------------------------------------------------------


def _try_row(engine: Engine, name: str, owner: str, me: Holder, ttl: float) -> LockRow | None:
    with write_tx(engine) as conn:
        now = utcnow()
        row = conn.execute(sa.select(locks).where(locks.c.name == name)).first()
        if row is not None:
            prev = LockRow.of(row)
            expired = row.expires_at < now
            state = prev.verdict(me)
            if state == "alive" or (state == "unknown" and not expired):
                return prev
            conn.execute(locks.delete().where(locks.c.name == name))
            _take_over(conn, name, prev, me, lost=expired)
        expires = now + dt.timedelta(seconds=ttl)
        conn.execute(
            locks.insert().values(
                name=name, owner=owner, holder=me.to_json(), acquired_at=now, expires_at=expires
            )
        )
        healing.sweep(conn, me)
        return None


def _mine(name: str, owner: str, me: Holder) -> sa.ColumnElement[bool]:
    return sa.and_(locks.c.name == name, locks.c.owner == owner, locks.c.holder == me.to_json())


def _extend(engine: Engine, name: str, owner: str, me: Holder, ttl: float) -> bool:
    with write_tx(engine) as conn:
        expires = utcnow() + dt.timedelta(seconds=ttl)
        done = conn.execute(locks.update().where(_mine(name, owner, me)).values(expires_at=expires))
        return done.rowcount == 1


def _release_row(engine: Engine, name: str, owner: str, me: Holder) -> None:
    with write_tx(engine) as conn:
        conn.execute(locks.delete().where(_mine(name, owner, me)))


def _heartbeat(
    engine: Engine, name: str, owner: str, me: Holder, ttl: float, stop: threading.Event
) -> None:
    while not stop.wait(ttl / 3):
        try:
            if not _extend(engine, name, owner, me, ttl):
                log.error("run lock '%s' of run %s was lost (expired and taken over)", name, owner)
                return
        except sa.exc.SQLAlchemyError as exc:  # keep trying: the row still protects us until expiry
            log.warning("could not extend run lock '%s': %s", name, exc)


@contextmanager
def _row_lock(
    engine: Engine, name: str, owner: str, me: Holder, *, wait: float, ttl: float
) -> Iterator[None]:
    _wait_loop(name, wait, me, lambda: _try_row(engine, name, owner, me, ttl))
    stop = threading.Event()
    beat = threading.Thread(
        target=_heartbeat, args=(engine, name, owner, me, ttl, stop), daemon=True, name="run-lock"
    )
    beat.start()
    try:
        yield
    finally:
        stop.set()
        beat.join()
        _release_row(engine, name, owner, me)


# -- PostgreSQL: a session advisory lock --------------------------------------------------------


def _note_holder(engine: Engine, name: str, owner: str, me: Holder, ttl: float) -> None:
    """Record who holds the advisory lock (for the waiters' message); a row left by a previous
    holder means its session ended without releasing: it crashed."""
    now = utcnow()
    row = {"name": name, "owner": owner, "holder": me.to_json(), "acquired_at": now}
    row["expires_at"] = now + dt.timedelta(seconds=ttl)
    with write_tx(engine) as conn:
        stale = conn.execute(sa.select(locks).where(locks.c.name == name)).first()
        if stale is not None:
            _take_over(conn, name, LockRow.of(stale), me, lost=True)
        stmt = insert_for(conn, locks).values(**row)
        update = {k: stmt.excluded[k] for k in ("owner", "holder", "acquired_at", "expires_at")}
        conn.execute(stmt.on_conflict_do_update(index_elements=["name"], set_=update))
        healing.sweep(conn, me)


def _try_advisory(conn: Connection, engine: Engine, key: int, name: str) -> LockRow | None:
    got = conn.execute(sa.select(sa.func.pg_try_advisory_lock(key))).scalar_one()
    conn.commit()
    if got:
        return None
    return read_holder(engine, name) or LockRow(NOT_RECORDED, None)


@contextmanager
def _advisory(
    engine: Engine, name: str, owner: str, me: Holder, *, wait: float, ttl: float
) -> Iterator[None]:
    with engine.connect() as conn:
        key = advisory_key(conn, name)
        conn.commit()
        _wait_loop(name, wait, me, lambda: _try_advisory(conn, engine, key, name))
        try:
            _note_holder(engine, name, owner, me, ttl)
            yield
        finally:
            with write_tx(engine) as other:
                other.execute(locks.delete().where(_mine(name, owner, me)))
            conn.execute(sa.select(sa.func.pg_advisory_unlock(key)))
            conn.commit()


# -- Prefect slot leases held by a run (see flows.limits) ---------------------------------------

LEASE_PREFIX = "lease:"


def note_lease(engine: Engine, lease: str, owner: str, seconds: float) -> None:
    """Remember in ``locks`` that this process holds the Prefect slot lease ``lease`` for run
    ``owner``: if it dies, a run on this host gives the slots back at once (``dead_leases``)
    instead of waiting for the lease to run out."""
    now = utcnow()
    with write_tx(engine) as conn:
        conn.execute(
            locks.insert().values(
                name=LEASE_PREFIX + lease, owner=owner, holder=current().to_json(),
                acquired_at=now, expires_at=now + dt.timedelta(seconds=seconds),
            )
        )  # fmt: skip


def forget_lease(engine: Engine, lease: str) -> None:
    with write_tx(engine) as conn:
        conn.execute(locks.delete().where(locks.c.name == LEASE_PREFIX + lease))


def dead_leases(engine: Engine) -> list[tuple[str, LockRow]]:
    """The noted leases whose process on this host is gone (killed while it held them)."""
    me = current()
    with engine.connect() as conn:
        rows = conn.execute(sa.select(locks).where(locks.c.name.startswith(LEASE_PREFIX))).all()
    held = [(str(row.name).removeprefix(LEASE_PREFIX), LockRow.of(row)) for row in rows]
    return [(lease, row) for lease, row in held if row.gone(me)]
