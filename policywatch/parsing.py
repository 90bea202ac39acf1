"""The parse-and-tag steps of one issue: what the parser processes run (see ``policywatch.jobs``).

Kept apart from ``pipeline`` so that a parser process imports only the parsers, the taxonomy and
the matcher's tagging, not the state store, the HTTP client or delivery.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

from parsers.bodies import BodyIndex
from parsers.documents import load_document
from parsers.merics import parse_issue
from parsers.records import Document, Issue, Notice
from policywatch.match import tag_item
from policywatch.taxonomy import Taxonomy

__all__ = [
    "FetchedIssue",
    "document_issue",
    "is_china_industries",
    "issue_hash",
    "load_document",
    "parse_issue_bytes",
    "tag_issue",
    "tag_with_notices",
]


@dataclass
class FetchedIssue:
    """One issue read and parsed, with the hash that tells a re-published copy from a revision."""

    source: str
    url: str
    issue: Issue
    content_hash: str

    @property
    def issue_id(self) -> str:
        return self.issue.issue.url or self.url

    @property
    def title(self) -> str:
        return self.issue.issue.title or self.url


def issue_hash(issue: Issue) -> str:
    data = issue.model_dump(mode="json", exclude={"issue": {"url"}})
    text = json.dumps(data, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def parse_issue_bytes(
    data: bytes, url: str, bodies: BodyIndex, *, source: str = "", kind: str | None = None
) -> FetchedIssue | None:
    """Parse one issue; ``None`` when the page belongs to another series (China Essentials...)."""
    return document_issue(load_document(data, url, kind=_kind(data, kind)), url, bodies, source)


def _kind(data: bytes, kind: str | None) -> str | None:
    return "pdf" if kind is None and data[:5] == b"%PDF-" else kind


def is_china_industries(doc: Document) -> bool:
    return bool(doc.series and "china industries" in doc.series.lower())


def document_issue(doc: Document, url: str, bodies: BodyIndex, source: str) -> FetchedIssue | None:
    """The issue in a loaded document; ``None`` for another series or a page without items."""
    if doc.series and not is_china_industries(doc):
        return None
    issue = parse_issue(doc, bodies, url=url)
    if not issue.items:
        return None
    return FetchedIssue(source=source, url=url, issue=issue, content_hash=issue_hash(issue))


def tag_issue(fetched: FetchedIssue, taxonomy: Taxonomy) -> FetchedIssue:
    """Fill each item's sectors and companies from the taxonomy (before hashing for the diff)."""
    items = [tag_item(i, taxonomy) for i in fetched.issue.items]
    issue = fetched.issue.model_copy(update={"items": items})
    return FetchedIssue(fetched.source, fetched.url, issue, issue_hash(issue))


def tag_with_notices(
    fetched: FetchedIssue,
    notices: Sequence[Notice],
    links: dict[str, list[str]],
    taxonomy: Taxonomy,
) -> FetchedIssue:
    """Add the sectors and companies named in each item's readable notices.

    The content hash stays: tags are derived data, and the hash must still say whether the
    issue itself changed (notices are fetched after that check).
    """
    readable = {n.url: n for n in notices if n.status == "ok"}
    items = [
        tag_item(item, taxonomy, [readable[u] for u in links.get(item.id, ()) if u in readable])
        for item in fetched.issue.items
    ]
    issue = fetched.issue.model_copy(update={"items": items})
    return FetchedIssue(fetched.source, fetched.url, issue, fetched.content_hash)
