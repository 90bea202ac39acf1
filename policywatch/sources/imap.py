"""The subscriber's mailbox as a source: each new message is a candidate issue.

Reading changes nothing on the server (``policywatch.mailbox.fetch_new``); a message's
documents travel with its candidate, the first as its content and the others as fallbacks
(the pipeline parses them in turn until one is a China Industries issue). Only after the run
processed a message is it marked done (never read again) and, if configured, flagged ``\\Seen``
or moved; a message that failed stays unread by policywatch and is read again next run.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from datetime import date

from policywatch.errors import MailboxError
from policywatch.mailbox import MailboxState, MailItem, fetch_new, settle
from policywatch.settings import SourceSettings
from policywatch.sources.base import Candidate, SourceState, Verdict

__all__ = ["list_candidates", "settle_mailbox", "uid_of"]

log = logging.getLogger(__name__)

Resolver = Callable[[str], str]
_TYPES = {"pdf": "application/pdf", "html": "text/html", "text": "text/plain"}


def _mailbox(state: SourceState) -> MailboxState:
    return MailboxState.model_validate(state.extra.get("mailbox") or {})


async def list_candidates(
    source: SourceSettings, state: SourceState, since: date | None, resolver: Resolver | None
) -> list[Candidate]:
    """The new messages as candidates; the mailbox state is kept in ``state.extra``."""
    mailbox = _mailbox(state)
    items, mailbox = await asyncio.to_thread(
        fetch_new, source, mailbox, since=since, resolver=resolver
    )
    state.extra["mailbox"] = mailbox.model_dump(mode="json")
    return [_candidate(source.name, item) for item in items]


def _candidate(name: str, item: MailItem) -> Candidate:
    message = item.message
    if message is None or not message.documents:
        return Candidate(name, None, None, None, item.key, error=item.error or "no document")
    first, *rest = message.documents
    return Candidate(
        source=name, url=None, path=None, content=first.content, key=item.key,
        title=message.subject or None,
        published=message.date.date() if message.date else None,
        content_type=_TYPES.get(first.kind), labelled=False,
        fallbacks=tuple((doc.name, doc.content) for doc in rest),
    )  # fmt: skip


def uid_of(key: str) -> int | None:
    """The UID in an ``imap:<uidvalidity>:<uid>`` key."""
    parts = key.split(":")
    return int(parts[2]) if len(parts) == 3 and parts[0] == "imap" and parts[2].isdigit() else None


def settle_mailbox(
    source: SourceSettings,
    state: SourceState,
    outcomes: Mapping[str, tuple[Verdict, Candidate, str]],
    resolver: Resolver | None,
) -> SourceState:
    """Mark processed messages done (and flag or move them if configured); failures stay."""
    mailbox = _mailbox(state)
    done = [
        u
        for k, (v, _, _) in outcomes.items()
        if v in ("done", "out_of_scope") and (u := uid_of(k)) is not None
    ]
    failed = {
        u: r for k, (v, _, r) in outcomes.items() if v == "failed" and (u := uid_of(k)) is not None
    }
    mailbox = mailbox.mark_failed(failed).mark_done(done)
    if mailbox.pending:
        try:
            settle(source, mailbox.pending, uidvalidity=mailbox.uidvalidity, resolver=resolver)
            mailbox = mailbox.mark_settled(mailbox.pending)
        except MailboxError as exc:  # flags and moves are tried again next run
            log.warning("%s", exc)
            mailbox = mailbox.with_error(str(exc))
    state.extra["mailbox"] = mailbox.model_dump(mode="json")
    return state
