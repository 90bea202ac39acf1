"""Deliver the outbox: claim due alerts, send each message once, record what each channel got.

One row is one item owed to one channel (naming every watchlist that matched it there). Instant
rows are sent one message each; digest rows one message per (channel, run). Before a message
goes out, rows whose item the channel already received (under the other kind) are marked
``skipped``, so a channel gets each item once.

Claiming is one UPDATE that only takes rows nobody holds (``claimed_until`` empty or past), so
two deliveries running at once never take the same alert. A row is marked ``sent`` right after
its channel accepted it; the only window for a duplicate is a crash between those two steps
(one send), after which the claim expires and the alert is sent again. Failures keep the
alert pending with exponential backoff (or the service's ``Retry-After``); after
``max_attempts`` it is ``failed`` and the ``ops`` channel hears about it once.

A channel stops for the rest of a delivery, its remaining alerts left pending for the next run
without an attempt counted, when: it is disabled (its ``${VAR}`` is unset), its circuit breaker
trips (``breaker_failures`` connection failures or timeouts in a row), the service asked us to
wait (Retry-After), or the delivery's ``time_budget`` is spent.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.engine import Connection, Engine

from policywatch.channels import Channel, SecretResolver, load_channels, send
from policywatch.delivery_report import ChannelCounts, DeliveryReport
from policywatch.errors import (
    ChannelThrottled,
    ChannelUnreachable,
    DeliveryError,
    PolicywatchError,
)
from policywatch.models import Alert, AlertKind, PolicyItem, WatchlistReasons
from policywatch.notify import Entry, Message, item_text, render_alert, render_digest
from policywatch.ops import OPS_CHANNEL, render_ops
from policywatch.settings import DeliverySettings
from policywatch.store.core import DeliveryItem
from policywatch.store.schema import alerts, issues, items, utcnow

__all__ = [
    "LEASE",
    "ChannelCounts",
    "DeliveryReport",
    "backoff",
    "deliver_pending",
    "deliver_run",
]

log = logging.getLogger("policywatch.outbox")

LEASE = dt.timedelta(minutes=10)
KINDS: tuple[AlertKind, ...] = ("instant", "digest")
_REVISION = re.compile(r"^(?P<id>.+)@(?P<hash>[0-9a-f]{8})$")


class ItemStore(Protocol):
    """What delivery needs from ``policywatch.store.Store``."""

    engine: Engine

    def delivery_view(self, item_ids: Sequence[str]) -> dict[str, DeliveryItem]: ...

    def write(self) -> Any: ...


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
    deadline: float = 0.0
    failures: dict[str, int] = field(default_factory=dict)
    stopped: dict[str, dt.datetime | None] = field(default_factory=dict)
    view: dict[str, DeliveryItem] = field(default_factory=dict)  # the claimed rows' items
    delivered: set[tuple[str, str]] = field(default_factory=set)  # (channel, item ref) sent

    def clock(self) -> dt.datetime:
        """The injected time in tests, the wall clock otherwise (leases must track real time)."""
        return self.now if self.fixed_clock else utcnow()

    def over_budget(self) -> bool:
        return time.monotonic() > self.deadline


def deliver_run(
    store: ItemStore,
    channels_file: Path,
    *,
    config: DeliverySettings,
    secret_resolver: SecretResolver | None = None,
    worker_id: str,
) -> DeliveryReport:
    """A run's delivery: load the channels, send what is due. A channels file that cannot be
    loaded leaves every alert pending, reported per channel as disabled (never raises)."""
    try:
        channels = load_channels(channels_file)
    except PolicywatchError as exc:
        return _unloadable(store, worker_id, str(exc))
    return deliver_pending(
        store, channels, config=config, secret_resolver=secret_resolver, worker_id=worker_id
    )


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
    """Send every due pending alert; instant alerts first, then one digest per (channel, run)."""
    fixed = now is not None
    now = now or utcnow()
    token = f"{worker_id}:{uuid.uuid4().hex[:12]}"
    ctx = _Ctx(store, channels, config, now, token, secret_resolver, DeliveryReport(worker_id),
               fixed, time.monotonic() + config.time_budget)  # fmt: skip
    rows = _claim(store, token, now, limit)
    for row in rows:
        ctx.report.counts(row.channel).due += 1
    if rows:
        ctx.view = store.delivery_view([_base_id(r.item_id) for r in rows])
        ctx.delivered = _already_delivered(store, rows)
    for channel, batch, digest in _batches(_hold_disabled(ctx, rows)):
        _send_batch(ctx, channel, batch, digest=digest)
    _notify_ops(ctx)
    return ctx.report


# -- claiming -----------------------------------------------------------------------------------


def _due(now: dt.datetime) -> Any:
    return sa.and_(
        alerts.c.status == "pending",
        sa.or_(alerts.c.next_attempt_at.is_(None), alerts.c.next_attempt_at <= now),
        sa.or_(alerts.c.claimed_until.is_(None), alerts.c.claimed_until < now),
    )


def _claim(store: ItemStore, token: str, now: dt.datetime, limit: int | None) -> list[Any]:
    due = _due(now)
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
        return list(conn.execute(_in_reading_order(token)).all())


def _in_reading_order(token: str) -> Any:
    """The claimed rows by issue date, then the item's place in its issue (top stories, policy
    news, corporate news; position), whatever order the run's issues finished in."""
    section = sa.case(
        {"top": 0, "policy_news": 1, "corporate_news": 2}, value=items.c.section, else_=3
    )
    return (
        sa.select(alerts)
        .outerjoin(items, items.c.id == alerts.c.item_id)
        .outerjoin(issues, issues.c.id == items.c.issue_id)
        .where(alerts.c.claimed_by == token)
        .order_by(
            issues.c.published.asc().nulls_last(), items.c.issue_id, section, items.c.position,
            alerts.c.id,
        )
    )  # fmt: skip


