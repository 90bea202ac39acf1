"""Discover new issues: the MERICS web source (feed, listing) and a folder of saved issues.

``discover`` is a pure step over a source's stored state: it returns the candidates and the new
state, and the caller persists that state once the candidates are processed (so a crash in
between means the issues are discovered again, not lost).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import mimetypes
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from bs4 import BeautifulSoup, Tag
from lxml import etree
from pydantic import BaseModel, Field

from policywatch.errors import ConfigError, FetchError
from policywatch.http import FetchResult, PoliteClient
from policywatch.settings import SourceSettings

__all__ = [
    "Candidate",
    "SourceState",
    "canonical_merics_url",
    "discover",
    "is_china_industries",
]

log = logging.getLogger(__name__)

MERICS_HOSTS = frozenset(
    {"merics.org", "www.merics.org", "blog.merics.org", "new.merics.org", "jeans.merics.org"}
)
ISSUE_PREFIXES = ("/en/merics-briefs/", "/en/briefing/")
CANONICAL_ORIGIN = "https://merics.org"
SERIES_LABEL = "merics china industries"
FOLDER_SUFFIXES = frozenset({".pdf", ".html", ".htm", ".txt", ".md"})
_DATE_TEXT = re.compile(r"\b([A-Z][a-z]{2,8})\.? (\d{1,2}), (\d{4})\b")
_ROW_DEPTH = 6  # how far up from a listing link its row may be
_FURNITURE = ("nav", "header", "footer", "aside", "script", "style", "noscript", "form")


class SourceState(BaseModel):
    """What a source remembers between runs (saved as JSON by the state store)."""

    etag: str | None = None
    last_modified: str | None = None
    seen: list[str] = Field(default_factory=list, description="keys already examined")
    last_ok: datetime | None = None
    consecutive_failures: int = 0
    last_error: str | None = None


@dataclass
class Candidate:
    """A possible new issue; ``content`` holds the bytes already fetched, so nothing is fetched twice."""

    source: str
    url: str | None
    path: Path | None
    content: bytes | None
    key: str
    title: str | None = None
    published: date | None = None
    content_type: str | None = None


async def discover(
    source: SourceSettings,
    client: PoliteClient,
    state: SourceState,
    *,
    since: date | None = None,
    root: Path,
) -> tuple[list[Candidate], SourceState]:
    """New candidates of one source and its updated state (failures are recorded, not raised)."""
    new_state = state.model_copy(deep=True)
    if source.type == "imap":  # a mailbox is read by policywatch.mailbox.fetch_new, not here
        return [], new_state
    try:
        if source.type == "folder":
            found = await _discover_folder(source, new_state, since, root)
        else:
            found = await _discover_merics(source, client, new_state, since)
    except (FetchError, ConfigError, OSError) as exc:
        log.warning("source %s failed: %s", source.name, exc)
        new_state.consecutive_failures += 1
        new_state.last_error = str(exc)
        return [], new_state
    new_state.consecutive_failures = 0
    new_state.last_ok = datetime.now(UTC)
    return found, new_state


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


def is_china_industries(content: bytes | str) -> bool:
    """Whether the page's own text (not its menus) carries the China Industries series label."""
    soup = BeautifulSoup(content, "lxml")
    for tag in soup.find_all(_FURNITURE):
        tag.decompose()
    scope = soup.find("main") or soup.find("article") or soup.body or soup
    text = " ".join(scope.get_text(" ").split()).lower()
    title = soup.title.get_text(" ") if soup.title else ""
    return SERIES_LABEL in text or "china industries briefing" in title.lower()


async def _discover_merics(
    source: SourceSettings, client: PoliteClient, state: SourceState, since: date | None
) -> list[Candidate]:
    origin = _site_origin(source)
    links: dict[str, date | None] = {}
    feed_failed: FetchError | None = None
    if source.feed_url:
        try:
            links.update(await _read_feed(source.feed_url, client, state, origin))
        except FetchError as exc:
            log.warning("feed of %s failed (%s); reading the listing instead", source.name, exc)
            feed_failed = exc
    if source.listing_url and (feed_failed or since or not source.feed_url):
        for key, day in (await _read_listing(source, client, origin, since)).items():
            if links.get(key) is None:
                links[key] = day
    elif feed_failed:
        raise feed_failed  # no listing to fall back on: the source was not reachable
    seen = set(state.seen)
    fresh = {
        key: day
        for key, day in links.items()
        if key not in seen and not (since and day and day < since)
    }
    return await _accept_pages(source, client, state, fresh, origin, since)


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
    return _page_date(row) if len(issues) == 1 else None


def _with_page(url: str, page: int) -> str:
    return f"{url}{'&' if '?' in url else '?'}page={page}"


