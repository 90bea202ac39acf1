"""PDF to ``Document``: text lines rebuilt from positioned fragments, URI links kept.

pypdf's plain ``extract_text`` loses where a paragraph ends and which words a link covers, so
the text is rebuilt from the fragments pypdf reports with their positions: fragments on one
baseline make a line, a wider vertical gap ends a paragraph, and a link annotation's rectangle
selects the fragments under it.
"""

from __future__ import annotations

import io
import itertools
import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from pypdf import PdfReader
from pypdf.errors import LimitReachedError, PdfReadError, PyPdfError

from parsers.errors import ParseError
from parsers.records import Document, Link
from parsers.text import MONTH_RE, SERIES_LABEL, join_wrapped, squash, vocabulary

__all__ = ["pdf_to_document"]

_BULLET_START = re.compile(r"^(?:[-•·▪●◦*\x7f\uf000-\uf8ff]|\d{1,2}\.\s|[ЗЗ]\.\s)")
_DATED_ENTRY = re.compile(
    rf"^[*_]*(?:{MONTH_RE}\s+\d{{1,2}}|\d{{1,2}}(?:st|nd|rd|th)?\.?\s+{MONTH_RE})[*_]*[:：]", re.I
)
# Helvetica advance widths (Adobe AFM, 1/1000 em) for " " .. "~": PDFs may use the standard
# fonts without a /Widths array.
_HELVETICA = (
    *(278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278),
    *(556,) * 10,
    *(278, 278, 584, 584, 584, 556, 1015),
    *(667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833),
    *(722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611),
    *(278, 278, 278, 469, 556, 333),
    *(556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833),
    *(556, 556, 556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500),
    *(334, 260, 334, 584),
)
# Titles that PDF producers fill in by themselves: "(anonymous)", "untitled", a file name.
_PLACEHOLDER_TITLE = re.compile(
    r"^\(?(?:anonymous|untitled|unspecified|no title|title|document\d*)\)?$|"
    r"^Microsoft (?:Word|PowerPoint) - |\.(?:docx?|pdf|pptx?|odt|indd|html?|txt)$",
    re.I,
)
_PAGE_NUMBER = re.compile(r"^(?:page\s+)?\d{1,3}(?:\s*(?:/|of)\s*\d{1,3})?$", re.I)


@dataclass
class _Frag:
    x: float
    y: float
    text: str
    size: float
    widths: dict[int, float] | None = None


@dataclass
class _Line:
    y: float
    size: float
    frags: list[_Frag] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(f.text for f in sorted(self.frags, key=lambda f: f.x))


@dataclass
class _PageLinks:
    rects: list[tuple[tuple[float, float, float, float], str]]


def pdf_to_document(data: bytes, source: str) -> Document:
    """Text with paragraphs and the URI links of every page; errors name the file."""
    reader = _open(data, source)
    pages: list[list[_Line]] = []
    page_links: list[list[tuple[str, str, int]]] = []
    for page in reader.pages:
        lines = _page_lines(page, source)
        pages.append(lines)
        page_links.append(_links_on_page(page, lines))
    furniture = _running_lines(pages)
    vocab = vocabulary("\n".join(ln.text for lines in pages for ln in lines))
    blocks: list[str] = []
    links: list[Link] = []
    for lines, found in zip(pages, page_links, strict=True):
        keep = [ln for ln in lines if _key(ln.text) not in furniture]
        page_blocks, line_block = _paragraphs(keep, vocab)
        offset = len(blocks)
        blocks.extend(page_blocks)
        index = {id(ln): i for i, ln in enumerate(keep)}
        for text, url, line_no in found:
            line = lines[line_no]
            if id(line) in index:
                links.append(
                    Link(text=text, url=url, context=blocks[offset + line_block[index[id(line)]]])
                )
    text = "\n\n".join(blocks)
    if not text.strip():
        raise ParseError(source, "expected a PDF with a text layer, found no text (scanned?)")
    return Document(
        source=source,
        kind="pdf",
        text=text,
        links=links,
        title=_meta_title(reader),
        published=None,
        series=SERIES_LABEL if SERIES_LABEL.lower() in text[:3000].lower() else None,
    )


