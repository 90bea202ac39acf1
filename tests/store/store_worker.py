"""A separate process that uses the store, so tests can kill it or race two of them.

Usage: ``python store_worker.py URL MODE [OWNER]``; prints ``READY`` when at the point the test
waits for, and for ``run`` a JSON summary of what it recorded.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from typing import Any

from store_helpers import make_alert, make_item, make_notice, record

import policywatch.store.core as store_module
from policywatch import outbox
from policywatch.store import Store
from policywatch.store.healing import run_worker_id
from policywatch.store.schema import utcnow


def _hang(*_args: Any, **_kwargs: Any) -> int:
    print("READY", flush=True)
    time.sleep(60)
    return 0


def main(url: str, mode: str, owner: str = "worker") -> None:
    store = Store.open(url)
    items = [make_item("item-1"), make_item("item-2")]
    if mode == "hang-in-record":  # killed after the issue, items and notices were written
        store_module.enqueue_alerts = _hang  # type: ignore[assignment]
        record(store, items, notices=[make_notice()], alerts=[make_alert()])
    elif mode == "hold-lock":  # killed (or kept alive) while holding the run lock
        with store.run_lock(owner):
            print("READY", flush=True)
            time.sleep(60)
    elif mode == "crash-delivering":  # a run killed during delivery: lock held, alerts claimed
        store.start_run(owner)
        with store.run_lock(owner):
            alerts = [make_alert("item-1"), make_alert("item-2")]
            record(store, items, alerts=alerts, run_id=owner)
            token = f"{run_worker_id(owner)}:{uuid.uuid4().hex[:12]}"
            claimed = outbox._claim(store, token, utcnow(), None)
            print("READY", len(claimed), flush=True)
            time.sleep(60)
    elif mode == "start-run":  # a run killed before it got the lock (while waiting for it)
        store.start_run(owner)
        print("READY", flush=True)
        time.sleep(60)
    elif mode == "run":
        with store.run_lock(owner, wait=30):
            changes = store.diff_items(items)
            result = record(store, items, alerts=[make_alert()], run_id=owner)
        print(json.dumps({"diff": changes, **result.summary()}), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
