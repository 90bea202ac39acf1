"""A separate process that uses the store, so tests can kill it or race two of them.

Usage: ``python store_worker.py URL MODE [OWNER]``; prints ``READY`` when at the point the test
waits for, and for ``run`` a JSON summary of what it recorded.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from store_helpers import make_alert, make_item, make_notice, record

import policywatch.store.core as store_module
from policywatch.store import Store


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
    elif mode == "hold-lock":  # killed while holding the run lock
        with store.run_lock(owner, ttl=1.0):
            print("READY", flush=True)
            time.sleep(60)
    elif mode == "run":
        with store.run_lock(owner, wait=30):
            changes = store.diff_items(items)
            result = record(store, items, alerts=[make_alert()], run_id=owner)
        print(json.dumps({"diff": changes, **result.summary()}), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
