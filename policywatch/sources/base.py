"""What every source shares: its stored state, the candidates it lists, and how a candidate's
outcome settles into that state.

Nothing is marked seen when it is listed: a candidate becomes ``seen`` only once it was processed
or positively identified as out of scope (another MERICS series). A candidate that failed, or a
page that answered without any series label (a maintenance or CDN error page), stays ``pending``
and is tried again on later runs; a failure is retried on the next run, an unrecognised page
after a backoff. So a crash, an outage or a maintenance page at the wrong moment never loses an
issue.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

__all__ = ["Candidate", "Pending", "SourceState", "Verdict", "due", "settle"]

# done: processed (new, revised or unchanged); out_of_scope: another series, marked seen;
# unrecognised: a page with no series label at all; failed: fetch or parse failed;
# later: published before the run's ``since`` bound (left for a deeper backfill).
Verdict = Literal["done", "out_of_scope", "unrecognised", "failed", "later"]


class Pending(BaseModel):
    """A candidate listed earlier but not settled: retried until it is processed."""

    published: date | None = None
    title: str | None = None
    attempts: int = 0
    next_at: datetime | None = None
    reason: str = ""


class SourceState(BaseModel):
    """What a source remembers between runs (saved as JSON by the state store)."""

    etag: str | None = None
    last_modified: str | None = None
    seen: list[str] = Field(default_factory=list, description="keys already settled")
    pending: dict[str, Pending] = Field(default_factory=dict, description="keys to retry")
    last_ok: datetime | None = None
    consecutive_failures: int = 0
    last_error: str | None = None
    extra: dict[str, Any] = Field(
        default_factory=dict, description="state of one source type (mailbox UIDs, list pages)"
    )


@dataclass
class Candidate:
    """A possible new issue; ``content`` holds the bytes already fetched, so nothing is fetched
    twice. ``labelled``: a web page that must carry the China Industries series label."""

    source: str
    url: str | None
    path: Path | None
    content: bytes | None
    key: str
    title: str | None = None
    published: date | None = None
    content_type: str | None = None
    labelled: bool = False
    fallbacks: tuple[tuple[str, bytes], ...] = ()  # (name, bytes) tried when content fails
    error: str | None = None  # listed but unreadable (a mail without a usable document)
    kind: Literal["issue", "notice"] = "issue"  # notice: a ministry list entry (its URL)


def due(state: SourceState, now: datetime, *, everything: bool = False) -> dict[str, Pending]:
    """The pending keys whose retry time has come (all of them with ``everything``)."""
    return {
        key: p
        for key, p in state.pending.items()
        if everything or p.next_at is None or p.next_at <= now
    }


def _delay(attempts: int, delays: Sequence[float]) -> dt.timedelta:
    return dt.timedelta(seconds=delays[min(attempts, len(delays)) - 1] if delays else 0)


def settle(
    state: SourceState,
    outcomes: Mapping[str, tuple[Verdict, Candidate, str]],
    *,
    now: datetime | None = None,
    delays: Sequence[float] = (3600.0,),
) -> SourceState:
    """The state after this run's candidates: ``outcomes`` maps key -> (verdict, candidate,
    reason); ``delays`` is the backoff for unrecognised pages (the last one repeats)."""
    now = now or datetime.now(UTC)
    new = state.model_copy(deep=True)
    seen = set(new.seen)
    for key, (verdict, candidate, reason) in outcomes.items():
        if verdict in ("done", "out_of_scope"):
            if key not in seen:
                new.seen.append(key)
                seen.add(key)
            new.pending.pop(key, None)
        elif verdict in ("failed", "unrecognised"):
            old = new.pending.get(key) or Pending(
                published=candidate.published, title=candidate.title
            )
            attempts = old.attempts + 1
            wait = _delay(attempts, delays) if verdict == "unrecognised" else None
            new.pending[key] = old.model_copy(
                update={"attempts": attempts, "next_at": now + wait if wait else None,
                        "reason": reason}
            )  # fmt: skip
    return new
