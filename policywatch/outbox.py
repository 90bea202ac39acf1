"""Deliver the outbox: claim due alerts, send them once per (alert or digest, channel), record it.

Claiming is one UPDATE that only takes rows nobody holds (``claimed_until`` empty or past), so
two deliveries running at once never take the same alert. A row is marked ``sent`` right after
its channel accepted it; the only window for a duplicate is a crash between those two steps
(one apprise call), after which the claim expires and the alert is sent again. Failures keep the
alert pending with exponential backoff; after ``max_attempts`` it is ``failed`` and the ``ops``
channel hears about it once.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.engine import Connection, Engine

from policywatch.channels import Channel, SecretResolver, send
from policywatch.errors import DeliveryError, PolicywatchError
from policywatch.models import IssueMeta, Notice, PolicyItem, Reason
from policywatch.notify import (
    Entry,
    Message,
    item_text,
    message_id,
    render_alert,
    render_digest,
)
from policywatch.settings import DeliverySettings
from policywatch.store.schema import alerts, items, utcnow

__all__ = ["ChannelCounts", "DeliveryReport", "deliver_pending", "list_alerts", "send_test"]

log = logging.getLogger("policywatch.outbox")

OPS_CHANNEL = "ops"
LEASE = dt.timedelta(minutes=10)
_REVISION = re.compile(r"^(?P<id>.+)@(?P<hash>[0-9a-f]{8})$")


class ItemStore(Protocol):
    """What delivery needs from ``policywatch.store.Store``."""

    engine: Engine

    def item(self, item_id: str) -> tuple[PolicyItem, IssueMeta, list[Notice]] | None: ...

    def write(self) -> Any: ...


@dataclass
class ChannelCounts:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    skipped: int = 0
    messages: int = 0


@dataclass
class DeliveryReport:
    """What one delivery did, per channel; errors are masked (never a channel URL)."""

    worker_id: str
    channels: dict[str, ChannelCounts] = field(default_factory=dict)
    ops_notices: int = 0
    errors: list[str] = field(default_factory=list)

    def counts(self, channel: str) -> ChannelCounts:
        return self.channels.setdefault(channel, ChannelCounts())

    @property
    def sent(self) -> int:
        return sum(c.sent for c in self.channels.values())

    @property
    def pending(self) -> int:
        return sum(c.retrying for c in self.channels.values())

    @property
    def failed(self) -> int:
        return sum(c.failed for c in self.channels.values())

    def summary(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "retrying": self.pending,
            "failed": self.failed,
            "ops_notices": self.ops_notices,
            "channels": {k: vars(v) for k, v in sorted(self.channels.items())},
            "errors": list(self.errors),
        }


@dataclass
class _Ctx:
    store: ItemStore
    channels: Mapping[str, Channel]
    config: DeliverySettings
    now: dt.datetime
    token: str
    resolver: SecretResolver | None
    report: DeliveryReport
    fixed_clock: bool = False

    def clock(self) -> dt.datetime:
        """The injected time in tests, the wall clock otherwise (leases must track real time)."""
        return self.now if self.fixed_clock else utcnow()


def deliver_pending(
    store: ItemStore,
    channels: Mapping[str, Channel],
    *,
    config: DeliverySettings,
    now: dt.datetime | None = None,
    secret_resolver: SecretResolver | None = None,
    worker_id: str,
    limit: int | None = None,
) -> DeliveryReport:
    """Send every due pending alert; instant alerts first, then one digest per group."""
    fixed = now is not None
    now = now or utcnow()
    token = f"{worker_id}:{uuid.uuid4().hex[:12]}"
    ctx = _Ctx(
        store, channels, config, now, token, secret_resolver, DeliveryReport(worker_id), fixed
    )
    rows = _claim(store, token, now, limit)
    for row in (r for r in rows if r.kind != "digest"):
        _deliver(ctx, row.channel, [row], digest=False)
    for (watchlist, channel, _run), group in _digest_groups(rows).items():
        todo = _drop_already_sent(ctx, channel, group)
        if todo:
            _deliver(ctx, channel, todo, digest=True, watchlist=watchlist)
    _notify_ops(ctx)
    return ctx.report


# -- claiming -----------------------------------------------------------------------------------


def _free(now: dt.datetime) -> Any:
    return sa.or_(alerts.c.claimed_until.is_(None), alerts.c.claimed_until < now)


def _claim(store: ItemStore, token: str, now: dt.datetime, limit: int | None) -> list[Any]:
    due = sa.and_(
        alerts.c.status == "pending",
        sa.or_(alerts.c.next_attempt_at.is_(None), alerts.c.next_attempt_at <= now),
        _free(now),
    )
    # PostgreSQL: rows another delivery is claiming right now are skipped, not waited for (no
    # lock queue, no deadlock); SQLite has one writer at a time and ignores the clause.
    ids = sa.select(alerts.c.id).where(due).order_by(alerts.c.id).with_for_update(skip_locked=True)
    if limit is not None:
        ids = ids.limit(limit)
    with store.write() as conn:
        conn.execute(
            alerts.update()
            .where(alerts.c.id.in_(ids.scalar_subquery()), due)
            .values(claimed_by=token, claimed_until=now + LEASE)
        )
        query = sa.select(alerts).where(alerts.c.claimed_by == token).order_by(alerts.c.id)
        return list(conn.execute(query).all())


def _digest_groups(rows: Iterable[Any]) -> dict[tuple[str, str, str], list[Any]]:
    groups: dict[tuple[str, str, str], list[Any]] = {}
    for row in rows:
        if row.kind == "digest":
            groups.setdefault((row.watchlist, row.channel, row.run_id or ""), []).append(row)
    return groups


def _ref(key: str) -> str:
    """The item part of an alert key (``<id>`` or ``<id>@<hash8>`` for a revision)."""
    parts = key.rsplit("|", 2)
    return parts[1] if len(parts) == 3 else key


def _drop_already_sent(ctx: _Ctx, channel: str, group: list[Any]) -> list[Any]:
    """An item (revision) this channel already got instantly is not repeated in its digest."""
    query = sa.select(alerts.c.key).where(
        alerts.c.channel == channel,
        alerts.c.kind == "instant",
        alerts.c.status == "sent",
        alerts.c.item_id.in_([r.item_id for r in group]),
    )
    with ctx.store.engine.connect() as conn:
        done = {_ref(k) for k in conn.execute(query).scalars()}
    skip = [r for r in group if _ref(r.key) in done]
    if skip:
        _mark_sent(ctx, skip)
        ctx.report.counts(channel).skipped += len(skip)
    return [r for r in group if _ref(r.key) not in done]


# -- sending ------------------------------------------------------------------------------------


def _deliver(
    ctx: _Ctx, channel_name: str, rows: list[Any], *, digest: bool, watchlist: str = ""
) -> None:
    counts = ctx.report.counts(channel_name)
    if not _renew(ctx, rows):
        log.warning("claim on %d alert(s) for %s expired; left to the worker that took them",
                    len(rows), channel_name)  # fmt: skip
        return
    try:
        channel = ctx.channels.get(channel_name)
        if channel is None:
            raise DeliveryError(f"channel '{channel_name}' is not defined in channels.yaml")
        if digest:
            entries, rows = _digest_entries(ctx, channel_name, rows)
            if not rows:
                return
            run_id = rows[0].run_id
            msg = render_digest(
                entries, watchlist=watchlist, channel=channel_name, run_id=run_id,
                sender=ctx.config.sender,
            )  # fmt: skip
        else:
            msg = render_alert(_entry(ctx, rows[0]), sender=ctx.config.sender)
        send(channel, msg, resolver=ctx.resolver, sender=ctx.config.sender)
    except PolicywatchError as exc:
        _mark_failed(ctx, rows, str(exc))
        ctx.report.errors.append(f"{channel_name}: {exc}")
        log.warning("delivery to channel %s failed: %s", channel_name, exc)
        return
    _mark_sent(ctx, rows)
    counts.sent += len(rows)
    counts.messages += 1
    log.info("sent %d alert(s) to channel %s in one message", len(rows), channel_name)


def _digest_entries(ctx: _Ctx, channel: str, rows: list[Any]) -> tuple[list[Entry], list[Any]]:
    """The entries a digest can show; a row whose item vanished is failed alone, not the digest."""
    entries: list[Entry] = []
    kept: list[Any] = []
    for row in rows:
        try:
            entries.append(_entry(ctx, row))
            kept.append(row)
        except DeliveryError as exc:
            _mark_failed(ctx, [row], str(exc))
            ctx.report.errors.append(f"{channel}: {exc}")
            log.warning("digest for channel %s: %s; sent without it", channel, exc)
    return entries, kept


def _renew(ctx: _Ctx, rows: Sequence[Any]) -> bool:
    """Extend our claim just before sending; False if another worker took a row meanwhile."""
    with ctx.store.write() as conn:
        renewed = conn.execute(
            alerts.update()
            .where(alerts.c.id.in_([r.id for r in rows]), alerts.c.claimed_by == ctx.token)
            .values(claimed_until=ctx.clock() + LEASE)
        ).rowcount
    return bool(renewed == len(rows))


def _entry(ctx: _Ctx, row: Any) -> Entry:
    match = _REVISION.match(row.item_id)
    base_id = match.group("id") if match else row.item_id
    found = ctx.store.item(base_id)
    if found is None:
        raise DeliveryError(f"item {base_id} is not in the state database any more")
    item, issue, notices = found
    current, previous, previous_text = _revision(ctx.store.engine, base_id)
    return Entry(
        key=row.key,
        watchlist=row.watchlist,
        item=item,
        issue=issue,
        notices=notices,
        reasons=[Reason.model_validate(r) for r in row.reasons or []],
        change=row.change,
        content_hash=current,
        previous_hash=previous,
        previous_text=previous_text if row.change == "revised" else None,
    )


def _revision(engine: Engine, item_id: str) -> tuple[str | None, str | None, str | None]:
    """The item's current and previous hash, and its text before the last revision if kept."""
    query = sa.select(items.c.content_hash, items.c.previous_hash, items.c.previous_data).where(
        items.c.id == item_id
    )
    with engine.connect() as conn:
        row = conn.execute(query).first()
    if row is None:
        return None, None, None
    previous_text = None
    if row.previous_data is not None:
        try:
            previous_text = item_text(PolicyItem.model_validate(row.previous_data))
        except ValidationError:  # written by an older model: show the hashes only
            log.info("previous content of item %s is unreadable; no diff shown", item_id)
    return row.content_hash, row.previous_hash, previous_text


