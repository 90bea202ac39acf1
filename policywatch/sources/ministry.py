"""A ministry's own column list pages as a source: each new list entry is a notice to read.

The list parsers are in ``parsers.lists`` (one per site, pure); this module does the requests:
the first page of each list URL with a conditional GET, more pages on the first run and with
``--since`` (``backfill_pages``) and, on later runs, while a whole page is new (a busy day pushed
unseen entries past page 1), and for two-step sites (MIIT's and SAMR's column pages name the
API request that loads the list) the API request, which it remembers, so a run with nothing new
costs one conditional request per list URL and nothing else. An entry whose notice could not be
read stays pending and is offered again on later runs, until its notice is read or given up.

A list page that cannot be read (its layout changed) fails its source, as a fetch error would:
the run goes on with the other sources, and the source's next run reads its lists again.

A challenge page, or a refusal (HTTP 403/451, which several ministries answer to requests from
outside mainland China), is reported as ``blocked`` with the host named and the setting that
routes it through a proxy; it is never bypassed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date

from pydantic import BaseModel, Field

from parsers.errors import ParseError
from parsers.lists import BlockedListError, ListEntry, ListPage, ListRequest, page_url, parse_list
from parsers.notices import canonical_url
from policywatch.errors import BlockedError, FetchError, NotFoundError
from policywatch.http import FetchResult, PoliteClient, host_key
from policywatch.settings import SourceSettings
from policywatch.sources.base import Candidate, Pending, SourceState

__all__ = ["ListState", "list_candidates"]

log = logging.getLogger(__name__)

REFUSED = frozenset({403, 451})


class Validators(BaseModel):
    etag: str | None = None
    last_modified: str | None = None


class ListState(BaseModel):
    """What a ministry source remembers per list URL: validators, and the API request a
    two-step column page named (so the column page is not fetched again)."""

    listed: bool = Field(False, description="the first (backfill) reading is done")
    validators: dict[str, Validators] = Field(default_factory=dict)
    follow: dict[str, ListRequest] = Field(default_factory=dict)


def _state(state: SourceState) -> ListState:
    return ListState.model_validate(state.extra.get("ministry") or {})


async def list_candidates(
    source: SourceSettings,
    client: PoliteClient,
    state: SourceState,
    since: date | None,
) -> list[Candidate]:
    """The unseen entries of every list URL, newest first, then the entries whose notice failed
    before; updates ``state`` in place."""
    lists = _state(state)
    seen = frozenset(state.seen) | frozenset(state.pending)
    reading = Reading(source.backfill_pages, since, seen, catch_up=lists.listed and not since)
    found: dict[str, Candidate] = {}
    for url in source.list_urls:
        for entry in await _read_list(source, client, lists, url, reading):
            key = canonical_url(entry.url)
            if key not in seen and not (since and entry.published and entry.published < since):
                found.setdefault(key, _candidate(source.name, key, entry))
    for key, pending in state.pending.items():  # failed before: tried again (see _retried)
        found.setdefault(key, _retried(source.name, key, pending))
    lists.listed = True
    state.extra["ministry"] = lists.model_dump(mode="json")
    return list(found.values())


def _retried(name: str, key: str, pending: Pending) -> Candidate:
    """An entry whose notice failed (a 404 or 5xx, a page not read): it is no longer new on
    its list, so the source offers it again every run until it is settled. The notice's own
    backoff (``notices.retry_delays``) decides when its page is actually fetched again."""
    return Candidate(
        source=name, url=key, path=None, content=None, key=key, title=pending.title,
        published=pending.published, kind="notice",
    )  # fmt: skip


@dataclass(frozen=True)
class Reading:
    """How far a run pages through a list.

    The first reading (and ``--since``) reads up to ``pages`` pages, stopping where the entries
    are known or older than ``since``. A later run reads page 1, and further pages only while a
    whole page is new (``catch_up``): more was published since the last run than a page holds,
    and entries pushed off page 1 would otherwise never be seen.
    """

    pages: int
    since: date | None
    seen: frozenset[str]
    catch_up: bool

    def more(self, page: list[ListEntry]) -> bool:
        """Read the page after ``page``?"""
        known = [canonical_url(e.url) in self.seen for e in page]
        if self.catch_up:
            return bool(page) and not any(known)
        tail = page[-5:]
        if tail and all(known[-5:]):
            return False
        days = [e.published for e in tail if e.published is not None]
        return not (self.since and days and max(days) < self.since)


def _candidate(name: str, key: str, entry: ListEntry) -> Candidate:
    return Candidate(
        source=name, url=key, path=None, content=None, key=key, title=entry.title,
        published=entry.published, kind="notice",
    )  # fmt: skip


async def _read_list(
    source: SourceSettings, client: PoliteClient, lists: ListState, url: str, reading: Reading
) -> list[ListEntry]:
    site = source.site or ""
    first = await _first_page(site, client, lists, url)
    if first is None:  # not modified: nothing new on this list
        return []
    entries, page = list(first.entries), list(first.entries)
    start: str | ListRequest = lists.follow.get(url) or url
    last = min(reading.pages, first.pages or reading.pages)
    for n in range(2, last + 1):
        if not reading.more(page):
            return entries
        try:
            target = page_url(site, start, n)
        except ValueError:  # the site has no page n (a one-file list)
            return entries
        try:
            found = await _fetch(site, client, target, referer=url, lists=None)
        except NotFoundError:  # past the last page
            return entries
        if found is None or not found.entries:
            return entries
        page = list(found.entries)
        entries += page
    if reading.catch_up and reading.more(page) and last == reading.pages:
        log.warning(
            "%s: %d list pages of new entries since the last run; older ones are not read "
            "(raise the source's backfill_pages, or run with --since)", url, last,
        )  # fmt: skip
    return entries


async def _first_page(
    site: str, client: PoliteClient, lists: ListState, url: str
) -> ListPage | None:
    """Page 1: the remembered API request of a two-step column page, else the page itself."""
    remembered = lists.follow.get(url)
    if remembered is not None:
        try:
            return await _fetch(site, client, remembered, referer=url, lists=lists)
        except (FetchError, ParseError) as exc:  # the column may have moved: read it again
            log.info("%s: remembered list request failed (%s); reading the column page", url, exc)
            del lists.follow[url]
    page = await _fetch(site, client, url, referer=None, lists=lists)
    if page is None or page.follow is None:
        return page
    lists.follow[url] = page.follow
    return await _fetch(site, client, page.follow, referer=url, lists=lists)


async def _fetch(
    site: str,
    client: PoliteClient,
    target: str | ListRequest,
    *,
    referer: str | None,
    lists: ListState | None,
) -> ListPage | None:
    """One list page (conditionally when ``lists`` keeps validators); None when unchanged."""
    request = target if isinstance(target, ListRequest) else ListRequest(url=target)
    key = _key(request)
    known = lists.validators.get(key) if lists is not None else None
    headers = dict(request.headers)
    if referer and "Referer" not in headers:
        headers["Referer"] = referer
    result = await _get(client, request.full_url(), headers.get("Referer"), known)
    if result.not_modified:
        return None
    if lists is not None:
        lists.validators[key] = Validators(etag=result.etag, last_modified=result.last_modified)
    try:
        return parse_list(site, result.content, result.url, encoding=result.encoding)
    except BlockedListError as exc:
        raise _blocked(
            request.url, f"a challenge page where the list was expected ({exc})"
        ) from None
    except ParseError as exc:  # this source fails (and is read again next run), not the run
        raise _unreadable(request.full_url(), result.status, exc) from None


def _key(request: ListRequest) -> str:
    """A request's key for its validators: the state stores params sorted, so sort them."""
    return ListRequest(url=request.url, params=dict(sorted(request.params.items()))).full_url()


async def _get(
    client: PoliteClient, url: str, referer: str | None, known: Validators | None
) -> FetchResult:
    etag = known.etag if known else None
    modified = known.last_modified if known else None
    try:
        return await client.get(url, etag=etag, last_modified=modified, referer=referer)
    except BlockedError as exc:
        raise _blocked(url, exc.reason) from None
    except FetchError as exc:
        if exc.status in REFUSED:
            raise _blocked(url, f"the site refused the request (HTTP {exc.status})") from None
        raise


def _unreadable(url: str, status: int, exc: ParseError) -> FetchError:
    return FetchError(
        url,
        f"no list read ({exc})",
        status=status,
        hint="the site's list layout may have changed (the message names what the list parser "
        "looks for); check the page in a browser and the source's list_urls",
    )


def _blocked(url: str, reason: str) -> BlockedError:
    host = host_key(url)
    return BlockedError(
        url,
        f"blocked by {host}: {reason}; set http.proxies.{host} (or the source's proxy) to an "
        "egress the site accepts",
        hint="several ministries refuse requests from outside mainland China; policywatch "
        "never bypasses a challenge",
    )