def _unloadable(store: ItemStore, worker_id: str, error: str) -> DeliveryReport:
    """Every due alert stays pending: reported as due and disabled, per channel."""
    report = DeliveryReport(
        worker_id, errors=[f"channels not loaded, alerts stay pending: {error}"]
    )
    query = sa.select(alerts.c.channel, sa.func.count()).where(_due(utcnow()))
    with store.engine.connect() as conn:
        for channel, n in conn.execute(query.group_by(alerts.c.channel)):
            counts = report.counts(channel)
            counts.due = counts.disabled = int(n)
            counts.note = "channels.yaml could not be loaded"
    return report


def _hold_disabled(ctx: _Ctx, rows: list[Any]) -> list[Any]:
    """Rows of disabled channels go back untouched (no attempt counted); one warning each."""
    held: dict[str, list[Any]] = {}
    for row in rows:
        channel = ctx.channels.get(row.channel)
        if channel is not None and channel.disabled is not None:
            held.setdefault(row.channel, []).append(row)
    for name, batch in held.items():
        reason = ctx.channels[name].disabled or ""
        _release(ctx.store, [r.id for r in batch])
        counts = ctx.report.counts(name)
        counts.disabled, counts.note = len(batch), f"disabled: {reason}"
        ctx.report.errors.append(f"{name}: disabled, {len(batch)} alert(s) wait: {reason}")
        log.warning("channel %s is disabled (%s); %d alert(s) wait", name, reason, len(batch))
    return [r for r in rows if r.channel not in held]


def _batches(rows: Sequence[Any]) -> Iterator[tuple[str, list[Any], bool]]:
    """Each instant row alone, in order; then the digest rows of each (channel, run)."""
    for row in rows:
        if row.kind != "digest":
            yield row.channel, [row], False
    groups: dict[tuple[str, str], list[Any]] = {}
    for row in rows:
        if row.kind == "digest":
            groups.setdefault((row.channel, row.run_id or ""), []).append(row)
    for (channel, _run), group in groups.items():
        yield channel, group, True


# -- sending ------------------------------------------------------------------------------------


def _send_batch(ctx: _Ctx, channel: str, rows: list[Any], *, digest: bool) -> None:
    if channel not in ctx.stopped and ctx.over_budget():
        _stop(ctx, channel, f"time budget of {ctx.config.time_budget:g} s spent")
    if channel in ctx.stopped:
        _defer(ctx, channel, rows)
        return
    rows = _drop_delivered(ctx, channel, rows)
    if rows:
        _deliver(ctx, channel, rows, digest=digest)


def _already_delivered(store: ItemStore, rows: Sequence[Any]) -> set[tuple[str, str]]:
    """(channel, item ref) pairs a channel already received, as any kind: one query."""
    refs = {(r.channel, Alert.item_ref_of(r.key, r.channel, r.kind)) for r in rows}
    keys = {Alert.make_key(c, ref, k) for c, ref in refs for k in KINDS}
    found: set[tuple[str, str]] = set()
    query = sa.select(alerts.c.key, alerts.c.channel, alerts.c.kind).where(
        alerts.c.key.in_(sa.bindparam("keys", expanding=True)), alerts.c.status == "sent"
    )
    with store.engine.connect() as conn:
        for chunk in _chunks(sorted(keys)):
            for key, channel, kind in conn.execute(query, {"keys": chunk}):
                found.add((channel, Alert.item_ref_of(key, channel, kind)))
    return found