# -- recording ----------------------------------------------------------------------------------


def _mark_sent(ctx: _Ctx, rows: Sequence[Any]) -> None:
    with ctx.store.write() as conn:
        done = conn.execute(
            alerts.update()
            .where(alerts.c.id.in_([r.id for r in rows]), alerts.c.claimed_by == ctx.token)
            .values(
                status="sent",
                sent_at=ctx.clock(),
                last_error=None,
                claimed_by=None,
                claimed_until=None,
                next_attempt_at=None,
            )
        ).rowcount
    if done != len(rows):
        log.warning("%d alert(s) were re-claimed by another worker while sending", len(rows) - done)


def backoff(attempts: int, config: DeliverySettings) -> dt.timedelta:
    """Delay before the next try after ``attempts`` failures: base, 2x base, 4x base, ... capped."""
    seconds = config.backoff_base * (2 ** max(attempts - 1, 0))
    return dt.timedelta(seconds=min(seconds, config.backoff_max))


def _mark_failed(ctx: _Ctx, rows: Sequence[Any], error: str) -> None:
    counts = ctx.report.counts(rows[0].channel)
    with ctx.store.write() as conn:
        for row in rows:
            attempts = row.attempts + 1
            gave_up = attempts >= ctx.config.max_attempts
            values: dict[str, Any] = {
                "attempts": attempts,
                "last_error": error[:2000],
                "claimed_by": None,
                "claimed_until": None,
                "status": "failed" if gave_up else "pending",
                "next_attempt_at": None if gave_up else ctx.now + backoff(attempts, ctx.config),
            }
            conn.execute(
                alerts.update()
                .where(alerts.c.id == row.id, alerts.c.claimed_by == ctx.token)
                .values(**values)
            )
            if gave_up:
                counts.failed += 1
            else:
                counts.retrying += 1


