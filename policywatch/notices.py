"""Following an item's links to the ministry notices it cites (DESIGN stage "follow notices").

A notice that cannot be read is still a record: ``not_found``, ``blocked`` or ``error`` with the
reason, so one bad page never stops the others and the state store can retry it next run.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable, Iterable

from parsers.bodies import BodyIndex
from parsers.notices import canonical_url, find_redirect, parse_notice, site_for
from parsers.notices.base import error_notice
from parsers.notices.common import decode_html
from parsers.notices.pdf import is_pdf
from parsers.records import Notice, PolicyItem
from policywatch.errors import BlockedError, FetchError, NotFoundError, ParseError
from policywatch.http import FetchResult, PoliteClient

__all__ = ["MAX_JS_REDIRECTS", "fetch_notice", "fetch_notices", "notice_links"]

log = logging.getLogger(__name__)

MAX_JS_REDIRECTS = 3


def _site(url: str, site: str | None) -> str:
    return site or site_for(url) or "generic"


def _is_html(result: FetchResult) -> bool:
    kind = (result.content_type or "text/html").lower()
    return "html" in kind and not is_pdf(result.content)


# Content types a notice can be read from; anything else (a linked .docx, a zip) is reported.
_READABLE_TYPES = frozenset({"text/plain", "application/pdf", "application/octet-stream"})


def _parse(result: FetchResult, site: str | None, bodies: BodyIndex) -> Notice:
    kind = (result.content_type or "").split(";")[0].strip().lower()
    readable = kind in _READABLE_TYPES or kind.endswith(("html", "/xml", "+xml"))
    if kind and not readable and not is_pdf(result.content):
        reason = f"not a web page or PDF ({kind}); open the file itself"
        return error_notice(result.url, _site(result.url, site), reason)
    try:
        return parse_notice(
            result.content, result.url, site=site, bodies=bodies, encoding=result.encoding
        )
    except ParseError as exc:
        return error_notice(result.url, _site(result.url, site), str(exc))


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
    client: PoliteClient, url: str, site: str | None, bodies: BodyIndex
) -> Notice:
    """GET and parse ``url``, following JS redirects with Referer = the redirect page."""
    current, referer = url, None
    for hop in range(MAX_JS_REDIRECTS + 1):
        result = await client.get(current, referer=referer)
        notice = _parse(result, site, bodies)
        target = _js_target(result, notice)
        if target is None or hop == MAX_JS_REDIRECTS:
            return notice
        if not client.is_allowed(target):
            raise FetchError(url, f"JS redirect to a host outside the allow-list: {target}")
        log.debug("%s: following JS redirect to %s", result.url, target)
        current, referer = target, result.url
    raise AssertionError("unreachable")  # pragma: no cover


async def fetch_notice(
    client: PoliteClient, url: str, bodies: BodyIndex, *, site: str | None = None
) -> Notice:
    """Fetch and parse one notice; page problems become the notice's status, never exceptions.

    ``site`` forces a parser (for mirrors and test servers whose host names no site).
    """
    name = _site(url, site)
    try:
        notice = await _fetch_and_parse(client, url, site, bodies)
    except NotFoundError as exc:
        notice = error_notice(url, name, str(exc), "not_found")
    except BlockedError as exc:
        notice = error_notice(url, name, str(exc), "blocked")
    except FetchError as exc:
        notice = error_notice(url, name, str(exc))
    # The cited URL stays the key: items link to it, a redirect target may change.
    return notice.model_copy(
        update={"url": canonical_url(url), "fetched_at": dt.datetime.now(dt.UTC)}
    )


async def fetch_notices(
    client: PoliteClient,
    urls: Iterable[str],
    bodies: BodyIndex,
    *,
    site: str | None = None,
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
    return list(await asyncio.gather(*(fetch_notice(client, u, bodies, site=site) for u in unique)))


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
