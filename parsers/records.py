"""Typed records that parsers produce and the rest of policywatch passes around.

They follow the JSON contracts of DESIGN 3.1 (issues and items) and 3.2 (notices); ``model_dump
(mode="json")`` gives exactly the contract's shape.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Section = Literal["top", "policy_news", "corporate_news", "notice"]
NoticeStatus = Literal["ok", "not_found", "blocked", "error", "gave_up"]


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Link(Record):
    """A hyperlink found in a document; ``context`` is the paragraph it sits in."""

    text: str
    url: str
    context: str = Field(default="", exclude=True)


class Document(Record):
    """What ``parsers.documents`` makes of HTML, PDF or text: plain text with its links.

    ``text`` keeps block structure: one paragraph, heading or list entry per line, blank lines
    between blocks.
    """

    source: str
    kind: Literal["html", "pdf", "text"]
    text: str
    links: list[Link] = Field(default_factory=list)
    title: str | None = None
    published: dt.date | None = None
    series: str | None = None
    authors: list[str] = Field(default_factory=list)
    url: str | None = None  # the page's canonical URL when it names one (saved HTML pages)


class Period(Record):
    start: dt.date
    end: dt.date


class IssueMeta(Record):
    series: str = "MERICS China Industries"
    title: str | None = None
    published: dt.date | None = None
    period: Period | None = None
    url: str | None = None
    authors: list[str] = Field(default_factory=list)


class Policy(Record):
    """The document a top story cites."""

    title_en: str | None = None
    title_zh: str | None = None
    issuing_bodies: list[str] = Field(default_factory=list)
    date: dt.date | None = None


class PolicyItem(Record):
    id: str
    section: Section
    position: int
    headline: str
    date: dt.date | None = None
    summary: str | None = None
    goals: list[str] = Field(default_factory=list)
    comment: str | None = None
    policy: Policy | None = None
    links: list[Link] = Field(default_factory=list)
    sectors: list[str] = Field(default_factory=list)
    companies: list[str] = Field(default_factory=list)
    text: str = ""


class Issue(Record):
    issue: IssueMeta
    items: list[PolicyItem] = Field(default_factory=list)


class Attachment(Record):
    name: str
    url: str


class Notice(Record):
    """A ministry notice (DESIGN 3.2). ``status`` other than ``ok`` carries ``error``.

    ``issuing_body`` is the lead (first-named) issuer; ``issuing_bodies`` lists every issuer of
    a joint document, the lead first (empty when no issuer is known).
    """

    url: str
    site: str
    status: NoticeStatus = "ok"
    title: str | None = None
    issuing_body: str | None = None
    issuing_bodies: list[str] = Field(default_factory=list)
    doc_number: str | None = None
    published: dt.date | None = None
    body_text: str = ""
    attachments: list[Attachment] = Field(default_factory=list)
    content_hash: str | None = None
    fetched_at: dt.datetime | None = None
    error: str | None = None
