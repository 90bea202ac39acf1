"""The domain's records: what parsers produce (re-exported) plus matches and alerts.

Imports go flows -> policywatch -> parsers, so the parse records are defined in
``parsers.records`` and only re-exported here.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from parsers.records import (
    Attachment,
    Document,
    Issue,
    IssueMeta,
    Link,
    Notice,
    NoticeStatus,
    Period,
    Policy,
    PolicyItem,
    Section,
)

__all__ = [
    "Alert",
    "AlertKind",
    "AlertStatus",
    "Attachment",
    "Change",
    "Document",
    "Issue",
    "IssueMeta",
    "Link",
    "Match",
    "Notice",
    "NoticeStatus",
    "Period",
    "Policy",
    "PolicyItem",
    "Reason",
    "Section",
]

Facet = Literal["sector", "company", "body", "keyword"]
AlertKind = Literal["instant", "digest"]
AlertStatus = Literal["pending", "sent", "failed"]
Change = Literal["new", "revised", "unchanged"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Reason(_Model):
    """Why a watchlist fired: which facet and term, the text actually found, where, and context."""

    facet: Facet
    term: str = Field(
        description="the watchlist's entry: sector id, company name, body id or keyword"
    )
    found: str = Field(description="the alias or term as it appears in the text")
    field: str = Field(description="item field, or 'notice.<field>' for a linked notice")
    snippet: str = Field(description="a short excerpt around the hit")


class Match(_Model):
    watchlist: str
    item_id: str
    reasons: list[Reason]


class Alert(_Model):
    """One row of the outbox: a message owed to one channel about one item (or digest entry)."""

    key: str = Field(description="watchlist|channel|item|kind, unique: the idempotency key")
    watchlist: str
    channel: str
    item_id: str
    kind: AlertKind
    status: AlertStatus = "pending"
    attempts: int = 0
    next_attempt_at: dt.datetime | None = None
    last_error: str | None = None
    created_at: dt.datetime | None = None
    sent_at: dt.datetime | None = None
    run_id: str | None = None
    change: Change = "new"
    reasons: list[Reason] = Field(default_factory=list)

    @staticmethod
    def make_key(watchlist: str, channel: str, item_id: str, kind: AlertKind) -> str:
        return f"{watchlist}|{channel}|{item_id}|{kind}"
