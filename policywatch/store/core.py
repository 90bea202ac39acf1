"""The state store: what was seen (issues, items, notices), what changed, and the alert outbox.

SQLAlchemy Core over SQLite (default, one machine) or PostgreSQL (several workers). The schema is
in ``schema``, its migrations in ``migrations``, engine details in ``engine``, the lock in
``locks``, the writes and content hashes in ``writes`` (all in this package).

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
import logging
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from policywatch.errors import StateError
from policywatch.models import Alert, Change, IssueMeta, Notice, PolicyItem
from policywatch.store import healing
from policywatch.store.documents import (
    AlertedDocument,
    Document,
    alerted_documents,
    drafts_in_family,
    save_document,
)
from policywatch.store.engine import make_engine, require_state, write_tx
from policywatch.store.holder import current
from policywatch.store.locks import LOCK_TTL, LOCK_WAIT, LockRow, hold_lock, read_holder
from policywatch.store.migrations import migrate, pending
from policywatch.store.reads import Snapshot, read_snapshot
from policywatch.store.schema import (
    alerts,
    issues,
    item_notices,
    items,
    notices,
    runs,
    sources,
    utcnow,
)
from policywatch.store.writes import (
    alert_item_ref,
    change_of,
    chunks,
    enqueue_alerts,
    item_hash,
    link_notices,
    notice_change,
    notice_hash,
    notice_row,
    upsert,
    upsert_issue,
    upsert_items,
    upsert_notices,
)

__all__ = ["DeliveryItem", "RecordResult", "Store", "alert_item_ref", "item_hash", "notice_hash"]

log = logging.getLogger("policywatch.store")

ItemRow = tuple[PolicyItem, IssueMeta, list[Notice]]


@dataclass
class DeliveryItem:
    """One item as delivery shows it, with its revision (previous content kept on revision)."""

    item: PolicyItem
    issue: IssueMeta
    notices: list[Notice]
    content_hash: str | None
    previous_hash: str | None
    previous_data: dict[str, Any] | None


@dataclass
class RecordResult:
    """What one ``record()`` call changed."""

    issue: Change = "unchanged"
    item_changes: dict[str, Change] = field(default_factory=dict)
    notice_changes: dict[str, Change] = field(default_factory=dict)
    notice_status_changes: int = 0
    enqueued_keys: list[str] = field(default_factory=list)

    @property
    def alerts_enqueued(self) -> int:
        return len(self.enqueued_keys)

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


_DAMAGED = ("file is not a database", "database disk image is malformed")


def _open_hint(engine: Engine, exc: sa.exc.DatabaseError) -> str:
    """What to do: a SQLite file that is not (or no longer) a database is replaced, not fixed
    by a setting."""
    if engine.dialect.name == "sqlite" and any(d in str(exc.orig) for d in _DAMAGED):
        return (
            f"{engine.url.database} is damaged or is not a policywatch state database: restore "
            "it from a backup, or move it aside and run again (a new state's first run is a "
            "baseline: only what was published within intake.baseline_days is alerted)"
        )
    return "check POLICYWATCH_STATE_URL / state_url in config/policywatch.yaml"


class Store:
    """One state database. Cheap to open; call ``close()`` (or use ``with``) when done."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.statements = 0  # SQL statements sent (an executemany is one; BEGIN not counted)
        sa.event.listen(engine, "before_cursor_execute", self._count)

    def _count(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.lstrip()[:5].upper().startswith("BEGIN"):
            self.statements += 1

    @classmethod
    def open(cls, url: str, *, create: bool = True) -> Store:
        """Open the state database at ``url``, creating and upgrading it as needed.

        ``create=False`` is for read-only commands (backtests, listings): a database that does
        not exist yet is a StateError (one line), never an empty one created as a side effect;
        an existing one is only written to when its schema needs an upgrade.
        """
        engine = make_engine(url, create=create)
        try:
            if not create:
                require_state(engine)
            if create or pending(engine):
                migrate(engine)
        except sa.exc.DatabaseError as exc:  # OperationalError, and a damaged SQLite file
            engine.dispose()
            where = engine.url.render_as_string(hide_password=True)
            raise StateError(
                f"cannot open the state database {where}: {exc.orig or exc}",
                hint=_open_hint(engine, exc),
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
        self, owner: str, *, wait: float = LOCK_WAIT, name: str = "run", ttl: float = LOCK_TTL
    ) -> Iterator[None]:
        """Hold the database's run lock as ``owner`` (the run id); waits up to ``wait`` seconds
        for a live holder, then raises StateError naming it (pid and host).

        A holder that crashed on this host is taken over at once, its ``runs`` row closed as
        ``crashed`` and its outbox claims released (see ``policywatch.store.locks``).
        PostgreSQL: a session advisory lock (released by the server if the process dies).
        SQLite: a row in ``locks`` kept alive by a heartbeat; the row of a holder on another
        host expires ``ttl`` seconds after its last heartbeat.
        """
        with hold_lock(self.engine, name, owner, wait=wait, ttl=ttl):
            yield

    def lock_holder(self, name: str = "run") -> LockRow | None:
        """Who holds (or, on PostgreSQL, last held) the lock: owner and process, or None."""
        return read_holder(self.engine, name)

    def heal_crashed_runs(self) -> list[str]:
        """Close as ``crashed`` every ``running`` run whose process on this host is gone, and
        release its outbox claims; returns their ids. Taking the run lock does this too."""
        with self.write() as conn:
            return healing.sweep(conn, current())

    # -- sources ----------------------------------------------------------------------------

    def source_state(self, name: str) -> dict[str, Any] | None:
        with self.read() as conn:
            state = conn.execute(
                sa.select(sources.c.state).where(sources.c.name == name)
            ).scalar_one_or_none()
        return dict(state) if state is not None else None

    def save_source_state(self, name: str, state: dict[str, Any]) -> None:
        with self.write() as conn:
            upsert(conn, sources, {"name": name, "state": state, "updated_at": utcnow()}, ["name"])

    # -- diff -------------------------------------------------------------------------------

    def known_issue(self, issue_id: str) -> str | None:
        """The stored content hash of an issue (to skip unchanged files), or None if unseen."""
        with self.read() as conn:
            return conn.execute(
                sa.select(issues.c.content_hash).where(issues.c.id == issue_id)
            ).scalar_one_or_none()

    def snapshot(
        self, issue_id: str, item_ids: Sequence[str], notice_urls: Sequence[str] = ()
    ) -> Snapshot:
        """What is stored about this issue, its items and the notices it cites (one query)."""
        with self.read() as conn:
            return read_snapshot(conn, issue_id, item_ids, notice_urls)

    def diff_items(self, items_: Sequence[PolicyItem]) -> dict[str, Change]:
        stored = self.snapshot("", [i.id for i in items_]).item_hashes
        return {i.id: change_of(stored.get(i.id), item_hash(i), i.id in stored) for i in items_}

    def diff_notice(self, notice: Notice) -> Change:
        state = self.snapshot("", [], [notice.url]).notices.get(notice.url)
        return notice_change(state, notice)

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
        """Record one issue with everything it brought, in one transaction.

        ``item_notices`` maps item ids (of ``items``) to the notice URLs they cite; links only
        accumulate. ``alerts`` whose key is already in the outbox are skipped.
        """
        result = RecordResult()
        links = dict(item_notices or {})
        unknown = sorted(set(links) - {i.id for i in items})
        if unknown:
            raise StateError(f"item_notices names items not being recorded: {', '.join(unknown)}")
        with self.write() as conn:
            now = utcnow()
            urls = [n.url for n in notices]
            snap = read_snapshot(conn, issue_id, [i.id for i in items], urls)
            result.issue = upsert_issue(
                conn, issue_id, source, meta, content_hash, now, snap.issue_hash
            )
            result.item_changes = upsert_items(conn, issue_id, meta, items, now, snap.item_hashes)
            for notice in notices:
                old = snap.notices.get(notice.url)
                result.notice_changes[notice.url] = notice_change(old, notice)
                result.notice_status_changes += old is not None and old.status != notice.status
            upsert_notices(conn, [notice_row(n, now) for n in notices])
            link_notices(conn, links)
            result.enqueued_keys = enqueue_alerts(conn, alerts, run_id, now)
        return result

    def record_issue(
        self,
        *,
        issue_id: str,
        source: str,
        meta: IssueMeta,
        content_hash: str,
        items: Sequence[PolicyItem],
        snapshot: Snapshot,
        item_notices: Mapping[str, Sequence[str]] | None = None,
        alerts: Sequence[Alert] = (),
        run_id: str | None = None,
        document: Document | None = None,
    ) -> RecordResult:
        """One issue, its items, their notice links and its alerts in one transaction
        (and, for a ministry notice, its ``document`` row).

        The pipeline's path: ``snapshot`` was read before the notices were fetched, and the
        notices themselves are written in batches (:meth:`record_notices`), so a backfill costs
        four statements per issue here. Change classification comes from ``snapshot``.
        """
        result = RecordResult()
        with self.write() as conn:
            now = utcnow()
            result.issue = upsert_issue(
                conn, issue_id, source, meta, content_hash, now, snapshot.issue_hash
            )
            result.item_changes = upsert_items(
                conn, issue_id, meta, items, now, snapshot.item_hashes
            )
            link_notices(conn, item_notices or {})
            result.enqueued_keys = enqueue_alerts(conn, alerts, run_id, now)
            if document is not None:
                save_document(conn, document, now)
        return result

    def alerted_documents(self, item_ids: Sequence[str] | None = None) -> list[AlertedDocument]:
        """Alerts (sent or waiting) about ministry documents' items (follow-ups, drafts)."""
        with self.read() as conn:
            return alerted_documents(conn, item_ids)

    def drafts_alerted(self, family: str) -> list[AlertedDocument]:
        """Alerts about the drafts of a document family (its final version says so)."""
        with self.read() as conn:
            drafts = drafts_in_family(conn, family)
            return alerted_documents(conn, drafts) if drafts else []

    def record_notices(self, rows: Sequence[dict[str, Any]]) -> None:
        """Notice rows (``store.writes.notice_row``) in one statement; the pipeline batches them."""
        if rows:
            with self.write() as conn:
                upsert_notices(conn, rows)

    # -- reading back -----------------------------------------------------------------------

    def items(self, *, since: dt.date | None = None) -> Iterator[ItemRow]:
        """Every stored item with its issue and notices, oldest first (backtests, re-matching)."""
        query = (
            sa.select(items.c.id, items.c.data, issues.c.data.label("issue"))
            .join(issues, issues.c.id == items.c.issue_id)
            .order_by(
                items.c.date.asc().nulls_last(),
                items.c.issue_id,
                items.c.section,
                items.c.position,
            )
        )
        if since is not None:
            query = query.where(items.c.date >= since)
        with self.read() as conn:
            rows = conn.execute(query).all()
            for chunk in chunks(rows):
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

    def new_alert_keys(self, keys: Sequence[str]) -> set[str]:
        """The keys not in the outbox yet (what ``record`` would actually enqueue)."""
        if not keys:
            return set()
        with self.read() as conn:
            known = set(
                conn.execute(sa.select(alerts.c.key).where(alerts.c.key.in_(keys))).scalars()
            )
        return set(keys) - known

    def alert_counts(self) -> Counter[tuple[str, str]]:
        """Alerts per (watchlist, status): a before/after difference is what a delivery did."""
        query = sa.select(alerts.c.watchlist, alerts.c.status, sa.func.count()).group_by(
            alerts.c.watchlist, alerts.c.status
        )
        with self.read() as conn:
            return Counter({(w, s): int(n) for w, s, n in conn.execute(query)})

    def notices_to_retry(self, now: dt.datetime) -> dict[str, dict[str, list[str]]]:
        """Per recorded issue, per item: cited notices that failed and are due again, or that
        have no row at all (fetched by a run that stopped before writing them)."""
        due = sa.or_(notices.c.next_attempt_at.is_(None), notices.c.next_attempt_at <= now)
        query = (
            sa.select(items.c.issue_id, item_notices.c.item_id, item_notices.c.notice_url)
            .join(items, items.c.id == item_notices.c.item_id)
            .outerjoin(notices, notices.c.url == item_notices.c.notice_url)
            .where(
                sa.or_(
                    notices.c.url.is_(None),
                    sa.and_(notices.c.status.not_in(("ok", "gave_up")), due),
                )
            )
            .order_by(items.c.issue_id, item_notices.c.item_id, item_notices.c.notice_url)
        )
        out: dict[str, dict[str, list[str]]] = {}
        with self.read() as conn:
            for issue_id, item_id, url in conn.execute(query):
                out.setdefault(issue_id, {}).setdefault(item_id, []).append(url)
        return out

    def delivery_view(self, item_ids: Sequence[str]) -> dict[str, DeliveryItem]:
        """What messages about these items show: item, issue, notices, revision (two queries
        per 500 items, however many alerts a delivery sends)."""
        query = sa.select(
            items.c.id, items.c.data, issues.c.data.label("issue"), items.c.content_hash,
            items.c.previous_hash, items.c.previous_data,
        ).join(issues, issues.c.id == items.c.issue_id)  # fmt: skip
        out: dict[str, DeliveryItem] = {}
        with self.read() as conn:
            for chunk in chunks(list(dict.fromkeys(item_ids))):
                rows = conn.execute(query.where(items.c.id.in_(chunk))).all()
                linked = _notices_for(conn, [r.id for r in rows])
                for r in rows:
                    row = _item_row(r.data, r.issue, linked.get(r.id, []))
                    out[r.id] = DeliveryItem(*row, r.content_hash, r.previous_hash, r.previous_data)
        return out

    def items_by_id(self, item_ids: Sequence[str]) -> list[ItemRow]:
        """These stored items with their issue and notices (two queries per 500 items)."""
        query = (
            sa.select(items.c.id, items.c.data, issues.c.data.label("issue"))
            .join(issues, issues.c.id == items.c.issue_id)
            .order_by(items.c.issue_id, items.c.section, items.c.position)
        )
        out: list[ItemRow] = []
        with self.read() as conn:
            for chunk in chunks(list(item_ids)):
                rows = conn.execute(query.where(items.c.id.in_(chunk))).all()
                linked = _notices_for(conn, [r.id for r in rows])
                out += [_item_row(r.data, r.issue, linked.get(r.id, [])) for r in rows]
        return out

    # -- runs -------------------------------------------------------------------------------

    def start_run(self, run_id: str) -> None:
        """A ``running`` row naming this process, so a crash can be recognised and closed."""
        row = {"id": run_id, "started_at": utcnow(), "status": "running", "summary": None}
        row["holder"] = current().to_json()
        with self.write() as conn:
            upsert(conn, runs, row, ["id"])

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


# -- reading helpers ---------------------------------------------------------------------------


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
