"""Reads and writes of the ``documents`` table and of the alerts sent about them.

What follow-ups and the draft/final link need: which ministry documents were alerted, to
which channel and watchlists, and when (DESIGN 3.6).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from policywatch.store.engine import insert_for
from policywatch.store.schema import alerts, documents

__all__ = ["AlertedDocument", "Document", "alerted_documents", "drafts_in_family", "save_document"]


@dataclass(frozen=True)
class Document:
    identity: str
    family: str
    is_draft: bool
    item_id: str | None
    url: str
    title: str | None
    doc_number: str | None
    published: dt.date | None


@dataclass(frozen=True)
class AlertedDocument:
    """One alert about a document's item: to which channel and watchlists, and when."""

    item_id: str
    channel: str
    watchlists: tuple[str, ...]
    when: dt.date
    label: str  # the 文号, else the title


def save_document(conn: Connection, doc: Document, now: dt.datetime) -> None:
    """Record a document the first time it is seen (a later copy on a mirror keeps the first)."""
    row = {**doc.__dict__, "first_seen": now}
    conn.execute(insert_for(conn, documents).values(**row).on_conflict_do_nothing())


def alerted_documents(
    conn: Connection, item_ids: Sequence[str] | None = None
) -> list[AlertedDocument]:
    """Alerts (sent or waiting) about documents' items: all of them, or those of ``item_ids``."""
    query = (
        sa.select(
            alerts.c.item_id, alerts.c.channel, alerts.c.reasons, alerts.c.created_at,
            documents.c.doc_number, documents.c.title,
        )
        .join(documents, documents.c.item_id == alerts.c.item_id)
        .where(alerts.c.status.in_(("sent", "pending")))
        .order_by(alerts.c.created_at)
    )  # fmt: skip
    if item_ids is not None:
        query = query.where(alerts.c.item_id.in_(list(item_ids)))
    return [_alerted(row) for row in conn.execute(query)]


def _alerted(row: Any) -> AlertedDocument:
    names = tuple(str(g.get("watchlist", "")) for g in row.reasons or [] if isinstance(g, dict))
    when = row.created_at.date() if row.created_at else dt.date.today()
    return AlertedDocument(
        row.item_id, row.channel, names, when, row.doc_number or row.title or row.item_id
    )


def drafts_in_family(conn: Connection, family: str) -> list[str]:
    """The item ids of the drafts of a document family."""
    query = sa.select(documents.c.item_id).where(
        documents.c.family == family, documents.c.is_draft.is_(True),
        documents.c.item_id.is_not(None),
    )  # fmt: skip
    return [str(i) for i in conn.execute(query).scalars()]
