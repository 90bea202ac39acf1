"""What operators see of the outbox: the ops notice, the alert listing, the test alert.

Nothing here shows a channel URL: channels are names, errors come masked.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from policywatch.canaries import Watch
from policywatch.channels import Channel, SecretResolver, send
from policywatch.errors import PolicywatchError
from policywatch.notify import Entry, Message, render_alert, trim
from policywatch.settings import DeliverySettings
from policywatch.store.schema import alerts, items

__all__ = [
    "OPS_CHANNEL",
    "list_alerts",
    "outbox_totals",
    "render_health",
    "render_ops",
    "send_test",
]

OPS_CHANNEL = "ops"
HEADLINE_CHARS = 90


class _Store(Protocol):
    engine: Engine


def render_ops(rows: Sequence[Any]) -> Message:
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
        id_key="ops|" + ",".join(r.key for r in rows),
        count=n,
        keys=tuple(r.key for r in rows),
    )


_TITLES = {
    "source": "source {s} failing",
    "issue_layout": "source {s}: an issue page gave no items",
    "notice_layout": "notices of {s}: no title or body found",
}
_WHAT_TO_DO = {
    "source": "Check the source's URLs in config/policywatch.yaml and whether the site answers; "
    "`policywatch discover` lists what the source offers.",
    "issue_layout": "See the parser's error with `policywatch parse URL`; the MERICS layout may "
    "have changed and the parser may need an update. The issue is retried on every run.",
    "notice_layout": "See what the parser finds with `policywatch parse --site SITE URL -f "
    "table`; the site's parser may need an update. The notices are retried on their schedule.",
}


def render_health(watch: Watch) -> Message:
    """One ops alert about a watch that began failing, or recovered (``policywatch.canaries``)."""
    recovery = watch.owed == "recovery"
    title = _TITLES[watch.kind].format(s=watch.subject)
    subject = f"[policywatch ops] {title}" + (": recovered" if recovery else "")
    lines = [watch.describe()]
    if watch.since is not None:
        began = "It had been failing since" if recovery else "Failing since"
        lines.append(f"{began} {watch.since:%Y-%m-%d %H:%M} UTC.")
    if not recovery:
        lines += [f"- {url}" for url in watch.urls[-5:]] + ["", _WHAT_TO_DO[watch.kind]]
    text = subject + "\n\n" + "\n".join(lines) + "\n"
    since = watch.since.isoformat() if watch.since else ""
    return Message(
        subject=subject,
        text=text,
        html="".join(f"<p>{html.escape(line)}</p>" for line in [subject, *lines] if line),
        markdown=text,
        slack=text,
        id_key=f"ops-health|{watch.key}|{since}|{watch.owed}",
    )


def list_alerts(
    store: _Store, *, status: str | None = None, limit: int = 200
) -> list[dict[str, Any]]:
    """Outbox rows for display, newest first, with the item's headline (names only: a channel
    URL is never in the database)."""
    cols = [
        alerts.c.id, alerts.c.watchlist, alerts.c.channel, alerts.c.item_id, alerts.c.kind,
        alerts.c.change, alerts.c.status, alerts.c.attempts, alerts.c.next_attempt_at,
        alerts.c.sent_at, alerts.c.created_at, alerts.c.last_error, alerts.c.message_id,
        items.c.data.label("item"),
    ]  # fmt: skip
    query = (
        sa.select(*cols)
        .select_from(alerts.outerjoin(items, items.c.id == alerts.c.item_id))
        .order_by(alerts.c.id.desc())
        .limit(limit)
    )
    if status:
        query = query.where(alerts.c.status == status)
    with store.engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(query)]
    for row in rows:
        item = row.pop("item") or {}
        row["headline"] = trim(str(item.get("headline") or row["item_id"]), HEADLINE_CHARS)
    return rows


def outbox_totals(store: _Store) -> dict[str, int]:
    """Alerts per status, and the number of distinct messages that carried the sent ones."""
    query = sa.select(alerts.c.status, sa.func.count()).group_by(alerts.c.status)
    messages = sa.select(sa.func.count(sa.distinct(alerts.c.message_id)))
    with store.engine.connect() as conn:
        totals = {str(s): int(n) for s, n in conn.execute(query)}
        totals["messages"] = int(conn.execute(messages).scalar_one())
    return totals


def send_test(
    channels: Mapping[str, Channel],
    entry: Entry,
    names: Sequence[str],
    *,
    resolver: SecretResolver | None = None,
    settings: DeliverySettings | None = None,
) -> dict[str, str]:
    """Send a sample alert to each named channel; the result per channel ('ok' or the error).

    Only the named channels matter: another channel being disabled changes nothing here.
    """
    msg = render_alert(entry)
    out: dict[str, str] = {}
    for name in names:
        channel = channels.get(name)
        if channel is None:
            out[name] = "error: not defined in channels.yaml"
        elif channel.disabled is not None:
            out[name] = f"disabled: {channel.disabled}"
        else:
            try:
                send(channel, msg, resolver=resolver, settings=settings)
                out[name] = "ok"
            except PolicywatchError as exc:
                out[name] = f"error: {exc}"
    return out
