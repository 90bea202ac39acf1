"""The state store: what was seen (issues, items, notices), what changed, and the alert outbox.

SQLAlchemy Core over SQLite (default, one machine) or PostgreSQL (several workers). The schema is
in ``store_schema``, its migrations in ``store_migrations``, engine details in ``store_db``.

Diff semantics (DESIGN 3.3): an item or notice never seen is ``new``; seen with another content
hash it is ``revised`` (first_seen kept, last_seen bumped, the previous hash kept); the same hash
is ``unchanged``. A notice that disappears (404) or gets blocked keeps its last good content but
its ``status``/``last_checked``/``last_error`` are updated, so that is a recorded event.

``record()`` writes one issue, its items, notices, links and the alerts they caused in ONE
transaction, so a crash leaves either all of it or none. ``run_lock()`` keeps two runs from
working on one database at once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from policywatch.errors import StateError
from policywatch.models import Alert, Change, IssueMeta, Notice, PolicyItem
from policywatch.store_db import insert_for, make_engine, write_tx
from policywatch.store_locks import LOCK_TTL, hold_lock
from policywatch.store_migrations import migrate
from policywatch.store_schema import (
    alerts,
    issues,
    item_notices,
    items,
    notices,
    runs,
    sources,
    utcnow,
)

__all__ = ["RecordResult", "Store", "alert_item_ref", "item_hash", "notice_hash"]

log = logging.getLogger("policywatch.store")

_ITEM_CONTENT = {"headline", "summary", "goals", "comment", "policy", "text", "date", "links"}
_NOTICE_CONTENT = {"title", "issuing_body", "doc_number", "published", "body_text", "attachments"}
_CHUNK = 500

ItemRow = tuple[PolicyItem, IssueMeta, list[Notice]]


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
    ``Alert.make_key(watchlist, channel, alert_item_ref(item, change), kind)``.
    """
    return item.id if change != "revised" else f"{item.id}@{item_hash(item)[:8]}"


