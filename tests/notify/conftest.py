"""Fixtures for the alert tests: a real SMTP sink, a loopback webhook, a real SQLite store."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from policywatch.alerting import build_alerts
from policywatch.channels import Channel, load_channels
from policywatch.delivery_report import DeliveryReport
from policywatch.devtools.mailsink import MailSink
from policywatch.models import (
    Alert,
    IssueMeta,
    Link,
    Match,
    Notice,
    Policy,
    PolicyItem,
    Reason,
    WatchlistReasons,
)
from policywatch.notify import Entry
from policywatch.settings import DeliverySettings
from policywatch.store import Store
from policywatch.watchlists import Watchlist

HOSTILE = 'Batteries <script>alert("x")</script> & <b>bold</b> [click](https://evil.example)'


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class Hook:
    """A loopback HTTP endpoint that records POSTs and answers with scripted statuses."""

    port: int = 0
    posts: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, schema: str = "json", path: str = "/hook") -> str:
        return f"{schema}://127.0.0.1:{self.port}{path}"

    def next_status(self) -> int:
        with self.lock:
            return self.statuses.pop(0) if self.statuses else 200

    def texts(self) -> list[str]:
        return [json.dumps(p["json"], ensure_ascii=False) for p in self.posts]


def _handler(hook: Hook) -> type[BaseHTTPRequestHandler]:
    class H(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status = hook.next_status()
            if status < 300:
                with hook.lock:
                    hook.posts.append({"path": self.path, "json": json.loads(body or b"{}")})
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

    return H


@pytest.fixture
def hook() -> Iterator[Hook]:
    h = Hook()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(h))
    h.port = int(server.server_address[1])
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield h
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def sink() -> Iterator[MailSink]:
    with MailSink() as s:
        yield s


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(f"sqlite:///{tmp_path / 'state.db'}") as s:
        yield s


@pytest.fixture
def pg_store(pg_schema_url: str) -> Iterator[Store]:
    """A store in a throw-away PostgreSQL schema (skipped with the reason when unreachable)."""
    with Store.open(pg_schema_url) as s:
        yield s


def store_url(store: Store) -> str:
    """The store's URL with its password, to open a second connection to the same database."""
    return store.engine.url.render_as_string(hide_password=False)


@pytest.fixture
def delivery() -> DeliverySettings:
    return DeliverySettings(max_attempts=3, backoff_base=60, backoff_max=3600)


def fast(**changes: Any) -> DeliverySettings:
    """Delivery settings with timeouts scaled down for loopback servers."""
    base: dict[str, Any] = {"max_attempts": 3, "backoff_base": 60, "backoff_max": 3600,
                            "connect_timeout": 0.5, "data_timeout": 10, "webhook_timeout": 5}  # fmt: skip
    return DeliverySettings(**{**base, **changes})


def write_channels(tmp_path: Path, text: str, env: dict[str, str]) -> dict[str, Channel]:
    path = tmp_path / "channels.yaml"
    path.write_text(text, encoding="utf-8")
    return load_channels(path, environ=env)


ISSUE = IssueMeta(
    title="China Industries: October 2024",
    published=dt.date(2024, 10, 2),
    url="https://merics.org/en/newsletter/china-industries-october-2024",
)


def make_item(n: int, headline: str | None = None) -> PolicyItem:
    return PolicyItem(
        id=f"item-{n:04d}",
        section="top",
        position=n,
        headline=headline or f"MIIT sets new targets for solid-state batteries, part {n}",
        date=dt.date(2024, 9, 4),
        summary="The MIIT issued guidelines on solid-state battery pilot lines. " * 3,
        policy=Policy(
            title_en=f"Notice on Solid-State Battery Pilots No. {n}",
            title_zh=f"工业和信息化部关于开展固态电池试点工作的通知（第{n}号）",
            issuing_bodies=["MIIT", "NDRC"],
            date=dt.date(2024, 9, 4),
        ),
        links=[Link(text="Link", url=f"https://www.miit.gov.cn/notice-{n}.html")],
        text=f"Full text of item {n} about solid-state batteries 固态电池.",
    )


def make_notice(n: int) -> Notice:
    return Notice(
        url=f"https://www.miit.gov.cn/notice-{n}.html",
        site="miit",
        title=f"工业和信息化部关于开展固态电池试点工作的通知（第{n}号）",
        issuing_body="MIIT",
        doc_number=f"工信部电子〔2024〕{100 + n}号",
        published=dt.date(2024, 9, 4),
        body_text="正文",
    )


REASON = Reason(
    facet="keyword",
    term="solid-state",
    found="solid-state",
    field="headline",
    snippet="MIIT sets new targets for solid-state batteries",
)


def alert_for(item: PolicyItem, watchlist: str, channel: str, kind: str = "instant") -> Alert:
    """One watchlist's alert about one item (several watchlists: use ``alerts_for``)."""
    return Alert(
        key=Alert.make_key(channel, item.id, kind),  # type: ignore[arg-type]
        watchlist=watchlist,
        channel=channel,
        item_id=item.id,
        kind=kind,  # type: ignore[arg-type]
        reasons=[WatchlistReasons(watchlist=watchlist, reasons=[REASON])],
    )


def watchlist(name: str, channels: list[str], mode: str = "instant") -> Watchlist:
    return Watchlist(name=name, keywords=[name], channels=channels, mode=mode)  # type: ignore[arg-type]


def reason(term: str) -> Reason:
    return Reason(facet="keyword", term=term, found=term, field="text", snippet=f"on {term} rules")


def alerts_for(
    items: list[PolicyItem], watchlists: list[Watchlist], run_id: str = "run-1"
) -> list[Alert]:
    """What the pipeline enqueues when every watchlist matches every item (each with a reason
    naming the watchlist)."""
    matches = [Match(watchlist=w.name, item_id=i.id, reasons=[REASON, reason(w.name)])
               for i in items for w in watchlists]  # fmt: skip
    return build_alerts({w.name: w for w in watchlists}, matches, items, {}, run_id)


def entry_of(item: PolicyItem, key: str = "ev|mail|i|instant", **kw: Any) -> Entry:
    """An Entry for watchlist ``ev`` with REASON, the item's notice and ``kw`` overrides."""
    values: dict[str, Any] = {
        "key": key,
        "matched": [WatchlistReasons(watchlist="ev", reasons=[REASON])],
        "item": item,
        "issue": ISSUE,
        "notices": [make_notice(int(item.id.split("-")[1]))],
    }
    return Entry(**{**values, **kw})


def record(
    store: Store,
    items: list[PolicyItem],
    alerts: list[Alert],
    *,
    run_id: str = "run-1",
    issue_id: str = "issue-1",
) -> None:
    """Record items (each with its notice) and enqueue alerts, as the pipeline does."""
    notices = [make_notice(int(i.id.split("-")[1])) for i in items]
    store.record(
        issue_id=issue_id,
        source="test",
        meta=ISSUE,
        content_hash=f"hash-{issue_id}-{len(items)}",
        items=items,
        notices=notices,
        item_notices={i.id: [n.url] for i, n in zip(items, notices, strict=True)},
        alerts=alerts,
        run_id=run_id,
    )


def balanced(report: DeliveryReport) -> bool:
    """Every due alert is accounted for once, per channel."""
    return all(
        c.due == c.items + c.skipped + c.disabled + c.deferred + c.retrying + c.failed
        for c in report.channels.values()
    )
