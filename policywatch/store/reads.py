"""What the state already holds about one issue, read in one statement.

Before an issue's notices are fetched the pipeline needs: the issue's stored content hash (an
unchanged issue is skipped), the hashes of its items (new / revised / unchanged), the stored
items of that issue (to pair an edited news entry with its old self), and the state of every
notice it cites (backoff, validators for a conditional GET, the stored copy for a 304). One
``UNION ALL`` query answers all of it, so a backfill costs one read per issue, not one per item
or notice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from policywatch.store.schema import JsonText, UtcDateTime, issues, items, notices

__all__ = ["NoticeState", "Snapshot", "read_snapshot"]


@dataclass
class NoticeState:
    """A stored notice's last outcome, retry schedule and validators."""

    status: str
    content_hash: str | None
    attempts: int
    next_attempt_at: dt.datetime | None
    etag: str | None
    last_modified: str | None
    data: dict[str, Any]


@dataclass
class Snapshot:
    """The stored state of one issue, its items and the notices it cites (absent = never seen)."""

    issue_hash: str | None = None
    item_hashes: dict[str, str] = field(default_factory=dict)
    item_issue: dict[str, str] = field(default_factory=dict)  # id -> the issue it is stored in
    issue_items: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> stored item
    notices: dict[str, NoticeState] = field(default_factory=dict)


def _null(type_: Any) -> Any:
    return sa.cast(sa.null(), type_)


def _issue_part(issue_id: str) -> sa.Select[Any]:
    return sa.select(
        sa.literal("issue").label("kind"), issues.c.id.label("key"),
        issues.c.content_hash.label("hash"), _null(sa.Text()).label("issue_id"),
        _null(sa.String(20)).label("status"), _null(sa.Integer()).label("attempts"),
        _null(UtcDateTime()).label("next_at"), _null(sa.Text()).label("etag"),
        _null(sa.Text()).label("modified"), _null(JsonText()).label("data"),
    ).where(issues.c.id == issue_id)  # fmt: skip


def _items_part(issue_id: str, item_ids: Sequence[str]) -> sa.Select[Any]:
    return sa.select(
        sa.literal("item"), items.c.id, items.c.content_hash, items.c.issue_id,
        _null(sa.String(20)), _null(sa.Integer()), _null(UtcDateTime()), _null(sa.Text()),
        _null(sa.Text()), items.c.data,
    ).where(sa.or_(items.c.id.in_(item_ids), items.c.issue_id == issue_id))  # fmt: skip


def _notices_part(urls: Sequence[str]) -> sa.Select[Any]:
    return sa.select(
        sa.literal("notice"), notices.c.url, notices.c.content_hash, _null(sa.Text()),
        notices.c.status, notices.c.attempts, notices.c.next_attempt_at, notices.c.etag,
        notices.c.last_modified, notices.c.data,
    ).where(notices.c.url.in_(urls))  # fmt: skip


def read_snapshot(
    conn: Connection, issue_id: str, item_ids: Sequence[str], notice_urls: Sequence[str]
) -> Snapshot:
    """The issue's stored hash, its items' hashes and the cited notices' states: one query."""
    parts = [_issue_part(issue_id), _items_part(issue_id, list(item_ids))]
    if notice_urls:
        parts.append(_notices_part(list(notice_urls)))
    snap = Snapshot()
    for row in conn.execute(sa.union_all(*parts)):
        if row.kind == "issue":
            snap.issue_hash = row.hash
        elif row.kind == "item":
            snap.item_hashes[row.key] = row.hash
            snap.item_issue[row.key] = row.issue_id
            if row.issue_id == issue_id:
                snap.issue_items[row.key] = row.data
        else:
            snap.notices[row.key] = NoticeState(
                status=row.status, content_hash=row.hash, attempts=int(row.attempts or 0),
                next_attempt_at=row.next_at, etag=row.etag, last_modified=row.modified,
                data=row.data,
            )  # fmt: skip
    return snap
