"""Cited notices within one run: each URL fetched once (conditionally when stored validators
exist) and parsed in the pool; failures back off (``retry_for``) and finally give up; rows are
written in batches. A stored notice read again with another text is remembered in ``changed``
(a ministry corrected its page: its notice item is revised, see ``intake.ministry``)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from parsers.errors import ParseError
from parsers.notices.base import error_notice
from parsers.records import Notice
from policywatch.http import FetchResult, PoliteClient
from policywatch.notices import Fetched, fetch_one
from policywatch.pool import Pool
from policywatch.settings import NoticeSettings
from policywatch.store import Store
from policywatch.store.reads import NoticeState, Snapshot
from policywatch.store.writes import NoticeRetry, notice_row

__all__ = ["NOTICE_BATCH", "NoticeReader", "retry_for"]

NOTICE_BATCH = 500  # notice rows per statement (a crash before the write refetches them)


def retry_for(
    previous: NoticeState | None, settings: NoticeSettings, now: dt.datetime
) -> NoticeRetry:
    """A failed notice's next attempt: the configured delays, then ``gave_up`` (None)."""
    before = previous.attempts if previous is not None and previous.status != "ok" else 0
    attempts = before + 1
    if attempts >= settings.give_up_after:
        return NoticeRetry(attempts, None)
    delays = settings.retry_delays
    wait = delays[min(attempts, len(delays)) - 1]
    return NoticeRetry(attempts, now + dt.timedelta(seconds=wait))


def _due(state: NoticeState | None, now: dt.datetime) -> bool:
    """Fetch now? Never-seen and ok notices yes (conditionally); failures when their time came."""
    if state is None or state.status == "ok":
        return True
    if state.status == "gave_up":
        return False
    return state.next_attempt_at is None or state.next_attempt_at <= now


@dataclass
class NoticeReader:
    """One run's notices: a cache of fetches in flight or done, and the rows not written yet."""

    store: Store
    client: PoliteClient
    pool: Pool
    settings: NoticeSettings
    now: dt.datetime
    dry_run: bool = False
    changed: dict[str, Notice] = field(default_factory=dict)  # stored notices read with new text
    _cache: dict[str, asyncio.Future[Notice]] = field(default_factory=dict)
    _rows: list[dict[str, Any]] = field(default_factory=list)
    _flush: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def get(self, urls: Sequence[str], snap: Snapshot) -> list[Notice]:
        """The notices at ``urls``: fetched once per run (conditionally when known), or the
        stored record while a failed notice backs off or after it gave up."""
        out: list[asyncio.Future[Notice]] = []
        for url in urls:
            state = snap.notices.get(url)
            if not _due(state, self.now) and state is not None:
                out.append(_done(Notice.model_validate({**state.data, "status": state.status})))
                continue
            if url not in self._cache:
                self._cache[url] = asyncio.ensure_future(self._fetch(url, state))
            out.append(self._cache[url])
        return list(await asyncio.gather(*out))

    async def _fetch(self, url: str, state: NoticeState | None) -> Notice:
        stored = None
        if state is not None and state.status == "ok" and (state.etag or state.last_modified):
            stored = Fetched(Notice.model_validate(state.data), state.etag, state.last_modified)
        fetched = await fetch_one(self.client, url, parse=self._parse, stored=stored)
        notice, retry = fetched.notice, None
        if (
            state is not None
            and state.status == notice.status == "ok"
            and (state.content_hash != notice.content_hash)
        ):
            self.changed[url] = (
                notice  # a ministry corrected its page: see ministry.revise_notice_items
            )
        if notice.status != "ok":
            retry = retry_for(state, self.settings, self.now)
            if retry.next_attempt_at is None:
                notice = notice.model_copy(update={"status": "gave_up"})
        self._rows.append(notice_row(
            notice, self.now, retry=retry, etag=fetched.etag, last_modified=fetched.last_modified
        ))  # fmt: skip
        return notice

    async def _parse(self, result: FetchResult, site: str | None) -> Notice:
        try:
            notice: Notice = await self.pool.run(
                "notice", result.content, result.url, result.content_type, result.encoding, site,
                label=result.url,
            )  # fmt: skip
        except ParseError as exc:
            from parsers.notices import site_for

            return error_notice(result.url, site or site_for(result.url) or "generic", str(exc))
        return notice

    async def flush(self, *, force: bool = True) -> None:
        """Write the fetched notices in one statement per batch (all with ``force``)."""
        if self.dry_run or (not force and len(self._rows) < NOTICE_BATCH):
            return
        async with self._flush:
            rows, self._rows = self._rows, []
            if rows:
                await asyncio.to_thread(self.store.record_notices, rows)


def _done(value: Notice) -> asyncio.Future[Notice]:
    future: asyncio.Future[Notice] = asyncio.get_running_loop().create_future()
    future.set_result(value)
    return future
