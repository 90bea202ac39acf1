"""The MERICS web source: the RSS feed (conditional GET) and the listing of MERICS Briefs.

Listing only: ``list_candidates`` reads the feed (and the listing when the feed fails, for a
backfill, or when there is no feed) and returns the unseen issue links plus the pending ones that
are due. Fetching a candidate page and deciding what it is (``classify_page``) is the issue
step's work, so a run fetches notices of the first issue while later issue pages still load.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

from bs4 import BeautifulSoup, Tag
from lxml import etree

from parsers.pages import PageKind, classify_page, page_date, page_details
from policywatch.errors import ConfigError, FetchError
from policywatch.http import FetchResult, PoliteClient
from policywatch.settings import SourceSettings
from policywatch.sources.base import Candidate, SourceState, Verdict, due

__all__ = [
    "accept_pages",
    "canonical_merics_url",
    "is_china_industries",
    "judge",
    "list_candidates",
    "page_url",
    "verdict_for",
]

log = logging.getLogger(__name__)

MERICS_HOSTS = frozenset(
    {"merics.org", "www.merics.org", "blog.merics.org", "new.merics.org", "jeans.merics.org"}
)
ISSUE_PREFIXES = ("/en/merics-briefs/", "/en/briefing/")
CANONICAL_ORIGIN = "https://merics.org"
_ROW_DEPTH = 6  # how far up from a listing link its row may be


# -- MERICS ------------------------------------------------------------------------------------


def canonical_merics_url(
    url: str, base: str | None = None, *, extra_host: str | None = None
) -> str | None:
    """``https://merics.org/en/...`` for an issue link on any MERICS host, else None.

    ``/de/`` pages serve the same English text, so they map to ``/en/`` (SITES §1.1).
    """
    parts = urlsplit(urljoin(base or CANONICAL_ORIGIN + "/", url.strip()))
    host = (parts.hostname or "").lower()
    if host not in MERICS_HOSTS and parts.netloc != extra_host:
        return None
    path = parts.path
    if path.startswith("/de/"):
        path = "/en/" + path[len("/de/") :]
    path = path.rstrip("/")
    if not any(path.startswith(p) and len(path) > len(p) for p in ISSUE_PREFIXES):
        return None
    return CANONICAL_ORIGIN + path


async def list_candidates(
    source: SourceSettings,
    client: PoliteClient,
    state: SourceState,
    since: date | None,
    now: datetime | None = None,
) -> list[Candidate]:
    """Unseen issue links of the feed (and listing), then the due pending ones.

    Updates ``state``'s validators in place; raises FetchError when the source is unreachable.
    """
    origin = _site_origin(source)
    links: dict[str, date | None] = {}
    feed_failed: FetchError | None = None
    if source.feed_url:
        try:
            links.update(await _read_feed(source.feed_url, client, state, origin))
        except FetchError as exc:
            feed_failed = exc
    if source.listing_url and (feed_failed or since or not source.feed_url):
        for key, day in (await _listing(source, client, origin, since, feed_failed)).items():
            if links.get(key) is None:
                links[key] = day
    elif feed_failed:
        raise feed_failed  # no listing to fall back on: the source was not reachable
    seen = set(state.seen)
    found = {
        key: Candidate(source.name, key, None, None, key, published=day, labelled=True)
        for key, day in links.items()
        if key not in seen and key not in state.pending and not (since and day and day < since)
    }
    for key, pending in due(state, now or datetime.now(UTC), everything=since is not None).items():
        found.setdefault(key, Candidate(
            source.name, key, None, None, key, title=pending.title,
            published=pending.published, labelled=True,
        ))  # fmt: skip
    return list(found.values())


async def _listing(
    source: SourceSettings,
    client: PoliteClient,
    origin: str,
    since: date | None,
    feed_failed: FetchError | None,
) -> dict[str, date | None]:
    """The listing's links; when it stands in for a failed feed, one warning says so (and a
    failing listing names the feed's failure too: the caller logs the source's one line)."""
    try:
        found = await _read_listing(source, client, origin, since)
    except FetchError as exc:
        if feed_failed is None:
            raise
        reason = f"{exc.reason}; the feed failed too ({feed_failed})"
        raise FetchError(exc.url, reason, status=exc.status, attempts=exc.attempts) from exc
    if feed_failed is not None:
        log.warning("feed of %s failed (%s); read the listing instead", source.name, feed_failed)
    return found


def page_url(source: SourceSettings, key: str) -> str:
    """Where a candidate is fetched from: its canonical path on the feed's origin (a loopback
    copy in tests)."""
    return _site_origin(source) + urlsplit(key).path


async def accept_pages(
    source: SourceSettings, client: PoliteClient, candidates: list[Candidate], since: date | None
) -> dict[str, tuple[Verdict, Candidate, str]]:
    """Fetch and classify candidate pages (the ``discover`` command's view of a run's first
    step); the accepted candidates carry their page bytes, title and date."""

    async def one(candidate: Candidate) -> tuple[Verdict, Candidate, str]:
        try:
            result = await client.get(page_url(source, candidate.key))
        except FetchError as exc:
            log.warning("candidate page failed: %s", exc)
            return "failed", candidate, str(exc)
        return judge(candidate, result, since)

    verdicts = await asyncio.gather(*(one(c) for c in candidates))
    return {c.key: v for c, v in zip(candidates, verdicts, strict=True)}


def judge(
    candidate: Candidate, result: FetchResult, since: date | None
) -> tuple[Verdict, Candidate, str]:
    """What a fetched candidate page is, and the candidate with its bytes, title and date."""
    kind, title, published = page_details(result.content)
    return verdict_for(candidate, kind, title, published, result, since)


def is_china_industries(content: bytes | str) -> bool:
    """Whether the page's own text (not its menus) carries the China Industries series label."""
    return classify_page(content) == "china-industries"


