"""Synthetic records for the store tests (written for them, not taken from any newsletter)."""

from __future__ import annotations

import datetime as dt
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from policywatch.models import Alert, IssueMeta, Notice, PolicyItem, Reason, WatchlistReasons
from policywatch.store import RecordResult, Store

WORKER = Path(__file__).with_name("store_worker.py")
ISSUE_ID = "https://merics.org/en/newsletter/test-issue"
META = IssueMeta(title="China Industries test issue", published=dt.date(2024, 10, 2))


def make_item(item_id: str = "item-1", **changes: object) -> PolicyItem:
    base: dict[str, object] = {
        "id": item_id,
        "section": "policy_news",
        "position": 1,
        "headline": f"Ministry issues a test guideline ({item_id})",
        "date": dt.date(2024, 9, 4),
        "text": "The ministry asks provinces to report on battery recycling capacity.",
    }
    return PolicyItem.model_validate({**base, **changes})


def make_notice(url: str = "https://www.miit.gov.cn/notice-1.html", **changes: object) -> Notice:
    base: dict[str, object] = {
        "url": url,
        "site": "miit",
        "title": "关于测试的通知",
        "doc_number": "工信部测〔2024〕1号",
        "body_text": "各省工业和信息化主管部门：测试正文。",
    }
    return Notice.model_validate({**base, **changes})


def make_alert(item_id: str = "item-1", watchlist: str = "batteries", **changes: object) -> Alert:
    channel = str(changes.pop("channel", "analyst-email"))
    kind = "instant"
    reason = Reason(
        facet="keyword", term="battery", found="battery", field="text", snippet="battery recycling"
    )
    return Alert(
        key=Alert.make_key(channel, item_id, kind),
        watchlist=watchlist,
        channel=channel,
        item_id=item_id.split("@")[0],
        kind=kind,
        reasons=[WatchlistReasons(watchlist=watchlist, reasons=[reason])],
        **changes,  # type: ignore[arg-type]
    )


def record(store: Store, items: list[PolicyItem], **kwargs: object) -> RecordResult:
    """``store.record`` with the test issue's defaults."""
    args: dict[str, object] = {
        "issue_id": ISSUE_ID,
        "source": "merics",
        "meta": META,
        "content_hash": "issue-hash-1",
        "items": items,
    }
    args.update(kwargs)
    return store.record(**args)  # type: ignore[arg-type]


def count(store: Store, table: str) -> int:
    with store.read() as conn:
        return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())


def spawn(url: str, mode: str, owner: str = "worker") -> subprocess.Popen[str]:
    """``store_worker.py`` in a child process (see its docstring for the modes)."""
    return subprocess.Popen(
        [sys.executable, str(WORKER), url, mode, owner],
        cwd=WORKER.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_ready(proc: subprocess.Popen[str]) -> list[str]:
    """The worker's READY line, split (``READY`` and what it reports), or the test fails."""
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("READY"):
        proc.kill()
        _, err = proc.communicate(timeout=10)
        pytest.fail(f"worker did not get ready: {line!r} {err}")
    return line.split()


def kill_when_ready(proc: subprocess.Popen[str]) -> list[str]:
    """``kill -9`` the worker once it is ready, and reap it."""
    words = wait_ready(proc)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=10)
    return words