def _chunks(values: Sequence[str], size: int = 500) -> Iterator[Sequence[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _drop_delivered(ctx: _Ctx, channel: str, rows: list[Any]) -> list[Any]:
    """Rows whose item this channel already received (as another kind) are ``skipped``."""
    refs = {r.id: Alert.item_ref_of(r.key, r.channel, r.kind) for r in rows}
    skip = [r for r in rows if (channel, refs[r.id]) in ctx.delivered]
    if skip:
        _record(ctx, skip, status="skipped", sent_at=None)
        ctx.report.counts(channel).skipped += len(skip)
        log.info("%d alert(s) already delivered to channel %s: skipped", len(skip), channel)
    return [r for r in rows if (channel, refs[r.id]) not in ctx.delivered]


def _deliver(ctx: _Ctx, name: str, rows: list[Any], *, digest: bool) -> None:
    if not _renew(ctx, rows):
        ctx.report.counts(name).due -= len(rows)
        log.warning("claim on %d alert(s) for %s expired; left to the worker that took them",
                    len(rows), name)  # fmt: skip
        return
    try:
        channel = ctx.channels.get(name)
        if channel is None:
            raise DeliveryError(f"channel '{name}' is not defined in channels.yaml")
        msg, rows = _message(ctx, name, rows, digest)
        if not rows:
            return
        message_id = send(channel, msg, resolver=ctx.resolver, settings=ctx.config)
    except PolicywatchError as exc:
        _failed(ctx, name, rows, exc)
        return
    _record(ctx, rows, status="sent", sent_at=ctx.clock(), message_id=message_id)
    ctx.delivered.update((name, Alert.item_ref_of(r.key, name, r.kind)) for r in rows)
    counts = ctx.report.counts(name)
    counts.sent += 1
    counts.items += len(rows)
    ctx.failures[name] = 0
    log.info("sent %d alert(s) to channel %s in one message", len(rows), name)


def _message(ctx: _Ctx, name: str, rows: list[Any], digest: bool) -> tuple[Message, list[Any]]:
    if not digest:
        return render_alert(_entry(ctx, rows[0])), rows
    entries, kept = _digest_entries(ctx, name, rows)
    return render_digest(entries, channel=name, run_id=rows[0].run_id), kept


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


def _failed(ctx: _Ctx, name: str, rows: list[Any], exc: PolicywatchError) -> None:
    """Record the failure; a timeout counts towards the breaker, Retry-After pauses the channel."""
    ctx.report.errors.append(f"{name}: {exc}")
    log.warning("delivery to channel %s failed: %s", name, exc)
    if isinstance(exc, ChannelThrottled):
        wait = dt.timedelta(seconds=min(exc.retry_after, ctx.config.backoff_max))
        _mark_failed(ctx, rows, str(exc), retry_at=ctx.now + wait)
        _stop(ctx, name, f"the service asked to wait {wait.total_seconds():g} s", ctx.now + wait)
        return
    _mark_failed(ctx, rows, str(exc))
    if not isinstance(exc, ChannelUnreachable):
        ctx.failures[name] = 0  # it answered: reachable
        return
    ctx.failures[name] = ctx.failures.get(name, 0) + 1
    if ctx.failures[name] >= ctx.config.breaker_failures:
        _stop(ctx, name, f"circuit breaker: {ctx.failures[name]} connection failures in a row")


def _stop(ctx: _Ctx, name: str, why: str, resume: dt.datetime | None = None) -> None:
    """No more sends to this channel in this delivery; said once."""
    ctx.stopped[name] = resume
    counts = ctx.report.counts(name)
    counts.note = why
    ctx.report.errors.append(f"{name}: {why}; its other alerts wait for the next run")
    log.warning("channel %s: %s; its other alerts wait for the next run", name, why)


def _defer(ctx: _Ctx, name: str, rows: list[Any]) -> None:
    """Left for the next run, untried (no attempt counted); after a Retry-After, not before it."""
    _release(ctx.store, [r.id for r in rows], next_attempt_at=ctx.stopped.get(name))
    ctx.report.counts(name).deferred += len(rows)


def _renew(ctx: _Ctx, rows: Sequence[Any]) -> bool:
    """Extend our claim just before sending; False if another worker took a row meanwhile."""
    with ctx.store.write() as conn:
        renewed = conn.execute(
            alerts.update()
            .where(alerts.c.id.in_([r.id for r in rows]), alerts.c.claimed_by == ctx.token)
            .values(claimed_until=ctx.clock() + LEASE)
        ).rowcount
    return bool(renewed == len(rows))


# -- recording ----------------------------------------------------------------------------------


def _record(ctx: _Ctx, rows: Sequence[Any], **values: Any) -> None:
    """A final status (sent or skipped) for rows we still hold."""
    with ctx.store.write() as conn:
        done = conn.execute(
            alerts.update()
            .where(alerts.c.id.in_([r.id for r in rows]), alerts.c.claimed_by == ctx.token)
            .values(
                last_error=None, claimed_by=None, claimed_until=None, next_attempt_at=None, **values
            )
        ).rowcount
    if done != len(rows):
        log.warning("%d alert(s) were re-claimed by another worker while sending", len(rows) - done)


def backoff(attempts: int, config: DeliverySettings) -> dt.timedelta:
    """Delay before the next try after ``attempts`` failures: base, 2x base, 4x base, ... capped."""
    seconds = config.backoff_base * (2 ** max(attempts - 1, 0))
    return dt.timedelta(seconds=min(seconds, config.backoff_max))


def _mark_failed(
    ctx: _Ctx, rows: Sequence[Any], error: str, *, retry_at: dt.datetime | None = None
) -> None:
    counts = ctx.report.counts(rows[0].channel)
    with ctx.store.write() as conn:
        for row in rows:
            attempts = row.attempts + 1
            gave_up = attempts >= ctx.config.max_attempts
            after = retry_at or ctx.now + backoff(attempts, ctx.config)
            conn.execute(
                alerts.update()
                .where(alerts.c.id == row.id, alerts.c.claimed_by == ctx.token)
                .values(
                    attempts=attempts,
                    last_error=error[:2000],
                    claimed_by=None,
                    claimed_until=None,
                    status="failed" if gave_up else "pending",
                    next_attempt_at=None if gave_up else after,
                )
            )
            if gave_up:
                counts.failed += 1
            else:
                counts.retrying += 1


def _release(
    store: ItemStore, ids: list[int], *, next_attempt_at: dt.datetime | None = None, **values: Any
) -> None:
    """Give rows back untried; ``next_attempt_at`` only moves later (a Retry-After)."""
    if next_attempt_at is not None:
        values["next_attempt_at"] = next_attempt_at
    with store.write() as conn:
        conn.execute(
            alerts.update()
            .where(alerts.c.id.in_(ids))
            .values(claimed_by=None, claimed_until=None, **values)
        )


# -- what a message shows -----------------------------------------------------------------------


def _base_id(item_id: str) -> str:
    match = _REVISION.match(item_id)
    return match.group("id") if match else item_id


def _entry(ctx: _Ctx, row: Any) -> Entry:
    base_id = _base_id(row.item_id)
    found = ctx.view.get(base_id)
    if found is None:
        raise DeliveryError(f"item {base_id} is not in the state database any more")
    return Entry(
        key=row.key,
        matched=[WatchlistReasons.model_validate(g) for g in row.reasons or []],
        item=found.item,
        issue=found.issue,
        notices=found.notices,
        change=row.change,
        content_hash=found.content_hash,
        previous_hash=found.previous_hash,
        previous_text=_previous_text(found) if row.change == "revised" else None,
    )


def _previous_text(found: DeliveryItem) -> str | None:
    """The item's text before its last revision, if kept (for the alert's diff)."""
    if found.previous_data is None:
        return None
    try:
        return item_text(PolicyItem.model_validate(found.previous_data))
    except ValidationError:  # written by an older model: show the hashes only
        log.info("previous content of item %s is unreadable; no diff shown", found.item.id)
        return None


# -- operators ----------------------------------------------------------------------------------


def _notify_ops(ctx: _Ctx) -> None:
    """Tell the ``ops`` channel, once, about alerts that failed for good."""
    ops = ctx.channels.get(OPS_CHANNEL)
    token = ctx.token + ":ops"
    with ctx.store.write() as conn:
        rows = _claim_failed(conn, token, ctx.now)
    if not rows:
        return
    ids = [r.id for r in rows]
    if ops is None or not ops.enabled or OPS_CHANNEL in ctx.stopped or ctx.over_budget():
        _release(ctx.store, ids, ops_notified=False)
        log.warning("%d alert(s) failed for good; the 'ops' channel cannot be told now "
                    "(not defined, disabled, stopped or out of time)", len(rows))  # fmt: skip
        return
    try:
        send(ops, render_ops(rows), resolver=ctx.resolver, settings=ctx.config)
    except PolicywatchError as exc:
        _release(ctx.store, ids, ops_notified=False)
        ctx.report.errors.append(f"{OPS_CHANNEL}: {exc}")
        log.error("could not notify the ops channel: %s", exc)
        return
    _release(ctx.store, ids, ops_notified=True)
    ctx.report.ops_notices += 1


def _claim_failed(conn: Connection, token: str, now: dt.datetime) -> list[Any]:
    free = sa.or_(alerts.c.claimed_until.is_(None), alerts.c.claimed_until < now)
    waiting = sa.and_(alerts.c.status == "failed", alerts.c.ops_notified.is_(False), free)
    conn.execute(alerts.update().where(waiting).values(claimed_by=token, claimed_until=now + LEASE))
    query = sa.select(alerts).where(alerts.c.claimed_by == token).order_by(alerts.c.id)
    return list(conn.execute(query).all())