@dataclass
class RecordResult:
    """What one ``record()`` call changed."""

    issue: Change = "unchanged"
    item_changes: dict[str, Change] = field(default_factory=dict)
    notice_changes: dict[str, Change] = field(default_factory=dict)
    notice_status_changes: int = 0
    alerts_enqueued: int = 0

    @property
    def items(self) -> Counter[Change]:
        return Counter(self.item_changes.values())

    @property
    def notices(self) -> Counter[Change]:
        return Counter(self.notice_changes.values())

    def summary(self) -> dict[str, Any]:
        return {
            "issue": self.issue,
            "items": dict(self.items),
            "notices": dict(self.notices),
            "notice_status_changes": self.notice_status_changes,
            "alerts_enqueued": self.alerts_enqueued,
        }


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def _chunks(values: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


class Store:
    """One state database. Cheap to open; call ``close()`` (or use ``with``) when done."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, url: str) -> Store:
        """Open (creating and upgrading as needed) the state database at ``url``."""
        engine = make_engine(url)
        try:
            migrate(engine)
        except sa.exc.OperationalError as exc:
            engine.dispose()
            where = engine.url.render_as_string(hide_password=True)
            raise StateError(
                f"cannot open the state database {where}: {exc.orig or exc}",
                hint="check POLICYWATCH_STATE_URL / state_url in config/policywatch.yaml",
            ) from exc
        except BaseException:
            engine.dispose()
            raise
        return cls(engine)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction for other modules' queries (the outbox): commit or roll back."""
        with write_tx(self.engine) as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    # -- run lock ---------------------------------------------------------------------------

    @contextmanager
    def run_lock(
        self, owner: str, *, wait: float = 30.0, name: str = "run", ttl: float = LOCK_TTL
    ) -> Iterator[None]:
        """Hold the database's run lock; waits up to ``wait`` seconds, then raises StateError.

        PostgreSQL: a session advisory lock (released by the server if the process dies).
        SQLite: a row in ``locks`` kept alive by a heartbeat; a crashed run's row expires after
        ``ttl`` seconds.
        """
        with hold_lock(self.engine, name, owner, wait=wait, ttl=ttl):
            yield

    # -- sources ----------------------------------------------------------------------------

    def source_state(self, name: str) -> dict[str, Any] | None:
        with self.read() as conn:
            state = conn.execute(
                sa.select(sources.c.state).where(sources.c.name == name)
            ).scalar_one_or_none()
        return dict(state) if state is not None else None

    def save_source_state(self, name: str, state: dict[str, Any]) -> None:
        with self.write() as conn:
            _upsert(conn, sources, {"name": name, "state": state, "updated_at": utcnow()}, ["name"])

    # -- diff -------------------------------------------------------------------------------

    def known_issue(self, issue_id: str) -> str | None:
        """The stored content hash of an issue (to skip unchanged files), or None if unseen."""
        with self.read() as conn:
            return conn.execute(
                sa.select(issues.c.content_hash).where(issues.c.id == issue_id)
            ).scalar_one_or_none()

    def diff_items(self, items_: Sequence[PolicyItem]) -> dict[str, Change]:
        with self.read() as conn:
            stored = _item_hashes(conn, [i.id for i in items_])
        return {i.id: _change(stored.get(i.id), item_hash(i), i.id in stored) for i in items_}

    def diff_notice(self, notice: Notice) -> Change:
        with self.read() as conn:
            row = conn.execute(
                sa.select(notices.c.content_hash).where(notices.c.url == notice.url)
            ).first()
        if row is None:
            return "new"
        new = notice_hash(notice)
        return "unchanged" if new is None or new == row.content_hash else "revised"

    # -- record -----------------------------------------------------------------------------

    def record(
        self,
        *,
        issue_id: str,
        source: str,
        meta: IssueMeta,
        content_hash: str,
        items: Sequence[PolicyItem],
        notices: Sequence[Notice] = (),
        item_notices: Mapping[str, Sequence[str]] | None = None,
        alerts: Sequence[Alert] = (),
        run_id: str | None = None,
    ) -> RecordResult:
        """Record one issue with everything it brought, in one transaction."""
        result = RecordResult()
        links = dict(item_notices or {})
        unknown = sorted(set(links) - {i.id for i in items})
        if unknown:
            raise StateError(f"item_notices names items not being recorded: {', '.join(unknown)}")
        with self.write() as conn:
            now = utcnow()
            result.issue = _upsert_issue(conn, issue_id, source, meta, content_hash, now)
            result.item_changes = _upsert_items(conn, issue_id, meta, items, now)
            result.notice_changes, result.notice_status_changes = _upsert_notices(
                conn, notices, now
            )
            _link(conn, links)
            result.alerts_enqueued = _enqueue(conn, alerts, run_id, now)
        return result

    # -- reading back -----------------------------------------------------------------------

    def items(self, *, since: dt.date | None = None) -> Iterator[ItemRow]:
        """Every stored item with its issue and notices, oldest first (backtests, re-matching)."""
        query = (
            sa.select(items.c.id, items.c.data, issues.c.data.label("issue"))
            .join(issues, issues.c.id == items.c.issue_id)
            .order_by(items.c.date, items.c.issue_id, items.c.section, items.c.position)
        )
        if since is not None:
            query = query.where(items.c.date >= since)
        with self.read() as conn:
            rows = conn.execute(query).all()
            for chunk in _row_chunks(rows):
                linked = _notices_for(conn, [r.id for r in chunk])
                for r in chunk:
                    yield _item_row(r.data, r.issue, linked.get(r.id, []))

    def item(self, item_id: str) -> ItemRow | None:
        query = (
            sa.select(items.c.data, issues.c.data.label("issue"))
            .join(issues, issues.c.id == items.c.issue_id)
            .where(items.c.id == item_id)
        )
        with self.read() as conn:
            row = conn.execute(query).first()
            if row is None:
                return None
            linked = _notices_for(conn, [item_id])
        return _item_row(row.data, row.issue, linked.get(item_id, []))

    def notice(self, url: str) -> Notice | None:
        with self.read() as conn:
            row = conn.execute(sa.select(notices).where(notices.c.url == url)).first()
        return _notice_from_row(row) if row is not None else None

    # -- runs -------------------------------------------------------------------------------

    def start_run(self, run_id: str) -> None:
        row = {"id": run_id, "started_at": utcnow(), "status": "running", "summary": None}
        with self.write() as conn:
            _upsert(conn, runs, row, ["id"])

    def finish_run(self, run_id: str, status: str, summary: dict[str, Any]) -> None:
        with self.write() as conn:
            done = conn.execute(
                runs.update()
                .where(runs.c.id == run_id)
                .values(finished_at=utcnow(), status=status, summary=summary)
            )
            if done.rowcount == 0:
                raise StateError(f"finish_run: no run '{run_id}' (call start_run first)")

    def run(self, run_id: str) -> dict[str, Any] | None:
        with self.read() as conn:
            row = conn.execute(sa.select(runs).where(runs.c.id == run_id)).first()
        return dict(row._mapping) if row is not None else None


# -- the writes of record(), each on the caller's transaction ----------------------------------


def _upsert(conn: Connection, table: sa.Table, row: dict[str, Any], keys: list[str]) -> None:
    stmt = insert_for(conn, table).values(**row)
    update = {k: stmt.excluded[k] for k in row if k not in keys}
    conn.execute(stmt.on_conflict_do_update(index_elements=keys, set_=update))


def _change(old: str | None, new: str, seen: bool) -> Change:
    if not seen:
        return "new"
    return "unchanged" if old == new else "revised"


def _upsert_issue(
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


def _item_hashes(conn: Connection, ids: Sequence[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for chunk in _chunks(list(ids)):
        query = sa.select(items.c.id, items.c.content_hash).where(items.c.id.in_(chunk))
        found.update({r.id: r.content_hash for r in conn.execute(query)})
    return found


def _upsert_items(
    conn: Connection, issue_id: str, meta: IssueMeta, items_: Sequence[PolicyItem], now: Any
) -> dict[str, Change]:
    unique = {i.id: i for i in items_}  # an id listed twice is one item (the last one wins)
    stored = _item_hashes(conn, list(unique))
    changes: dict[str, Change] = {}
    batches: dict[Change, list[dict[str, Any]]] = {"new": [], "revised": [], "unchanged": []}
    for item in unique.values():
        new_hash = item_hash(item)
        change = _change(stored.get(item.id), new_hash, item.id in stored)
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
    _write_items(conn, issue_id, now, batches)
    return changes


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


def _upsert_notices(
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
        "last_checked": _aware(notice.fetched_at) or now,
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


def _link(conn: Connection, links: Mapping[str, Sequence[str]]) -> None:
    for item_id, urls in links.items():
        conn.execute(item_notices.delete().where(item_notices.c.item_id == item_id))
        rows = [{"item_id": item_id, "notice_url": u} for u in dict.fromkeys(urls)]
        if rows:
            conn.execute(item_notices.insert(), rows)


def _enqueue(conn: Connection, alerts_: Sequence[Alert], run_id: str | None, now: Any) -> int:
    """Insert the alerts, skipping keys already in the outbox; returns how many were new."""
    rows = [_alert_row(a, run_id, now) for a in alerts_]
    enqueued = 0
    for start in range(0, len(rows), _CHUNK):
        stmt = (
            insert_for(conn, alerts)
            .values(rows[start : start + _CHUNK])
            .on_conflict_do_nothing(index_elements=["key"])
            .returning(alerts.c.id)  # rowcount is not reliable for ON CONFLICT on every driver
        )
        enqueued += len(conn.execute(stmt).all())
    return enqueued


def _alert_row(alert: Alert, run_id: str | None, now: Any) -> dict[str, Any]:
    row = alert.model_dump(exclude={"reasons"})
    row.update(
        reasons=[r.model_dump(mode="json") for r in alert.reasons],
        created_at=_aware(alert.created_at) or now,
        next_attempt_at=_aware(alert.next_attempt_at),
        sent_at=_aware(alert.sent_at),
        run_id=alert.run_id or run_id,
    )
    return row


# -- reading helpers ---------------------------------------------------------------------------


def _row_chunks(rows: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(rows), _CHUNK):
        yield rows[start : start + _CHUNK]


def _notices_for(conn: Connection, item_ids: Sequence[str]) -> dict[str, list[Notice]]:
    query = (
        sa.select(item_notices.c.item_id, notices)
        .join(notices, notices.c.url == item_notices.c.notice_url)
        .where(item_notices.c.item_id.in_(item_ids))
        .order_by(item_notices.c.item_id, notices.c.url)
    )
    linked: dict[str, list[Notice]] = {}
    for row in conn.execute(query):
        linked.setdefault(row.item_id, []).append(_notice_from_row(row))
    return linked


def _notice_from_row(row: Any) -> Notice:
    """The last good content, with the latest check's status and error."""
    return Notice.model_validate({**row.data, "status": row.status, "error": row.last_error})


def _item_row(item: dict[str, Any], issue: dict[str, Any], linked: list[Notice]) -> ItemRow:
    return PolicyItem.model_validate(item), IssueMeta.model_validate(issue), linked
