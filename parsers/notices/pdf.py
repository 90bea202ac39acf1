"""Notices linked as a PDF file rather than a page (NDRC and MOF often link the PDF itself).

There is no markup to select from, so the fields come from the text: title = first line,
issuer and date from the signature block at the end, 文号 by the usual search order.
"""

from __future__ import annotations

from parsers.bodies import BodyIndex
from parsers.documents import load_document
from parsers.errors import ParseError
from parsers.notices import common
from parsers.notices.base import PARSERS, error_notice
from parsers.notices.issuers import all_issuers, lead_body, title_issuer_part
from parsers.records import Notice
from parsers.text import squash

SIGNATURE_CHARS = 200  # the issuer and the date are signed at the very end
_PLACEHOLDER_TITLES = {"", "untitled", "microsoft word", "无标题"}


def is_pdf(data: bytes) -> bool:
    return data[:1024].lstrip().startswith(b"%PDF")


def _title(meta_title: str | None, lines: list[str]) -> str | None:
    title = squash(meta_title or "")
    if title.lower() in _PLACEHOLDER_TITLES or title.lower().endswith((".doc", ".docx", ".wps")):
        title = ""
    return title or next(iter(lines), None)


def pdf_notice(data: bytes, url: str, site: str, bodies: BodyIndex) -> Notice:
    """A Notice from a PDF's text; a PDF without text (a scan) is an error, not an empty notice."""
    try:
        doc = load_document(data, url, kind="pdf")
    except ParseError as exc:
        return error_notice(url, site, f"{site}: unreadable PDF ({exc.expected})")
    lines = [squash(line) for line in doc.text.splitlines() if squash(line)]
    text = "\n".join(lines)
    title = _title(doc.title, lines)
    if not text or not title:
        return error_notice(url, site, f"{site}: PDF has no text layer (a scan?)")
    tail = text[-SIGNATURE_CHARS:]
    parser = PARSERS.get(site)
    issuer = lead_body(bodies, title_issuer_part(title)) or lead_body(bodies, tail)
    issuer = issuer or (parser.default_body if parser else None)
    number = common.doc_number_from(None, title, text)
    return Notice(
        url=common.canonical_url(url),
        site=site,
        title=title,
        issuing_body=issuer,
        issuing_bodies=all_issuers(bodies, issuer, (title_issuer_part(title), number), text),
        doc_number=number,
        published=common.parse_cn_date(tail) or common.parse_cn_date(text),
        body_text=text,
        content_hash=common.content_hash(text),
    )
