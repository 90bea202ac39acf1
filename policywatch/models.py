"""The domain's records: what parsers produce (re-exported) plus matches and alerts.

Imports go flows -> policywatch -> parsers, so the parse records are defined in
``parsers.records`` and only re-exported here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
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
    "WatchlistReasons",
]

Facet = Literal["sector", "company", "body", "keyword"]
AlertKind = Literal["instant", "digest"]
AlertStatus = Literal["pending", "sent", "skipped", "failed"]
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


@dataclass(slots=True)
class Match:
    """One watchlist that fired for one item, and why.

    A plain record, not a pydantic model: the matcher makes one per watchlist per item (14 per
    item on real text against a thousand lists), always from reasons it validated itself, and
    never reads it from outside; building it costs a third of a validated model.
    """

    watchlist: str
    item_id: str
    reasons: Sequence[Reason]  # a tuple from the matcher, shared by watchlists with one reason


Relation = Literal["new", "follow_up", "final"]


class WatchlistReasons(_Model):
    """One watchlist that matched an alert's item, and why (an alert names every such watchlist).

    ``relation`` says what the item is *for this watchlist*: ``new``; a ``follow_up`` (MERICS
    commentary on a document this watchlist was already alerted to on this channel); or the
    ``final`` version of a draft it was alerted to. ``note`` says which alert, and when.
    """

    watchlist: str
    reasons: list[Reason] = Field(default_factory=list)
    relation: Relation = "new"
    note: str | None = None


class Alert(_Model):
    """One row of the outbox: one message owed to one channel about one item (DESIGN 3.5).

    Every watchlist that matched the item for this channel in a run is in ``reasons``, so the
    channel gets one message naming them all. ``status`` is ``skipped`` when the channel already
    had the item (another kind of alert about it was delivered first).
    """

    key: str = Field(description="channel|item|kind, unique: the idempotency key")
    watchlist: str = Field(description="the names of the matching watchlists, comma-separated")
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
    reasons: list[WatchlistReasons] = Field(default_factory=list)

    @property
    def watchlists(self) -> list[str]:
        return [group.watchlist for group in self.reasons]

    @staticmethod
    def make_key(channel: str, item_ref: str, kind: AlertKind) -> str:
        """``item_ref`` is the item id, or ``<id>@<hash8>`` for a revision (``alert_item_ref``)."""
        return f"{channel}|{item_ref}|{kind}"

    @staticmethod
    def item_ref_of(key: str, channel: str, kind: str) -> str:
        """The item part of a key of this channel and kind (names may contain anything)."""
        return key.removeprefix(f"{channel}|").removesuffix(f"|{kind}")
