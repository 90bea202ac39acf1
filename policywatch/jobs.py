"""The jobs a parser process runs: bytes in, records out (see ``policywatch.pool``).

``init`` loads what every job needs once per process (the issuing bodies and the taxonomy of the
run's config folder); ``call`` runs one job by name, so the pool sends plain names and bytes over
its pipe rather than pickled functions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from parsers.bodies import BodyIndex
from parsers.errors import ParseError
from parsers.notices import parse_notice
from parsers.notices.base import error_notice
from parsers.notices.pdf import is_pdf
from parsers.pages import PageKind, page_details
from parsers.records import Notice
from policywatch.parsing import (
    FetchedIssue,
    document_issue,
    is_china_industries,
    load_document,
    tag_issue,
)
from policywatch.taxonomy import Taxonomy

__all__ = ["ParsedPage", "call", "init", "issue_job", "notice_job", "parse_notice_page"]

_loaded: dict[str, Any] = {}

# Content types a notice can be read from; anything else (a linked .docx, a zip) is reported.
_READABLE_TYPES = frozenset({"text/plain", "application/pdf", "application/octet-stream"})


def init(config_dir: Path | str | None) -> None:
    from policywatch.settings import Config
    from policywatch.taxonomy import load_taxonomy

    config = Config(config_dir)
    _loaded["bodies"] = config.bodies
    _loaded["taxonomy"] = load_taxonomy(config)


def _bodies() -> BodyIndex:
    bodies: BodyIndex = _loaded["bodies"]
    return bodies


def _taxonomy() -> Taxonomy:
    taxonomy: Taxonomy = _loaded["taxonomy"]
    return taxonomy


@dataclass
class ParsedPage:
    """An issue job's answer: what the page is (web pages only), and the issue if it is one."""

    kind: PageKind | None = None
    title: str | None = None
    published: date | None = None
    fetched: FetchedIssue | None = None


def issue_job(data: bytes, location: str, source: str, labelled: bool) -> ParsedPage:
    """Classify a web page (``labelled``) and parse and tag the issue in it.

    A page of another series, or with no series label, is not parsed at all.
    """
    doc = load_document(data, location, kind="pdf" if data[:5] == b"%PDF-" else None)
    page = ParsedPage(title=doc.title, published=doc.published)
    if labelled:
        if not is_china_industries(doc):  # the rare path: what else is this page?
            page.kind, page.title, page.published = page_details(data)
            if page.kind != "china-industries":
                return page
        page.kind = "china-industries"
    fetched = document_issue(doc, location, _bodies(), source)
    page.fetched = tag_issue(fetched, _taxonomy()) if fetched is not None else None
    return page


def notice_job(
    content: bytes, url: str, content_type: str | None, encoding: str | None, site: str | None
) -> Notice:
    return parse_notice_page(content, url, content_type, encoding, site, _bodies())


def parse_notice_page(
    content: bytes,
    url: str,
    content_type: str | None,
    encoding: str | None,
    site: str | None,
    bodies: BodyIndex,
) -> Notice:
    """One fetched notice page as a Notice; a page that is no notice is an ``error`` notice."""
    name = site or _site_for(url)
    kind = (content_type or "").split(";")[0].strip().lower()
    readable = kind in _READABLE_TYPES or kind.endswith(("html", "/xml", "+xml"))
    if kind and not readable and not is_pdf(content):
        return error_notice(url, name, f"not a web page or PDF ({kind}); open the file itself")
    try:
        return parse_notice(content, url, site=site, bodies=bodies, encoding=encoding)
    except ParseError as exc:
        return error_notice(url, name, str(exc))


def _site_for(url: str) -> str:
    from parsers.notices import site_for

    return site_for(url) or "generic"


JOBS: dict[str, Callable[..., Any]] = {"issue": issue_job, "notice": notice_job}


def call(job: str, *args: Any) -> Any:
    return JOBS[job](*args)
