"""The run lock with its real times: a crashed holder on this host is taken over at once (its run
closed as ``crashed``, its claims released); a live holder, or one on another host, is waited for."""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from store_helpers import kill_when_ready, make_alert, make_item, record, spawn, wait_ready

from policywatch import outbox
from policywatch.errors import StateError
from policywatch.store import Store
from policywatch.store.engine import advisory_key
from policywatch.store.healing import run_worker_id
from policywatch.store.holder import Holder, current, is_gone, start_time
from policywatch.store.locks import LOCK_TTL, LOCK_WAIT, NOT_RECORDED, LockRow, _wait_loop
from policywatch.store.schema import alerts, locks, runs, utcnow


@pytest.fixture
def lock_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="policywatch.store")
    return caplog


@pytest.fixture
def url(store: Store) -> str:
    return store.engine.url.render_as_string(hide_password=False)


@pytest.fixture
def live_holder(url: str) -> Iterator[subprocess.Popen[str]]:
    """A child process that holds the run lock as run ``live-run`` until the test ends."""
    proc = spawn(url, "hold-lock", "live-run")
    wait_ready(proc)
    yield proc
    proc.kill()
    proc.communicate(timeout=10)


def _run(store: Store, run_id: str) -> dict[str, object]:
    row = store.run(run_id)
    assert row is not None, run_id
    return row


def _claims(store: Store) -> dict[str, str | None]:
    with store.read() as conn:
        return dict(conn.execute(sa.select(alerts.c.key, alerts.c.claimed_by)).all())  # type: ignore[arg-type]


def _wait_until_pg_frees(store: Store) -> None:
    """PostgreSQL frees a dead session's advisory lock when it sees the connection close; wait
    for the server to have done so (what the next run's first attempt relies on)."""
    if store.dialect != "postgresql":
        return
    with store.engine.connect() as conn:
        key = advisory_key(conn, "run") & 0xFFFFFFFFFFFFFFFF
        query = sa.text(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
            "AND classid = :hi AND objid = :lo AND objsubid = 1"
        )
        for _ in range(200):
            if conn.execute(query, {"hi": key >> 32, "lo": key & 0xFFFFFFFF}).scalar_one() == 0:
                return
            conn.rollback()
            time.sleep(0.05)
    pytest.fail("PostgreSQL never freed the killed session's advisory lock")


def test_lock_times_are_consistent() -> None:
    """A waiter outlives the lock row of a holder that died on another host."""
    assert LOCK_WAIT > LOCK_TTL > 2 * (LOCK_TTL / 3)


def test_holder_of_a_killed_child_is_gone_but_a_live_one_is_not() -> None:
    me = current()
    assert not is_gone(me)
    child = subprocess.Popen(["sleep", "60"])
    holder = Holder(me.host, child.pid, me.boot_id, me.pidns, start_time(child.pid))
    try:
        assert not is_gone(holder)
        child.kill()
        for _ in range(100):  # killed but not reaped: a zombie is not a holder either
            if is_gone(holder):
                break
            time.sleep(0.05)
        assert is_gone(holder)
    finally:
        child.kill()
        child.wait(10)
    assert is_gone(holder)


def test_killed_run_on_this_host_is_taken_over_at_once(
    store: Store, url: str, lock_log: pytest.LogCaptureFixture
) -> None:
    """kill -9 during delivery: the next run gets the lock with no wait at all, the dead run is
    `crashed`, its claims are free; another host's claim stays claimed."""
    other = make_alert("item-9", watchlist="other-host")
    record(store, [make_item("item-9")], alerts=[other], run_id="elsewhere")
    other_token = f"{run_worker_id('f' * 32)}:0123456789ab"
    assert len(outbox._claim(store, other_token, utcnow(), None)) == 1
    dead = uuid.uuid4().hex
    proc = spawn(url, "crash-delivering", dead)
    assert kill_when_ready(proc) == ["READY", "2"]  # it had claimed its two alerts
    assert _run(store, dead)["status"] == "running"
    _wait_until_pg_frees(store)

    with store.run_lock("next-run", wait=0):
        holder = store.lock_holder()
        assert holder is not None
        assert holder.owner == "next-run"
        assert holder.holder is not None
        assert holder.holder.pid == os.getpid()

    crashed = _run(store, dead)
    assert crashed["status"] == "crashed"
    assert crashed["finished_at"] is not None
    assert f"pid {proc.pid} on {socket.gethostname()} is gone" in str(crashed["summary"])
    claims = _claims(store)
    assert claims.pop(other.key) == other_token  # other host: waits for its lease
    assert list(claims.values()) == [None, None]
    assert not any("waiting for run lock" in r.getMessage() for r in lock_log.records)
    assert store.lock_holder() is None


