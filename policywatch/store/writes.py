"""The writes of ``Store.record()``: each function works on the caller's transaction.

Also the content hashes that decide new / revised / unchanged, so that the diff (read side) and
the record (write side) can never disagree on what "changed" means.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from policywatch.models import Alert, Change, IssueMeta, Notice, PolicyItem
from policywatch.store.engine import insert_for
from policywatch.store.schema import alerts, issues, item_notices, items, notices

_ITEM_CONTENT = {"headline", "summary", "goals", "comment", "policy", "text", "date", "links"}
_NOTICE_CONTENT = {"title", "issuing_body", "doc_number", "published", "body_text", "attachments"}
_CHUNK = 500


class NoticeStateLike(Protocol):
    content_hash: str | None


@dataclass(frozen=True)
class NoticeRetry:
    """A failed notice's consecutive failures and when to try again (None: gave up)."""

    attempts: int
    next_attempt_at: dt.datetime | None


T = TypeVar("T")


def _sha256_json(data: Any) -> str:
    text = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def item_hash(item: PolicyItem) -> str:
    """Content hash of an item: its text fields only, so re-enrichment or moves are not revisions."""
    return _sha256_json(item.model_dump(mode="json", include=_ITEM_CONTENT))


def notice_hash(notice: Notice) -> str | None:
    """The notice's own content hash if the fetcher set one; ``None`` when it has no content."""
    if notice.status != "ok":
        return None
    return notice.content_hash or _sha256_json(
        notice.model_dump(mode="json", include=_NOTICE_CONTENT)
    )


def alert_item_ref(item: PolicyItem, change: Change) -> str:
    """The item part of an alert key: ``<id>`` for a new item, ``<id>@<hash8>`` for a revision.

    So a revised item can alert again, once per revision:
    ``Alert.make_key(channel, alert_item_ref(item, change), kind)``.
    """
    return item.id if change != "revised" else f"{item.id}@{item_hash(item)[:8]}"


def aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def chunks(values: Sequence[T]) -> Iterator[Sequence[T]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def upsert(conn: Connection, table: sa.Table, row: dict[str, Any], keys: list[str]) -> None:
    stmt = insert_for(conn, table).values(**row)
    update = {k: stmt.excluded[k] for k in row if k not in keys}
    conn.execute(stmt.on_conflict_do_update(index_elements=keys, set_=update))


def change_of(old: str | None, new: str, seen: bool) -> Change:
    if not seen:
        return "new"
    return "unchanged" if old == new else "revised"


def upsert_issue(
    conn: Connection,
    issue_id: str,
    source: str,
    meta: IssueMeta,
    content_hash: str,
    now: Any,
    old_hash: str | None,
) -> Change:
    """One INSERT ... ON CONFLICT; ``old_hash`` (read before) says new / revised / unchanged."""
    values = {
        "source": source,
        "title": meta.title,
        "published": meta.published,
        "url": meta.url,
        "content_hash": content_hash,
        "data": meta.model_dump(mode="json"),
        "last_seen": now,
    }
    stmt = insert_for(conn, issues).values(id=issue_id, first_seen=now, **values)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["id"], set_={k: stmt.excluded[k] for k in values}
        )
    )
    if old_hash is None:
        return "new"
    return "unchanged" if old_hash == content_hash else "revised"


def item_row(issue_id: str, meta: IssueMeta, item: PolicyItem, now: Any) -> dict[str, Any]:
    return {
        "id": item.id,
        "issue_id": issue_id,
        "section": item.section,
        "position": item.position,
        "date": item.date or meta.published,
        "content_hash": item_hash(item),
        "data": item.model_dump(mode="json"),
        "first_seen": now,
        "last_seen": now,
        "previous_hash": None,
        "previous_data": None,
    }


def upsert_items(
    conn: Connection,
    issue_id: str,
    meta: IssueMeta,
    items_: Sequence[PolicyItem],
    now: Any,
    stored: Mapping[str, str],
) -> dict[str, Change]:
    """All of an issue's items in one executemany upsert; ``stored`` maps id -> stored hash.

    A revision keeps the item's previous hash and content (for the alert's diff): the CASE
    expressions see the row as it was before the update, so no read is needed here.
    """
    unique = {i.id: i for i in items_}  # an id listed twice is one item (the last one wins)
    rows = [item_row(issue_id, meta, item, now) for item in unique.values()]
    if rows:
        stmt = insert_for(conn, items)
        changed = items.c.content_hash != stmt.excluded.content_hash
        keep = ("section", "position", "date", "content_hash", "data", "last_seen")
        update: dict[str, Any] = {k: stmt.excluded[k] for k in keep}
        update["previous_hash"] = sa.case(
            (changed, items.c.content_hash), else_=items.c.previous_hash
        )
        update["previous_data"] = sa.case((changed, items.c.data), else_=items.c.previous_data)
        conn.execute(stmt.on_conflict_do_update(index_elements=["id"], set_=update), rows)
    return {
        row["id"]: change_of(stored.get(row["id"]), row["content_hash"], row["id"] in stored)
        for row in rows
    }