# -- operators ----------------------------------------------------------------------------------


def _notify_ops(ctx: _Ctx) -> None:
    """Tell the ``ops`` channel, once, about alerts that failed for good."""
    ops = ctx.channels.get(OPS_CHANNEL)
    token = ctx.token + ":ops"
    with ctx.store.write() as conn:
        rows = _claim_failed(conn, token, ctx.now)
    if not rows:
        return
    if ops is None:
        _release(ctx, [r.id for r in rows], notified=False)
        log.warning("%d alert(s) failed for good and no 'ops' channel is defined", len(rows))
        return
    try:
        msg = render_ops(rows, ctx.config.sender)
        send(ops, msg, resolver=ctx.resolver, sender=ctx.config.sender)
    except PolicywatchError as exc:
        _release(ctx, [r.id for r in rows], notified=False)
        ctx.report.errors.append(f"{OPS_CHANNEL}: {exc}")
        log.error("could not notify the ops channel: %s", exc)
        return
    _release(ctx, [r.id for r in rows], notified=True)
    ctx.report.ops_notices += 1


def _claim_failed(conn: Connection, token: str, now: dt.datetime) -> list[Any]:
    waiting = sa.and_(alerts.c.status == "failed", alerts.c.ops_notified.is_(False), _free(now))
    conn.execute(alerts.update().where(waiting).values(claimed_by=token, claimed_until=now + LEASE))
    query = sa.select(alerts).where(alerts.c.claimed_by == token).order_by(alerts.c.id)
    return list(conn.execute(query).all())