def test_run_killed_before_it_got_the_lock_is_closed_by_the_next_holder(
    store: Store, url: str
) -> None:
    dead = uuid.uuid4().hex
    kill_when_ready(spawn(url, "start-run", dead))
    store.start_run("alive-run")
    with store.run_lock("alive-run", wait=0):
        pass
    assert _run(store, dead)["status"] == "crashed"
    assert _run(store, "alive-run")["status"] == "running"  # its process (this one) lives


def test_live_holder_on_this_host_is_waited_for_and_named(
    store: Store, live_holder: subprocess.Popen[str], lock_log: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(StateError) as info, store.run_lock("next-run", wait=0.5):
        pytest.fail("took the lock of a live holder")
    named = f"run live-run (pid {live_holder.pid} on {socket.gethostname()})"
    assert named in str(info.value)
    messages = [r.getMessage() for r in lock_log.records]
    assert f"waiting for run lock 'run' held by {named} (up to 0.5 s)" in messages
    assert any(
        m.startswith(f"gave up waiting for run lock 'run' held by {named}") for m in messages
    )
    with store.write() as conn:  # a starved heartbeat: the row expired, the holder still runs
        conn.execute(locks.update().values(expires_at=utcnow() - dt.timedelta(seconds=1)))
    with pytest.raises(StateError, match=re.escape(named)):  # noqa: SIM117
        with store.run_lock("next-run", wait=0.3):
            pytest.fail("took the expired lock of a holder alive on this host")
    assert live_holder.poll() is None


def test_a_holder_that_has_not_written_its_row_yet_is_named_once_it_has(
    lock_log: pytest.LogCaptureFixture,
) -> None:
    """PostgreSQL: the holder writes its row just after it got the advisory lock; a run that
    asks in between (two runs started at once) names the holder, not "not recorded yet"."""
    me = current()
    holder = LockRow("first-run", Holder(me.host, 4242, me.boot_id, me.pidns, "123"))
    answers = iter([LockRow(NOT_RECORDED, None)] * 3 + [holder] * 2 + [None])
    _wait_loop("run", 5, me, lambda: next(answers))
    waiting = [r.getMessage() for r in lock_log.records if r.levelno == logging.WARNING]
    assert waiting == [
        f"waiting for run lock 'run' held by run first-run (pid 4242 on {me.host}) (up to 5 s)"
    ]


def _plant(store: Store, owner: str, holder: Holder, expires_in: float) -> None:
    """A lock row as another process would have written it, and its run's row and claim."""
    now = utcnow()
    with store.write() as conn:
        conn.execute(
            locks.insert().values(
                name="run", owner=owner, holder=holder.to_json(), acquired_at=now,
                expires_at=now + dt.timedelta(seconds=expires_in),
            )
        )  # fmt: skip
        conn.execute(
            runs.insert().values(
                id=owner, started_at=now, status="running", holder=holder.to_json()
            )
        )
    record(store, [make_item("item-1")], alerts=[make_alert("item-1")], run_id=owner)
    assert len(outbox._claim(store, f"{run_worker_id(owner)}:abcdef", now, None)) == 1


def test_holder_on_another_host_keeps_the_lock_until_it_expires(store: Store) -> None:
    """SQLite: until its row expires; PostgreSQL: until its session ends. Its run is closed
    then, but its claims wait for their lease (it may live on behind a network split)."""
    me = current()
    far = Holder("another-host", 4242, "other-boot-id", me.pidns, "123")
    with _session_of_another_host(store):
        _plant(store, "far-run", far, expires_in=LOCK_TTL)
        with pytest.raises(StateError, match="pid 4242 on another-host, another host"):  # noqa: SIM117
            with store.run_lock("next-run", wait=0.3):
                pytest.fail("took over a lock of another host before it expired")
        with store.write() as conn:  # SQLite: as if LOCK_TTL passed without a heartbeat
            conn.execute(locks.update().values(expires_at=utcnow() - dt.timedelta(seconds=1)))
    _wait_until_pg_frees(store)
    with store.run_lock("next-run", wait=0):
        pass
    assert _run(store, "far-run")["status"] == "crashed"
    assert list(_claims(store).values()) == [f"{run_worker_id('far-run')}:abcdef"]


@contextmanager
def _session_of_another_host(store: Store) -> Iterator[None]:
    """PostgreSQL: the far holder's advisory lock, held by a session until the block ends."""
    if store.dialect != "postgresql":
        yield
        return
    with store.engine.connect() as conn:
        conn.execute(sa.select(sa.func.pg_advisory_lock(advisory_key(conn, "run"))))
        conn.commit()
        yield
        conn.invalidate()  # the session ends (a pooled connection would keep the lock)


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"boot_id": "a-previous-boot"}, id="previous-boot"),
        pytest.param({"started": "1"}, id="recycled-pid"),
    ],
)
def test_holder_from_a_previous_boot_or_with_a_recycled_pid_is_gone(
    store: Store, change: dict[str, str]
) -> None:
    """This process's own pid, but another boot or start time: not the holder any more."""
    me = current()
    fields = {"host": me.host, "pid": me.pid, "boot_id": me.boot_id, "pidns": me.pidns}
    fields["started"] = me.started
    if not me.boot_id or not me.started:
        pytest.skip("needs /proc (boot id and process start times)")
    _plant(store, "old-run", Holder(**{**fields, **change}), expires_in=LOCK_TTL)
    with store.run_lock("next-run", wait=0):
        pass
    assert _run(store, "old-run")["status"] == "crashed"
    assert list(_claims(store).values()) == [None]