def verdict_for(
    candidate: Candidate,
    kind: PageKind,
    title: str | None,
    published: date | None,
    result: FetchResult | None,
    since: date | None,
) -> tuple[Verdict, Candidate, str]:
    """The source-state verdict for a classified page (``result``: its fetch, if fetched now)."""
    if kind == "other-series":
        log.info("not a China Industries issue, skipped: %s", candidate.key)
        return "out_of_scope", candidate, "another MERICS series"
    if kind == "unrecognised":
        reason = "the page carries no series label (maintenance or error page?)"
        log.warning("%s: %s; trying again later", candidate.key, reason)
        return "unrecognised", candidate, reason
    accepted = Candidate(
        source=candidate.source, url=candidate.key, path=None,
        content=result.content if result else candidate.content, key=candidate.key,
        title=title or candidate.title, published=published or candidate.published,
        content_type=result.content_type if result else candidate.content_type, labelled=True,
    )  # fmt: skip
    if since and accepted.published and accepted.published < since:
        return "later", accepted, "published before --since"
    return "done", accepted, ""


def _site_origin(source: SourceSettings) -> str:
    """Where pages are fetched from: the origin of the feed (a loopback copy in tests)."""
    url = source.feed_url or source.listing_url
    if not url:
        raise ConfigError(f"source '{source.name}': set feed_url or listing_url")
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


async def _read_feed(
    url: str, client: PoliteClient, state: SourceState, origin: str
) -> dict[str, date | None]:
    result = await client.get(url, etag=state.etag, last_modified=state.last_modified)
    links = {} if result.not_modified else _feed_links(result.content, result.url, origin)
    state.etag, state.last_modified = result.etag, result.last_modified
    return links


def _feed_links(content: bytes, url: str, origin: str) -> dict[str, date | None]:
    """Issue links and dates from an RSS 2.0 or Atom feed (entities and network disabled)."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, recover=True)
    try:
        root = etree.fromstring(content, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise FetchError(url, f"feed is not XML ({exc})") from None
    if root is None or not root.tag.endswith(("rss", "feed", "RDF")):
        raise FetchError(url, "feed is not RSS or Atom")
    cut = [e for e in parser.error_log if e.type == etree.ErrorTypes.ERR_TAG_NOT_FINISHED]
    if cut:  # recover=True would list the items before the cut and nothing would say so
        raise FetchError(url, f"feed is cut off ({cut[0].message})")
    links: dict[str, date | None] = {}
    for item in root.iter("{*}item", "{*}entry"):
        href = _child_text(item, "link") or _atom_href(item)
        key = canonical_merics_url(href or "", origin + "/", extra_host=urlsplit(origin).netloc)
        if key and key not in links:
            links[key] = _rfc822_date(_child_text(item, "pubDate") or _child_text(item, "updated"))
    return links


def _child_text(item: etree._Element, name: str) -> str | None:
    child = item.find("{*}" + name)
    return child.text.strip() if child is not None and child.text else None


def _atom_href(item: etree._Element) -> str | None:
    child = item.find("{*}link")
    return child.get("href") if child is not None else None


def _rfc822_date(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return parsedate_to_datetime(value).date()
    except (TypeError, ValueError):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).date()
        except ValueError:
            return None


async def _read_listing(
    source: SourceSettings, client: PoliteClient, origin: str, since: date | None
) -> dict[str, date | None]:
    """Issue links and their listed dates from the listing pages (SITES §1.3).

    Pages are ``&page=N`` from the second on. Reading stops at a page with no new link, or, when
    ``since`` bounds a backfill, at a page whose dated links are all older than ``since`` (the
    listing is sorted by publication date, newest first).
    """
    assert source.listing_url is not None
    links: dict[str, date | None] = {}
    extra = urlsplit(origin).netloc
    for page in range(source.listing_pages):
        url = source.listing_url if page == 0 else _with_page(source.listing_url, page)
        result = await client.get(url)
        found = _listing_links(result.text, result.url, extra)
        fresh = {key: day for key, day in found.items() if key not in links}
        links.update(fresh)
        if not fresh:
            break
        days = [day for day in fresh.values() if day is not None]
        if since and days and max(days) < since:
            break
    return links


def _listing_links(html: str, url: str, extra_host: str) -> dict[str, date | None]:
    links: dict[str, date | None] = {}
    for anchor in BeautifulSoup(html, "lxml").find_all("a", href=True):
        key = canonical_merics_url(str(anchor["href"]), url, extra_host=extra_host)
        if key and key not in links:
            links[key] = _row_date(anchor, url, extra_host)
    return links


def _row_date(anchor: Tag, url: str, extra_host: str) -> date | None:
    """The date printed in the listing row of ``anchor`` (a Drupal ``.views-row``, an
    ``article`` or a list item), or None when the row holds no date or several issues."""
    for depth, row in enumerate(anchor.parents):
        if depth >= _ROW_DEPTH or row.name in ("main", "body", "html", "[document]"):
            return None
        classes = " ".join(str(c) for c in row.get_attribute_list("class") if c)
        if row.name in ("article", "li", "tr") or "views-row" in classes:
            break
    else:
        return None
    issues = {
        canonical_merics_url(str(a["href"]), url, extra_host=extra_host)
        for a in row.find_all("a", href=True)
    }
    issues.discard(None)
    return page_date(row) if len(issues) == 1 else None


def _with_page(url: str, page: int) -> str:
    return f"{url}{'&' if '?' in url else '?'}page={page}"