def notice_row(
    notice: Notice,
    now: Any,
    *,
    retry: NoticeRetry | None = None,
    etag: str | None = None,
    last_modified: str | None = None,
) -> dict[str, Any]:
    """The notices row of one fetch outcome (``retry``: attempts and next attempt after a failure;
    ``etag``/``last_modified``: the validators of a successful fetch)."""
    failed = notice.status != "ok"
    return {
        "url": notice.url,
        "site": notice.site,
        "status": notice.status,
        "content_hash": notice_hash(notice),
        "data": notice.model_dump(mode="json"),
        "first_seen": now,
        "last_checked": aware(notice.fetched_at) or now,
        "last_error": notice.error if failed else None,
        "attempts": retry.attempts if (retry and failed) else 0,
        "next_attempt_at": retry.next_attempt_at if (retry and failed) else None,
        "etag": None if failed else etag,
        "last_modified": None if failed else last_modified,
        "previous_hash": None,
    }


def upsert_notices(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Notice rows in one executemany upsert.

    A failed fetch (no content hash) records its status, error and retry schedule but keeps the
    last good content and validators; a changed content keeps the previous hash.
    """
    if not rows:
        return
    stmt = insert_for(conn, notices)
    new = stmt.excluded
    failed = new.content_hash.is_(None)
    revised = sa.and_(
        new.content_hash.is_not(None),
        notices.c.content_hash.is_not(None),
        new.content_hash != notices.c.content_hash,
    )
    update: dict[str, Any] = {
        k: new[k] for k in ("status", "last_checked", "last_error", "attempts", "next_attempt_at")
    }
    for key in ("site", "content_hash", "data", "etag", "last_modified"):
        update[key] = sa.case((failed, notices.c[key]), else_=new[key])
    update["previous_hash"] = sa.case(
        (revised, notices.c.content_hash), else_=notices.c.previous_hash
    )
    conn.execute(stmt.on_conflict_do_update(index_elements=["url"], set_=update), list(rows))


def notice_change(old: NoticeStateLike | None, notice: Notice) -> Change:
    """new / revised / unchanged for a notice against its stored state (a failure is unchanged)."""
    if old is None:
        return "new"
    new = notice_hash(notice)
    return "unchanged" if new is None or new == old.content_hash else "revised"


def link_notices(conn: Connection, links: Mapping[str, Sequence[str]]) -> None:
    """Add item -> notice links. Links only accumulate: a run that re-fetched just some of an
    item's notices must not drop the others, and a revision's old citations stay history."""
    rows = [
        {"item_id": i, "notice_url": u} for i, urls in links.items() for u in dict.fromkeys(urls)
    ]
    if rows:
        stmt = insert_for(conn, item_notices).on_conflict_do_nothing()
        conn.execute(stmt, rows)


def enqueue_alerts(
    conn: Connection, alerts_: Sequence[Alert], run_id: str | None, now: Any
) -> list[str]:
    """Insert the alerts, skipping keys already in the outbox; returns the keys really added.

    A key already there is never updated: what a channel was told about an item stays as sent
    (a watchlist added later does not re-send it)."""
    if not alerts_:
        return []
    stmt = (
        insert_for(conn, alerts)
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(alerts.c.key)  # the rows really inserted; rowcount is -1 on psycopg
    )
    rows = [_alert_row(a, run_id, now) for a in alerts_]
    return [str(k) for k in conn.execute(stmt, rows).scalars()]


def _alert_row(alert: Alert, run_id: str | None, now: Any) -> dict[str, Any]:
    row = alert.model_dump(exclude={"reasons"})
    row.update(
        reasons=[g.model_dump(mode="json") for g in alert.reasons],
        created_at=aware(alert.created_at) or now,
        next_attempt_at=aware(alert.next_attempt_at),
        sent_at=aware(alert.sent_at),
        run_id=alert.run_id or run_id,
    )
    return row
