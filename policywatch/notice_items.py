"""A ministry notice read from its own list page, as an alertable item (section ``notice``).

Its id derives from the document's identity (DESIGN 3.6: issuing body + normalised 文号, else
the canonical URL), so the same document listed on gov.cn's policy library and on its ministry's
site is one item, and a MERICS story citing it can be recognised as commentary on it.
"""

from __future__ import annotations

from parsers.identity import document_identity, family_key, is_draft
from parsers.records import Issue, IssueMeta, Link, Notice, Policy, PolicyItem
from parsers.text import fingerprint

__all__ = ["SUMMARY_CHARS", "identity_of", "notice_issue", "notice_item", "notice_item_id"]

SUMMARY_CHARS = 240


def identity_of(notice: Notice) -> str:
    return document_identity(notice.issuing_body, notice.doc_number, notice.url)


def notice_item_id(identity: str) -> str:
    return fingerprint("notice", identity)


def _summary(body: str) -> str:
    """The first paragraph after the 文号 line and the salutation, cut to a readable length."""
    lines = [line.strip() for line in body.splitlines() if line.strip()]
    text = next((line for line in lines if len(line) > 30), lines[0] if lines else "")
    return text if len(text) <= SUMMARY_CHARS else text[:SUMMARY_CHARS].rstrip() + "…"


def notice_item(notice: Notice) -> PolicyItem:
    """The item that alerts on ``notice`` (which must be readable, status ``ok``)."""
    bodies = notice.issuing_bodies or ([notice.issuing_body] if notice.issuing_body else [])
    title = notice.title or notice.url
    links = [Link(text=notice.doc_number or "notice", url=notice.url)]
    links += [Link(text=a.name, url=a.url) for a in notice.attachments]
    return PolicyItem(
        id=notice_item_id(identity_of(notice)), section="notice", position=1,
        headline=title, date=notice.published, summary=_summary(notice.body_text),
        policy=Policy(title_zh=title, issuing_bodies=bodies, date=notice.published),
        links=links, text=notice.body_text,
    )  # fmt: skip


def notice_issue(notice: Notice, site_label: str) -> Issue:
    """The one-item "issue" a notice is recorded under (its canonical URL is its id)."""
    meta = IssueMeta(
        series=site_label, title=notice.title, published=notice.published, url=notice.url
    )
    return Issue(issue=meta, items=[notice_item(notice)])


def family_of(notice: Notice) -> str:
    """Draft and final versions of one document share this key (issuer + title stem)."""
    return family_key(notice.issuing_body, notice.title or "")


def draft(notice: Notice) -> bool:
    return is_draft(notice.title or "")