def _release(ctx: _Ctx, ids: list[int], *, notified: bool) -> None:
    with ctx.store.write() as conn:
        conn.execute(
            alerts.update()
            .where(alerts.c.id.in_(ids))
            .values(claimed_by=None, claimed_until=None, ops_notified=notified)
        )


def render_ops(rows: Sequence[Any], sender: str) -> Message:
    """A short operator report: which alerts gave up, and the (masked) last error of each."""
    n = len(rows)
    subject = f"[policywatch ops] {n} alert{'s' if n != 1 else ''} failed for good"
    lines = [
        f"- {r.watchlist} -> {r.channel}: item {r.item_id} ({r.kind}), "
        f"{r.attempts} attempts; last error: {r.last_error or 'unknown'}"
        for r in rows
    ]
    text = subject + "\n\n" + "\n".join(lines) + "\n\nSee `policywatch alerts --status failed`.\n"
    body_html = "".join(f"<li>{html.escape(line[2:])}</li>" for line in lines)
    return Message(
        subject=subject,
        text=text,
        html=f"<p>{html.escape(subject)}</p><ul>{body_html}</ul>",
        markdown=text,
        slack=text,
        message_id=message_id("ops|" + ",".join(r.key for r in rows), sender),
        count=n,
        keys=tuple(r.key for r in rows),
    )


# -- operator commands --------------------------------------------------------------------------


def list_alerts(
    store: ItemStore, *, status: str | None = None, limit: int = 200
) -> list[dict[str, Any]]:
    """Outbox rows for display (names only: a channel URL is never in the database)."""
    cols = [
        alerts.c.id, alerts.c.watchlist, alerts.c.channel, alerts.c.item_id, alerts.c.kind,
        alerts.c.change, alerts.c.status, alerts.c.attempts, alerts.c.next_attempt_at,
        alerts.c.sent_at, alerts.c.created_at, alerts.c.last_error,
    ]  # fmt: skip
    query = sa.select(*cols).order_by(alerts.c.id.desc()).limit(limit)
    if status:
        query = query.where(alerts.c.status == status)
    with store.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


def send_test(
    channels: Mapping[str, Channel],
    watchlist: str,
    names: Sequence[str],
    *,
    resolver: SecretResolver | None = None,
    sender: str = "policywatch <policywatch@localhost>",
) -> dict[str, str]:
    """Send a sample alert to each named channel; the result per channel ('ok' or the error)."""
    from policywatch.notify import sample_entry

    msg = render_alert(sample_entry(watchlist, nonce=uuid.uuid4().hex), sender=sender)
    out: dict[str, str] = {}
    for name in names:
        channel = channels.get(name)
        if channel is None:
            out[name] = "error: not defined in channels.yaml"
            continue
        try:
            send(channel, msg, resolver=resolver, sender=sender)
            out[name] = "ok"
        except PolicywatchError as exc:
            out[name] = f"error: {exc}"
    return out
