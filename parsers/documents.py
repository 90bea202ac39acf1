"""Bytes in, ``Document`` out: HTML pages, PDFs and text/Markdown reduced to plain text + links.

Every later stage reads only ``Document.text`` (one block per line, a blank line between blocks)
and ``Document.links``; this keeps the issue parser independent of the format an issue came in.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from parsers.charset import decode_document as decode
from parsers.errors import ParseError
from parsers.records import Document, Link
from parsers.text import SERIES_LABEL, parse_date, squash

__all__ = [
    "html_to_document",
    "load_document",
    "markdown_links",
    "parse_date",
    "pdf_to_document",
    "text_to_document",
]

_HTML_SNIFF = re.compile(rb"<\s*(!doctype\s+html|html|head|body|article|main|div|p)[\s>]", re.I)


# ----------------------------------------------------------------------------------- sniffing


def load_document(data: bytes, source: str, *, kind: str | None = None) -> Document:
    """Read ``data`` as HTML, PDF or text, chosen by ``kind`` or sniffed from content and name."""
    if not data or not data.strip():
        raise ParseError(source, "expected an HTML page, a PDF or text, got an empty file")
    kind = kind or _sniff(data, source)
    if kind == "pdf":
        from parsers.documents_pdf import pdf_to_document

        return pdf_to_document(data, source)
    if kind == "html":
        return html_to_document(data, source)
    if kind == "text":
        return text_to_document(data, source)
    raise ParseError(source, f"unknown document kind {kind!r} (expected html, pdf or text)")


def _sniff(data: bytes, source: str) -> str:
    name = urlsplit(source).path.lower() if "://" in source else source.lower()
    if data[:1024].lstrip().startswith(b"%PDF") or name.endswith(".pdf"):
        return "pdf"
    if name.endswith((".html", ".htm", ".xhtml")) or _HTML_SNIFF.search(data[:2048]):
        return "html"
    return "text"


def pdf_to_document(data: bytes, source: str) -> Document:
    """See ``parsers.documents_pdf`` (kept apart: PDF layout needs its own helpers)."""
    from parsers.documents_pdf import pdf_to_document as convert

    return convert(data, source)


# --------------------------------------------------------------------------------------- text

_MD_LINK = re.compile(r"!?\[([^\]\n]*)\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
# A backslash escape ("\(" in "[SAMR notice \(CN\)](...)"): the character is hidden in a
# private-use code point while the markup is read, then shown as itself.
_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")
_HIDDEN = 0x10FC00
_SHOW = {_HIDDEN + c: chr(c) for c in range(0x21, 0x7F)}
_AUTOLINK = re.compile(r"<(https?://[^>\s]+)>")
_BARE_URL = re.compile(r"(?<![\w(\[<\"'=/])https?://[^\s<>\"')\]]+[^\s<>\"')\].,;:!?]")
_UNDERLINE = re.compile(r"</?u>", re.I)
_BOLD = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_ITALIC = re.compile(r"(?<![\w*])\*(?=[^\s*])([^*\n]+?)(?<=[^\s*])\*(?![\w*])")
_HEADING = re.compile(r"^#{1,6}\s+")


def markdown_links(line: str) -> tuple[str, list[tuple[str, str]]]:
    """Reduce one line's Markdown to plain text; return it with its (text, url) links."""
    if "\\" in line:
        line = _ESCAPED.sub(lambda m: chr(_HIDDEN + ord(m.group(1))), line)
        plain, found = _markdown_links(line)
        return plain.translate(_SHOW), [(t.translate(_SHOW), u.translate(_SHOW)) for t, u in found]
    return _markdown_links(line)


def _markdown_links(line: str) -> tuple[str, list[tuple[str, str]]]:
    links: list[tuple[int, str, str]] = []
    out: list[str] = []
    pos = 0
    for m in _MD_LINK.finditer(line):
        out.append(line[pos : m.start()])
        text = _inline(m.group(1)) or m.group(2)
        links.append((m.start(), text, m.group(2)))
        out.append(text)
        pos = m.end()
    out.append(line[pos:])
    plain = _AUTOLINK.sub(lambda m: m.group(1), "".join(out))
    bare = [(m.group(0), m.group(0)) for m in _BARE_URL.finditer(plain)]
    return _inline(plain), [(t, u) for _, t, u in links] + bare


def _inline(text: str) -> str:
    text = _UNDERLINE.sub("", text)
    text = _BOLD.sub(r"\2", text)
    return _ITALIC.sub(r"\1", text)


def text_to_document(data: bytes | str, source: str) -> Document:
    """Plain text or Markdown: one paragraph per line stays so; markup becomes text + links."""
    raw = data if isinstance(data, str) else decode(data, source)
    lines: list[str] = []
    links: list[Link] = []
    title: str | None = None
    for line in raw.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        plain, found = markdown_links(line.rstrip())
        if _HEADING.match(plain):
            plain = _HEADING.sub("", plain)
            title = title or squash(plain)
        lines.append(plain if plain.strip() else "")
        context = squash(plain)
        links.extend(Link(text=squash(t), url=u, context=context) for t, u in found)
    text = "\n".join(lines).strip("\n")
    if not text.strip():
        raise ParseError(source, "expected text, got only whitespace")
    series = SERIES_LABEL if SERIES_LABEL.lower() in text[:2000].lower() else None
    return Document(source=source, kind="text", text=text, links=links, title=title, series=series)


# --------------------------------------------------------------------------------------- HTML


def html_to_document(data: bytes | str, source: str) -> Document:
    """An article page: see ``parsers.documents_html`` (loaded only when a page is HTML)."""
    from parsers.documents_html import html_to_document as convert

    return convert(data, source)
