"""Crash safety and concurrency: partial writes never show, two runs never double-record."""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from store_helpers import ISSUE_ID, count, make_alert, make_item, make_notice, record

import policywatch.store.core as store_module
from policywatch.errors import StateError
from policywatch.store import Store

WORKER = Path(__file__).with_name("store_worker.py")


def _spawn(url: str, mode: str, owner: str = "worker") -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WORKER), url, mode, owner],
        cwd=WORKER.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _kill_when_ready(proc: subprocess.Popen[str]) -> None:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if line.strip() != "READY":
        proc.kill()
        _, err = proc.communicate(timeout=10)
        pytest.fail(f"worker did not get ready: {line!r} {err}")
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=10)


@pytest.fixture
def lock_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="policywatch.store")
    return caplog


def _nothing_recorded(store: Store) -> None:
    assert store.known_issue(ISSUE_ID) is None
    assert [count(store, t) for t in ("issues", "items", "notices", "alerts")] == [0, 0, 0, 0]


def test_exception_inside_record_leaves_nothing(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: Any) -> None:
        raise RuntimeError("disk full while linking")

    monkeypatch.setattr(store_module, "link_notices", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        record(store, [make_item()], notices=[make_notice()], alerts=[make_alert()])
    _nothing_recorded(store)
    monkeypatch.undo()
    assert record(store, [make_item()], alerts=[make_alert()]).alerts_enqueued == 1


def test_links_to_unrecorded_items_are_refused_before_writing(store: Store) -> None:
    with pytest.raises(StateError, match="not being recorded: ghost"):
        record(store, [make_item()], item_notices={"ghost": ["https://www.gov.cn/x"]})
    _nothing_recorded(store)


def test_process_killed_mid_record_leaves_database_consistent(store: Store) -> None:
    url = store.engine.url.render_as_string(hide_password=False)
    _kill_when_ready(_spawn(url, "hang-in-record"))
    _nothing_recorded(store)
    if store.dialect == "sqlite":
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    result = record(store, [make_item("item-1"), make_item("item-2")], alerts=[make_alert()])
    assert dict(result.items) == {"new": 2}
    assert result.alerts_enqueued == 1


def test_lock_of_a_killed_run_is_freed(store: Store, lock_log: pytest.LogCaptureFixture) -> None:
    url = store.engine.url.render_as_string(hide_password=False)
    _kill_when_ready(_spawn(url, "hold-lock", "crashed-run"))
    with store.run_lock("next-run", wait=20):
        holder = _lock_owner(store)
    assert holder is not None
    assert holder.startswith("next-run")
    assert _lock_owner(store) is None


def _lock_owner(store: Store) -> str | None:
    with store.read() as conn:
        return conn.exec_driver_sql("SELECT owner FROM locks").scalar_one_or_none()


def test_second_run_gives_up_with_a_logged_message(
    store_url: str, lock_log: pytest.LogCaptureFixture
) -> None:
    with Store.open(store_url) as first, Store.open(store_url) as second:
        with first.run_lock("run-A"), pytest.raises(StateError) as info:  # noqa: SIM117
            with second.run_lock("run-B", wait=0.3):
                pytest.fail("second run got the lock while the first held it")
        assert "another run holds the lock" in str(info.value)
        assert "run-A" in str(info.value)
        messages = [r.getMessage() for r in lock_log.records]
        assert any(m.startswith("waiting for run lock 'run' held by run-A") for m in messages)
        assert any(m.startswith("gave up waiting for run lock") for m in messages)
        with second.run_lock("run-B", wait=0):  # released: no waiting now
            pass


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
    _wait_for_log(lock_log, "waiting for run lock 'run' held by run-A", threads[1])
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


def test_concurrent_opens_of_a_fresh_database(store_url: str) -> None:
    errors: list[BaseException] = []

    def open_one() -> None:
        try:
            Store.open(store_url).close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []


def test_two_processes_do_not_double_record(store: Store) -> None:
    url = store.engine.url.render_as_string(hide_password=False)
    procs = [_spawn(url, "run", f"run-{n}") for n in (1, 2)]
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        outputs.append(json.loads(out.strip().splitlines()[-1]))
    firsts = [o for o in outputs if o["issue"] == "new"]
    seconds = [o for o in outputs if o["issue"] == "unchanged"]
    assert len(firsts) == len(seconds) == 1
    assert firsts[0]["diff"] == {"item-1": "new", "item-2": "new"}
    assert (firsts[0]["alerts_enqueued"], firsts[0]["items"]) == (1, {"new": 2})
    assert seconds[0]["diff"] == {"item-1": "unchanged", "item-2": "unchanged"}
    assert (seconds[0]["alerts_enqueued"], seconds[0]["items"]) == (0, {"unchanged": 2})
    assert [count(store, t) for t in ("issues", "items", "alerts")] == [1, 2, 1]
