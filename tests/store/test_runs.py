"""Crash safety and concurrency: partial writes never show, two runs never double-record."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from store_helpers import (
    ISSUE_ID,
    count,
    kill_when_ready,
    make_alert,
    make_item,
    make_notice,
    record,
    spawn,
)

import policywatch.store.core as store_module
from policywatch.errors import StateError
from policywatch.store import Store


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
    kill_when_ready(spawn(url, "hang-in-record"))
    _nothing_recorded(store)
    if store.dialect == "sqlite":
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    result = record(store, [make_item("item-1"), make_item("item-2")], alerts=[make_alert()])
    assert dict(result.items) == {"new": 2}
    assert result.alerts_enqueued == 1


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
    procs = [spawn(url, "run", f"run-{n}") for n in (1, 2)]
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