def test_second_run_waits_then_proceeds(store_url: str, lock_log: pytest.LogCaptureFixture) -> None:
    holding, release = threading.Event(), threading.Event()
    first, second = Store.open(store_url), Store.open(store_url)
    got: list[str] = []

    def run_a() -> None:
        with first.run_lock("run-A"):
            holding.set()
            release.wait(20)
            got.append("A")

    def run_b() -> None:
        with second.run_lock("run-B", wait=20):
            got.append("B")

    threads = [threading.Thread(target=run_a), threading.Thread(target=run_b)]
    threads[0].start()
    assert holding.wait(20)
    threads[1].start()
    _wait_for_log(lock_log, "waiting for run lock 'run' held by run run-A (pid", threads[1])
    release.set()
    for t in threads:
        t.join(20)
    first.close()
    second.close()
    assert got == ["A", "B"]
    assert any("acquired run lock 'run' after waiting" in r.getMessage() for r in lock_log.records)


def _wait_for_log(log: pytest.LogCaptureFixture, text: str, thread: threading.Thread) -> None:
    done = threading.Event()
    while not done.wait(0.05):
        if any(text in r.getMessage() for r in log.records):
            return
        if not thread.is_alive():
            pytest.fail(f"log line never came: {text!r}")


def test_heartbeat_keeps_the_row_alive_and_release_removes_it(store: Store) -> None:
    if store.dialect != "sqlite":
        pytest.skip("the heartbeat is the SQLite lock's")
    with store.run_lock("beating", ttl=0.6):
        first = _expiry(store)
        for _ in range(200):  # a heartbeat every ttl / 3
            if _expiry(store) > first:
                break
            time.sleep(0.05)
        assert _expiry(store) > first
    assert store.lock_holder() is None


def _expiry(store: Store) -> dt.datetime:
    with store.read() as conn:
        return conn.execute(sa.select(locks.c.expires_at)).scalar_one()  # type: ignore[no-any-return]
