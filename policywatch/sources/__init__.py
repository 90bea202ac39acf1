"""Where issues come from: the MERICS web source (feed, listing) and a folder of saved issues.

``list_candidates`` is the run's first step: the source's new and pending candidates, with its
failures recorded in the returned state (never raised). The run processes each candidate and
then :func:`settle` records what became of it. ``discover`` composes both for operators (the
``policywatch discover`` command): it fetches and classifies the candidate pages too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

from parsers.pages import classify_page
from policywatch.errors import ConfigError, FetchError
from policywatch.http import PoliteClient
from policywatch.settings import SourceSettings
from policywatch.sources import folder, imap, merics, ministry
from policywatch.sources.base import Candidate, Pending, SourceState, Verdict, due, settle
from policywatch.sources.merics import canonical_merics_url, is_china_industries

__all__ = [
    "Candidate",
    "Pending",
    "SourceState",
    "Verdict",
    "canonical_merics_url",
    "classify_page",
    "discover",
    "due",
    "is_china_industries",
    "list_candidates",
    "settle",
]

log = logging.getLogger(__name__)


async def list_candidates(
    source: SourceSettings,
    client: PoliteClient,
    state: SourceState,
    *,
    since: date | None = None,
    root: Path,
    now: datetime | None = None,
    resolver: Callable[[str], str] | None = None,
) -> tuple[list[Candidate], SourceState]:
    """New and due candidates of one source and its updated state (failures recorded).

    ``resolver`` reads ``secret:NAME`` settings (a mailbox password) from Prefect Secret blocks.
    """
    new_state = state.model_copy(deep=True)
    try:
        if source.type == "folder":
            found = await folder.list_candidates(source, new_state, since, root)
        elif source.type == "imap":
            found = await imap.list_candidates(source, new_state, since, resolver)
        elif source.type == "ministry":
            found = await ministry.list_candidates(source, client, new_state, since)
        else:
            found = await merics.list_candidates(source, client, new_state, since, now)
    except (FetchError, ConfigError, OSError) as exc:
        log.warning("source %s failed: %s", source.name, exc)
        new_state.consecutive_failures += 1
        new_state.last_error = str(exc)
        return [], new_state
    new_state.consecutive_failures = 0
    new_state.last_ok = datetime.now(UTC)
    return found, new_state


async def discover(
    source: SourceSettings,
    client: PoliteClient,
    state: SourceState,
    *,
    since: date | None = None,
    root: Path,
) -> tuple[list[Candidate], SourceState]:
    """Candidates whose pages are China Industries issues, with the state settled as a run
    would settle it (no parsing, no database)."""
    found, new_state = await list_candidates(source, client, state, since=since, root=root)
    outcomes: dict[str, tuple[Verdict, Candidate, str]]
    if source.type in ("folder", "imap", "ministry"):
        outcomes = {c.key: ("done", c, "") for c in found}
    else:
        outcomes = await merics.accept_pages(source, client, found, since)
    settled = settle(new_state, outcomes)
    accepted = [c for verdict, c, _ in outcomes.values() if verdict == "done"]
    return accepted, settled
