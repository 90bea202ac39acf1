"""The writes of ``Store.record()``: each function works on the caller's transaction.

Also the content hashes that decide new / revised / unchanged, so that the diff (read side) and
the record (write side) can never disagree on what "changed" means.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from policywatch.models import Alert, Change, IssueMeta, Notice, PolicyItem
from policywatch.store.engine import insert_for
from policywatch.store.schema import alerts, issues, item_notices, items, notices

_ITEM_CONTENT = {"headline", "summary", "goals", "comment", "policy", "text", "date", "links"}
_NOTICE_CONTENT = {"title", "issuing_body", "doc_number", "published", "body_text", "attachments"}
_CHUNK = 500
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
    conn: Connection, issue_id: str, source: str, meta: IssueMeta, content_hash: str, now: Any
) -> Change:
    old = conn.execute(sa.select(issues.c.content_hash).where(issues.c.id == issue_id)).first()
    values = {
        "source": source,
        "title": meta.title,
        "published": meta.published,
        "url": meta.url,
        "content_hash": content_hash,
        "data": meta.model_dump(mode="json"),
        "last_seen": now,
    }
    if old is None:
        conn.execute(issues.insert().values(id=issue_id, first_seen=now, **values))
        return "new"
    conn.execute(issues.update().where(issues.c.id == issue_id).values(**values))
    return "unchanged" if old.content_hash == content_hash else "revised"


def _items_column(conn: Connection, column: sa.Column[Any], ids: Sequence[str]) -> dict[str, Any]:
    """``column`` of the stored items among ``ids``, read in chunks of bound parameters."""
    found: dict[str, Any] = {}
    for chunk in chunks(list(ids)):
        query = sa.select(items.c.id, column).where(items.c.id.in_(chunk))
        found.update({row[0]: row[1] for row in conn.execute(query)})
    return found


def item_hashes(conn: Connection, ids: Sequence[str]) -> dict[str, str]:
    return _items_column(conn, items.c.content_hash, ids)


def upsert_items(
    conn: Connection, issue_id: str, meta: IssueMeta, items_: Sequence[PolicyItem], now: Any
) -> dict[str, Change]:
    unique = {i.id: i for i in items_}  # an id listed twice is one item (the last one wins)
    stored = item_hashes(conn, list(unique))
    changes: dict[str, Change] = {}
    batches: dict[Change, list[dict[str, Any]]] = {"new": [], "revised": [], "unchanged": []}
    for item in unique.values():
        new_hash = item_hash(item)
        change = change_of(stored.get(item.id), new_hash, item.id in stored)
        row = {
            "b_id": item.id,
            "section": item.section,
            "position": item.position,
            "date": item.date or meta.published,
            "content_hash": new_hash,
            "data": item.model_dump(mode="json"),
            "last_seen": now,
        }
        if change == "revised":
            row["previous_hash"] = stored[item.id]
        batches[change].append(row)
        changes[item.id] = change
    previous = item_data(conn, [r["b_id"] for r in batches["revised"]])
    for row in batches["revised"]:
        row["previous_data"] = previous.get(row["b_id"])
    _write_items(conn, issue_id, now, batches)
    return changes


def item_data(conn: Connection, ids: Sequence[str]) -> dict[str, Any]:
    """The stored JSON of these items (read before a revision overwrites it)."""
    return _items_column(conn, items.c.data, ids)


def _write_items(
    conn: Connection, issue_id: str, now: Any, batches: dict[Change, list[dict[str, Any]]]
) -> None:
    """Three executemany calls instead of one statement per item."""
    if batches["new"]:
        rows = [
            {**r, "id": r.pop("b_id"), "issue_id": issue_id, "first_seen": now}
            for r in batches["new"]
        ]
        conn.execute(items.insert(), rows)
    for change in ("revised", "unchanged"):
        rows = batches[change]
        if rows:
            cols: dict[str, Any] = {k: sa.bindparam(k) for k in rows[0] if k != "b_id"}
            stmt = items.update().where(items.c.id == sa.bindparam("b_id")).values(cols)
            conn.execute(stmt, rows)


def upsert_notices(
    conn: Connection, notices_: Sequence[Notice], now: Any
) -> tuple[dict[str, Change], int]:
    changes: dict[str, Change] = {}
    status_changes = 0
    for notice in notices_:
        old = conn.execute(
            sa.select(notices.c.content_hash, notices.c.status).where(notices.c.url == notice.url)
        ).first()
        changes[notice.url] = _write_notice(conn, notice, old, now)
        status_changes += old is not None and old.status != notice.status
    return changes, status_changes


def _write_notice(conn: Connection, notice: Notice, old: Any, now: Any) -> Change:
    new_hash = notice_hash(notice)
    checked = {
        "status": notice.status,
        "last_checked": aware(notice.fetched_at) or now,
        "last_error": notice.error if notice.status != "ok" else None,
    }
    content = {
        "site": notice.site,
        "content_hash": new_hash,
        "data": notice.model_dump(mode="json"),
    }
    if old is None:
        conn.execute(notices.insert().values(url=notice.url, first_seen=now, **content, **checked))
        return "new"
    where = notices.c.url == notice.url
    if new_hash is None:  # 404 / blocked / error: keep the last good content, record the event
        conn.execute(notices.update().where(where).values(**checked))
        return "unchanged"
    if new_hash == old.content_hash:
        conn.execute(notices.update().where(where).values(**content, **checked))
        return "unchanged"
    prev = {"previous_hash": old.content_hash} if old.content_hash is not None else {}
    conn.execute(notices.update().where(where).values(**content, **checked, **prev))
    return "revised"


def link_notices(conn: Connection, links: Mapping[str, Sequence[str]]) -> None:
    """Add item -> notice links. Links only accumulate: a run that re-fetched just some of an
    item's notices must not drop the others, and a revision's old citations stay history."""
    rows = [
        {"item_id": i, "notice_url": u} for i, urls in links.items() for u in dict.fromkeys(urls)
    ]
    if rows:
        stmt = insert_for(conn, item_notices).on_conflict_do_nothing()
        conn.execute(stmt, rows)


def enqueue_alerts(conn: Connection, alerts_: Sequence[Alert], run_id: str | None, now: Any) -> int:
    """Insert the alerts, skipping keys already in the outbox; returns how many were new.

    A key already there is never updated: what a channel was told about an item stays as sent
    (a watchlist added later does not re-send it)."""
    if not alerts_:
        return 0
    stmt = (
        insert_for(conn, alerts)
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(alerts.c.id)  # counts the rows really inserted; rowcount is -1 on psycopg
    )
    rows = [_alert_row(a, run_id, now) for a in alerts_]
    return len(conn.execute(stmt, rows).all())


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
