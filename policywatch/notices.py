"""Following an item's links to the ministry notices it cites (DESIGN stage "follow notices").

A notice that cannot be read is still a record: ``not_found``, ``blocked`` or ``error`` with the
reason, so one bad page never stops the others and the state store can retry it later. Parsing
is a callable (``Parse``): the run hands in its process pool, one-off commands parse inline.
Pages whose validators are known are asked for conditionally; a 304 keeps the stored notice.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from parsers.bodies import BodyIndex
from parsers.notices import canonical_url, find_redirect
from parsers.notices.base import error_notice
from parsers.notices.common import decode_html
from parsers.notices.pdf import is_pdf
from parsers.records import Notice, PolicyItem
from policywatch.errors import BlockedError, FetchError, NotFoundError, ParseError
from policywatch.http import FetchResult, PoliteClient

__all__ = [
    "MAX_JS_REDIRECTS",
    "Fetched",
    "Parse",
    "fetch_notice",
    "fetch_notices",
    "inline_parser",
    "notice_links",
]

log = logging.getLogger(__name__)

MAX_JS_REDIRECTS = 3

# (fetched page, forced site or None) -> the notice on it
Parse = Callable[[FetchResult, str | None], Awaitable[Notice]]


@dataclass
class Fetched:
    """One notice after a fetch: the record, and the validators for the next conditional GET.

    ``not_modified`` means the server answered 304 and ``notice`` is the stored one.
    """

    notice: Notice
    etag: str | None = None
    last_modified: str | None = None
    not_modified: bool = False


def _site(url: str, site: str | None) -> str:
    from parsers.notices import site_for

    return site or site_for(url) or "generic"


def inline_parser(bodies: BodyIndex) -> Parse:
    """Parse in this process (CLI commands, tests); a run parses in its pool instead."""
    from policywatch.jobs import parse_notice_page

    async def parse(result: FetchResult, site: str | None) -> Notice:
        return parse_notice_page(
            result.content, result.url, result.content_type, result.encoding, site, bodies
        )

    return parse


def _is_html(result: FetchResult) -> bool:
    kind = (result.content_type or "text/html").lower()
    return "html" in kind and not is_pdf(result.content)


def _js_target(result: FetchResult, notice: Notice) -> str | None:
    """Where a page that did not parse sends the browser by script (MOFCOM), if anywhere.

    Only pages without a notice on them count, so a mobile-redirect snippet on a normal page
    does not make us fetch a second copy.
    """
    if notice.status == "ok" or not _is_html(result):
        return None
    target = find_redirect(decode_html(result.content, result.encoding), result.url)
    return None if target is None or canonical_url(target) == canonical_url(result.url) else target


async def _fetch_and_parse(
    client: PoliteClient, url: str, site: str | None, parse: Parse, stored: Fetched | None
) -> Fetched:
    """GET and parse ``url``, following JS redirects with Referer = the redirect page."""
    current, referer = url, None
    etag = stored.etag if stored else None
    modified = stored.last_modified if stored else None
    for hop in range(MAX_JS_REDIRECTS + 1):
        result = await client.get(current, referer=referer, etag=etag, last_modified=modified)
        if result.not_modified and stored is not None:
            return Fetched(stored.notice, result.etag, result.last_modified, not_modified=True)
        notice = await parse(result, site)
        target = _js_target(result, notice)
        if target is None or hop == MAX_JS_REDIRECTS:
            return Fetched(notice, result.etag, result.last_modified)
        if not client.is_allowed(target):
            raise FetchError(url, f"JS redirect to a host outside the allow-list: {target}")
        log.debug("%s: following JS redirect to %s", result.url, target)
        current, referer, etag, modified = target, result.url, None, None
    raise AssertionError("unreachable")  # pragma: no cover


async def fetch_notice(
    client: PoliteClient,
    url: str,
    bodies: BodyIndex | None = None,
    *,
    site: str | None = None,
    parse: Parse | None = None,
    stored: Fetched | None = None,
) -> Notice:
    """Fetch and parse one notice; page problems become the notice's status, never exceptions.

    ``site`` forces a parser (for mirrors and test servers whose host names no site).
    """
    return (
        await fetch_one(client, url, site=site, parse=parse or _inline(bodies), stored=stored)
    ).notice


def _inline(bodies: BodyIndex | None) -> Parse:
    if bodies is None:
        raise ValueError("fetch_notice needs bodies or a parse callable")
    return inline_parser(bodies)


async def fetch_one(
    client: PoliteClient,
    url: str,
    *,
    parse: Parse,
    site: str | None = None,
    stored: Fetched | None = None,
) -> Fetched:
    """Like :func:`fetch_notice`, with the validators and whether the stored copy still holds."""
    name = _site(url, site)
    try:
        fetched = await _fetch_and_parse(client, url, site, parse, stored)
    except NotFoundError as exc:
        fetched = Fetched(error_notice(url, name, str(exc), "not_found"))
    except BlockedError as exc:
        fetched = Fetched(error_notice(url, name, str(exc), "blocked"))
    except (FetchError, ParseError) as exc:  # expected (a 503, a timeout): one line, retried
        log.warning("notice %s failed: %s; retried later", url, _reason(exc, url))
        fetched = Fetched(error_notice(url, name, str(exc)))
    # The cited URL stays the key: items link to it, a redirect target may change.
    fetched.notice = fetched.notice.model_copy(
        update={"url": canonical_url(url), "fetched_at": dt.datetime.now(dt.UTC)}
    )
    return fetched


def _reason(exc: Exception, url: str) -> str:
    """The error without the URL it starts with (the log line names it once)."""
    return str(exc).removeprefix(f"{url}: ")


async def fetch_notices(
    client: PoliteClient,
    urls: Iterable[str],
    bodies: BodyIndex | None = None,
    *,
    site: str | None = None,
    parse: Parse | None = None,
) -> list[Notice]:
    """Fetch many notices concurrently (the client enforces per-host limits), input order kept.

    URLs are deduplicated by canonical form and hosts outside the allow-list are skipped.
    """
    unique: dict[str, None] = {}
    for url in urls:
        canonical = canonical_url(url)
        if client.is_allowed(canonical):
            unique.setdefault(canonical)
        else:
            log.debug("skipping %s: host not on the allow-list", url)
    parser = parse or _inline(bodies)
    found = await asyncio.gather(*(fetch_one(client, u, site=site, parse=parser) for u in unique))
    return [f.notice for f in found]


def notice_links(item: PolicyItem, is_allowed: Callable[[str], bool]) -> list[str]:
    """The item's links that point at allow-listed hosts, canonical and without duplicates."""
    found: dict[str, None] = {}
    for link in item.links:
        if not link.url.lower().startswith(("http://", "https://")):
            continue
        canonical = canonical_url(link.url)
        if is_allowed(canonical):
            found.setdefault(canonical)
    return list(found)
