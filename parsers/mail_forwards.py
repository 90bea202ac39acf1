"""Inline forwards: cut the forwarder's note and the forward header block off a mail body.

A colleague who forwards the newsletter "inline" puts a note, a marker line and the original
headers above it::

    FYI, the new issue.
    ---------- Forwarded message ---------        (Gmail; "Begin forwarded message:" in Apple
    From: MERICS <newsletter@merics.de>            Mail, "-----Original Message-----" in Outlook,
    Date: ...                                      "-------- Forwarded Message --------" in
    Subject: MERICS China Industries ...           Thunderbird, and their German forms)
    To: ...

    <the newsletter>

Everything up to the end of that header block goes, so the issue parser sees the newsletter as
it was sent. A marker counts only when a header block with a sender line follows it: a
newsletter that merely mentions "forwarded message" is left alone. Forwards of forwards are cut
one level at a time, up to ``max_depth`` levels.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator

from bs4 import BeautifulSoup, Tag
from bs4.element import NavigableString, PageElement

__all__ = ["strip_html_forward", "strip_text_forward"]

_MARKER = re.compile(
    r"-{2,}\s*(?:Forwarded message|Forwarded Message|Original Message|Weitergeleitete Nachricht"
    r"|Ursprüngliche Nachricht)\s*-{2,}"
    r"|Begin forwarded message\s*:|Anfang der weitergeleiteten Nachricht\s*:",
    re.I,
)
_HEADER = re.compile(
    r"^\s*[*_]*(?:From|Von|Sent|Gesendet|Date|Datum|To|An|Cc|Bcc|Kopie|Subject|Betreff"
    r"|Reply-To|Antwort an)\s*:",
    re.I,
)
_SENDER = re.compile(r"^\s*[*_]*(?:From|Von)\s*:", re.I)
_LOOKAHEAD = 40  # lines after a marker in which its header block must start and end
_BLOCKS = frozenset(
    [
        "address",
        "article",
        "blockquote",
        "dd",
        "div",
        "dl",
        "dt",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "li",
        "main",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "td",
        "th",
        "tr",
        "ul",
    ]
)
_INVISIBLE = frozenset(["style", "script", "title", "head", "template"])


# ---------------------------------------------------------------------------------------- text


def strip_text_forward(text: str, *, max_depth: int = 5) -> str:
    """``text`` without the note and header block of each inline forward (module docstring)."""
    lines = text.split("\n")
    for _ in range(max_depth):
        start = _text_content_start(lines)
        if start is None:
            break
        lines = lines[start:]
    return "\n".join(lines)


def _text_content_start(lines: list[str]) -> int | None:
    """Index of the first newsletter line after the first genuine forward marker."""
    for i, line in enumerate(lines):
        if _MARKER.search(line):
            window = list(enumerate(lines[i + 1 : i + 1 + _LOOKAHEAD], i + 1))
            start = _after_headers(window, wrapped=True)
            if start is not None:
                return start
    return None


def _after_headers(numbered: list[tuple[int, str]], *, wrapped: bool) -> int | None:
    """Where the content starts after a header block, or None if no header block is there.

    In plain text (``wrapped``) a header line may wrap: an indented line right after one
    belongs to it. HTML lines never wrap, and an indented one is content.
    """
    seen_sender, in_headers = False, False
    for index, line in numbered:
        if _HEADER.match(line):
            seen_sender |= bool(_SENDER.match(line))
            in_headers = True
        elif wrapped and in_headers and line[:1] in (" ", "\t") and line.strip():
            continue
        elif line.strip():
            return index if seen_sender else None
    return None


# ---------------------------------------------------------------------------------------- HTML


def strip_html_forward(markup: str, *, max_depth: int = 5) -> str | None:
    """The markup cut after each inline forward's header block; None when there is no forward.

    Everything before the newsletter's first text in document order is removed (the note, the
    marker, the header lines with their ``mailto:`` links), but the page's ``<head>`` stays.
    """
    soup = BeautifulSoup(markup, "lxml")
    changed = False
    for _ in range(max_depth):
        first = _html_content_start(soup)
        if first is None:
            break
        _drop_before(first)
        changed = True
    return str(soup) if changed else None


def _html_content_start(soup: BeautifulSoup) -> NavigableString | None:
    for text in _visible_strings(soup.descendants):
        if _MARKER.search(text):
            lines = list(itertools.islice(_lines_after(text), _LOOKAHEAD))
            start = _after_headers([(i, ln) for i, (ln, _) in enumerate(lines)], wrapped=False)
            if start is not None:
                return lines[start][1]
    return None


def _visible_strings(elements: Iterator[PageElement]) -> Iterator[NavigableString]:
    for el in elements:
        if type(el) is NavigableString and not _hidden(el):
            yield el


def _hidden(text: NavigableString) -> bool:
    return any(p.name in _INVISIBLE for p in text.parents if isinstance(p, Tag))


def _lines_after(marker: NavigableString) -> Iterator[tuple[str, NavigableString | None]]:
    """The rendered lines after ``marker``: (text, first non-blank string of the line).

    A ``<br>``, the start of a block element or a move into another block ends a line.
    """
    text, first, block = "", None, _block_of(marker)
    for el in marker.next_elements:
        if isinstance(el, Tag):
            if el.name == "br" or el.name in _BLOCKS:
                yield text, first
                text, first = "", None
            continue
        if type(el) is not NavigableString or _hidden(el):
            continue
        if _block_of(el) is not block:
            yield text, first
            text, first, block = "", None, _block_of(el)
        if first is None and el.strip():
            first = el
        text += str(el)
    yield text, first


def _block_of(el: PageElement) -> Tag | None:
    return next((p for p in el.parents if p.name in _BLOCKS or p.name == "body"), None)


def _drop_before(first: NavigableString) -> None:
    """Remove all that precedes ``first`` in document order, below ``<body>``."""
    node: PageElement = first
    while node.parent is not None and not (isinstance(node, Tag) and node.name == "body"):
        for sibling in list(node.previous_siblings):
            sibling.extract()
        node = node.parent