async def _accept_pages(
    source: SourceSettings,
    client: PoliteClient,
    state: SourceState,
    links: dict[str, date | None],
    origin: str,
    since: date | None,
) -> list[Candidate]:
    keys = list(links)
    results = await asyncio.gather(*(_fetch_page(client, origin + urlsplit(k).path) for k in keys))
    found: list[Candidate] = []
    for key, result in zip(keys, results, strict=True):
        if isinstance(result, FetchError):
            # Forget the feed's validators so that the next run reads the feed and retries it.
            state.last_error = str(result)
            state.etag, state.last_modified = None, None
            continue
        if not is_china_industries(result.content):
            log.info("not a China Industries issue, skipped: %s", key)
            state.seen.append(key)
            continue
        candidate = _page_candidate(source.name, key, result, links[key])
        if since and candidate.published and candidate.published < since:
            continue  # not marked seen: a later backfill reaching further back must find it
        state.seen.append(key)
        found.append(candidate)
    return found


async def _fetch_page(client: PoliteClient, url: str) -> FetchResult | FetchError:
    try:
        return await client.get(url)
    except FetchError as exc:
        log.warning("candidate page failed: %s", exc)
        return exc


def _page_candidate(name: str, key: str, result: FetchResult, day: date | None) -> Candidate:
    soup = BeautifulSoup(result.text, "lxml")
    return Candidate(
        source=name,
        url=key,
        path=None,
        content=result.content,
        key=key,
        title=_page_title(soup),
        published=_page_date(soup) or day,
        content_type=result.content_type,
    )


def _page_title(soup: BeautifulSoup) -> str | None:
    for tag in (soup.find("h1"), soup.find("title")):
        if tag is not None and tag.get_text(strip=True):
            return " ".join(tag.get_text(" ").split())
    return None


def _page_date(soup: BeautifulSoup | Tag) -> date | None:
    """``time@datetime`` first, then a ``Mon D, YYYY`` text (SITES §1.4)."""
    time_tag = soup.find("time", attrs={"datetime": True})
    if time_tag is not None:
        try:
            return datetime.fromisoformat(str(time_tag["datetime"]).replace("Z", "+00:00")).date()
        except ValueError:
            pass
    for match in _DATE_TEXT.finditer(soup.get_text(" ")):
        for fmt in ("%b %d %Y", "%B %d %Y"):
            try:
                month = match.group(1).replace("Sept", "Sep")
                return datetime.strptime(f"{month} {match[2]} {match[3]}", fmt).date()
            except ValueError:
                continue
    return None


# -- folder ------------------------------------------------------------------------------------


async def _discover_folder(
    source: SourceSettings, state: SourceState, since: date | None, root: Path
) -> list[Candidate]:
    return await asyncio.to_thread(_scan_folder, source, state, since, root)


def _folder_of(source: SourceSettings, root: Path) -> Path:
    if not source.path:
        raise ConfigError(f"source '{source.name}': a folder source needs 'path'")
    folder = Path(source.path).expanduser()
    folder = folder if folder.is_absolute() else root / folder
    if not folder.is_dir():
        raise ConfigError(
            f"source '{source.name}': folder {folder} does not exist",
            hint="create it or fix 'path' in config/policywatch.yaml",
        )
    return folder


def _scan_folder(
    source: SourceSettings, state: SourceState, since: date | None, root: Path
) -> list[Candidate]:
    folder = _folder_of(source, root)
    name = source.name
    seen = set(state.seen)
    found: list[Candidate] = []
    for path in sorted(folder.rglob("*")):
        if not _is_issue_file(path, folder):
            continue
        try:
            modified = datetime.fromtimestamp(path.stat().st_mtime, UTC).date()
            if since and modified < since:
                continue
            content = path.read_bytes()
        except OSError as exc:  # one unreadable file must not hide the others
            log.warning("source %s: cannot read %s (%s); skipped", name, path, exc)
            continue
        if not content.strip():  # empty, or still being written: wait for its content
            continue
        key = "sha256:" + hashlib.sha256(content).hexdigest()
        if key in seen:
            continue
        seen.add(key)
        state.seen.append(key)
        found.append(
            Candidate(
                source=name, url=None, path=path, content=content, key=key,
                title=path.stem, published=None,
                content_type=mimetypes.guess_type(path.name)[0] or "text/plain",
            )
        )  # fmt: skip
    return found


def _is_issue_file(path: Path, folder: Path) -> bool:
    hidden = any(part.startswith(".") for part in path.relative_to(folder).parts)
    return path.is_file() and not hidden and path.suffix.lower() in FOLDER_SUFFIXES