def _open(data: bytes, source: str) -> PdfReader:
    if not data.lstrip()[:1024].startswith(b"%PDF"):
        raise ParseError(source, "expected a PDF (file does not start with %PDF)")
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise ParseError(source, "expected an unencrypted PDF, this one needs a password")
        _ = len(reader.pages)
    except (PdfReadError, PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise ParseError(source, f"expected a readable PDF ({type(exc).__name__}: {exc})") from None
    return reader


def _meta_title(reader: PdfReader) -> str | None:
    try:
        title = reader.metadata.title if reader.metadata else None
    except (PyPdfError, ValueError, KeyError, TypeError):
        return None
    text = squash(str(title)) if title else ""
    return None if not text or _PLACEHOLDER_TITLE.search(text) else text


def _page_lines(page: Any, source: str) -> list[_Line]:
    frags: list[_Frag] = []

    def visit(text: str, cm: list[float], tm: list[float], font: Any, size: float) -> None:
        if not text or text in ("\n", "\r"):
            return
        x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
        y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
        scale = abs(tm[3] * cm[3]) or 1.0
        frag = _Frag(x, y, text.replace("\n", " "), (size or 10.0) * scale, _font_widths(font))
        frags.append(frag)

    try:
        page.extract_text(visitor_text=visit)
    except (PyPdfError, ValueError, KeyError, TypeError, ZeroDivisionError) as exc:
        raise ParseError(source, f"expected a PDF whose text can be read ({exc})") from None
    if not frags:
        _check_inflates(page, source)
    return _group_lines(frags)


def _check_inflates(page: Any, source: str) -> None:
    """A page with no text: pypdf's text extraction swallows its own decompression limit and
    returns nothing, so a compression bomb would read as a scanned page. Name it instead."""
    try:
        contents = page.get_contents()
        if contents is not None:
            contents.get_data()
    except LimitReachedError:
        raise ParseError(
            source,
            "expected a PDF whose pages inflate to a sane size; a page's content passes "
            "pypdf's decompression limit (a compression bomb?)",
        ) from None
    except (PyPdfError, ValueError, KeyError, TypeError):
        return


def _group_lines(frags: list[_Frag]) -> list[_Line]:
    lines: list[_Line] = []
    for frag in sorted(frags, key=lambda f: (-round(f.y, 1), f.x)):
        if lines and abs(lines[-1].y - frag.y) <= max(1.0, frag.size * 0.3):
            lines[-1].frags.append(frag)
        else:
            lines.append(_Line(frag.y, frag.size, [frag]))
    return [ln for ln in lines if ln.text.strip()]


def _links_on_page(page: Any, lines: list[_Line]) -> list[tuple[str, str, int]]:
    """(text under the link, URI, line index) for each URI link annotation on the page."""
    out: list[tuple[str, str, int]] = []
    for rect, uri in _uri_annotations(page):
        x0, y0, x1, y1 = rect
        for i, line in enumerate(lines):
            if y0 - 2 <= line.y <= y1 + 1:
                under = _words_under(_char_positions(line), x0, x1)
                if under:
                    out.append((under.strip("() ,;.:") or uri, uri, i))
                    break
    return out


def _words_under(chars: list[tuple[str, float]], x0: float, x1: float) -> str:
    """The words whose estimated centre lies in [x0, x1] (else the one nearest the middle)."""
    words: list[tuple[str, float]] = []
    current: list[tuple[str, float]] = []
    for c, x in [*chars, (" ", 0.0)]:
        if c.isspace():
            if current:
                word = "".join(ch for ch, _ in current)
                words.append((word, sum(px for _, px in current) / len(current)))
            current = []
        else:
            current.append((c, x))
    inside = [w for w, cx in words if x0 <= cx <= x1]
    if not inside and words:
        mid = (x0 + x1) / 2
        word, cx = min(words, key=lambda w: abs(w[1] - mid))
        inside = [word] if abs(cx - mid) <= (x1 - x0) else []
    return squash(" ".join(inside))


def _char_positions(line: _Line) -> list[tuple[str, float]]:
    """Each character with its estimated centre. pypdf does not always advance a fragment's
    position inside one text object, so fragments that do not move on are laid end to end
    with typical glyph widths."""
    out: list[tuple[str, float]] = []
    pos = -1.0
    for frag in sorted(line.frags, key=lambda f: f.x):
        pos = max(pos, frag.x)
        for c in frag.text:
            width = _glyph_width(c, frag.widths) * frag.size
            out.append((c, pos + width / 2))
            pos += width
    return out


def _glyph_width(c: str, widths: dict[int, float] | None) -> float:
    """Advance of one glyph in text-space units: the font's /Widths, else Helvetica's."""
    if widths and ord(c) in widths:
        return widths[ord(c)]
    if "\u2e80" <= c <= "\u9fff" or "\uf900" <= c <= "\uffef":
        return 1.0
    if " " <= c <= "~":
        return _HELVETICA[ord(c) - 32] / 1000
    return 0.556


def _font_widths(font: Any) -> dict[int, float] | None:
    """Widths of a simple font (``/FirstChar`` + ``/Widths``); None for standard/CID fonts."""
    try:
        first = int(font["/FirstChar"])
        return {first + i: float(w) / 1000 for i, w in enumerate(font["/Widths"])}
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def _uri_annotations(page: Any) -> list[tuple[tuple[float, float, float, float], str]]:
    found: list[tuple[tuple[float, float, float, float], str]] = []
    try:
        annots = page.get("/Annots") or []
        for ref in annots:
            annot = ref.get_object()
            action = annot.get("/A")
            action = action.get_object() if action is not None else None
            if annot.get("/Subtype") != "/Link" or not action or "/URI" not in action:
                continue
            x0, y0, x1, y1 = (float(v) for v in annot["/Rect"])
            rect = (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
            found.append((rect, str(action["/URI"])))
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError):
        return found
    return sorted(found, key=lambda r: (-r[0][3], r[0][0]))


def _key(text: str) -> str:
    return re.sub(r"\d+", "#", re.sub(r"\s+", "", text)).lower()


def _running_lines(pages: list[list[_Line]]) -> set[str]:
    """Lines at a page's top or bottom that recur on most pages (running headers/footers)."""
    if len(pages) < 3:
        return {_key(ln.text) for lines in pages for ln in lines if _is_page_number(ln.text)}
    counts: Counter[str] = Counter()
    for lines in pages:
        edge = {_key(ln.text) for ln in lines[:2] + lines[-2:]}
        counts.update(edge)
    limit = max(2, len(pages) // 2)
    running = {k for k, n in counts.items() if n >= limit}
    running |= {_key(ln.text) for lines in pages for ln in lines if _is_page_number(ln.text)}
    return running


def _is_page_number(text: str) -> bool:
    return bool(_PAGE_NUMBER.match(text.strip()))


def _paragraphs(
    lines: list[_Line], vocab: frozenset[str] = frozenset()
) -> tuple[list[str], list[int]]:
    """Join wrapped lines into paragraphs; return the paragraphs and each line's paragraph."""
    blocks: list[str] = []
    owner: list[int] = []
    gaps = sorted(a.y - b.y for a, b in itertools.pairwise(lines) if a.y > b.y)
    step = gaps[len(gaps) // 5] * 1.35 if gaps else 20.0
    prev: _Line | None = None
    for line in lines:
        text = squash(line.text)
        if prev is None or _starts_block(prev, line, step, text):
            blocks.append(text)
        else:
            blocks[-1] = join_wrapped(blocks[-1], text, vocab)
        owner.append(len(blocks) - 1)
        prev = line
    return blocks, owner


def _starts_block(prev: _Line, line: _Line, step: float, text: str) -> bool:
    gap = prev.y - line.y
    return (
        gap > min(step, prev.size * 1.65)
        or gap < 0
        or abs(prev.size - line.size) > 0.8
        or bool(_BULLET_START.match(text))
        or bool(_DATED_ENTRY.match(text))
    )
