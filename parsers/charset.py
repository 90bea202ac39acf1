"""Bytes to text for every page policywatch reads: fetched pages, saved files, notices.

Chinese government pages are nearly always UTF-8, but a GBK page, a missing charset or a lying
``Content-Type`` must still decode correctly, and nothing may silently become Latin-1 mojibake
(SITES §0). The order, and why:

1. bytes that are valid UTF-8 (with a BOM or not) are UTF-8: multi-byte UTF-8 is practically never
   valid in another encoding by chance, while GB18030 decodes almost any bytes, so a page labelled
   GBK whose bytes are valid UTF-8 carries the wrong label;
2. a declared multi-byte charset (HTTP header, then ``<meta charset>``) that decodes the bytes;
3. GB18030 (GBK's superset): the only legacy encoding of these sites, and detection misreads
   short GBK texts; a Western page fails it quickly (a high byte followed by a space or
   punctuation is not GB18030);
4. a multi-byte charset detected by charset-normalizer that decodes the bytes;
5. a declared single-byte charset (Latin-1 family decodes anything, so it is believed last),
   then whatever detection said.
"""

from __future__ import annotations

import codecs
import re

from charset_normalizer import from_bytes

from parsers.errors import ParseError

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_HEADER_CHARSET = re.compile(r"""charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)

# Labels that decode any byte sequence, so a wrong one never fails loudly: trust them last.
_PERMISSIVE_PREFIXES = ("iso8859-", "cp125", "latin", "mac-")
# GBK and GB2312 are subsets of GB18030: decoding with the superset loses nothing.
_SUPERSETS = {"gbk": "gb18030", "gb2312": "gb18030", "ascii": "utf-8", "utf-8-sig": "utf-8"}


def charset_from_header(content_type: str | None) -> str | None:
    """The ``charset=`` parameter of a Content-Type header, if any."""
    if not content_type:
        return None
    match = _HEADER_CHARSET.search(content_type)
    return match.group(1) if match else None


def charset_from_meta(content: bytes) -> str | None:
    """The charset declared by ``<meta charset>`` or ``http-equiv`` in the first 4 KB."""
    match = _META_CHARSET.search(content[:4096])
    return match.group(1).decode("ascii", "replace") if match else None


def normalise(label: str | None) -> str | None:
    """Python's codec name for a charset label, widened to a superset; None if unknown."""
    if not label:
        return None
    try:
        name = codecs.lookup(label.strip().lower()).name
    except LookupError:
        return None
    return _SUPERSETS.get(name, name)


def _permissive(encoding: str) -> bool:
    return encoding.startswith(_PERMISSIVE_PREFIXES)


def _decodes(content: bytes, encoding: str) -> bool:
    try:
        content.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return False
    return True


def _detect(content: bytes) -> str | None:
    best = from_bytes(content[:200_000]).best()
    return normalise(best.encoding) if best is not None else None


def detect_encoding(
    content: bytes, content_type: str | None = None, *, declared: str | None = None
) -> str | None:
    """The charset to read ``content`` with (module docstring), or None if nothing fits.

    ``declared`` is a charset label from elsewhere (a fetch result's chosen encoding).
    """
    labels = [declared, charset_from_header(content_type)]
    if not content:
        return next((n for n in map(normalise, labels) if n), "utf-8")
    if _decodes(content, "utf-8"):
        return "utf-8"
    names = [normalise(label) for label in (*labels, charset_from_meta(content))]
    for encoding in (n for n in names if n and not _permissive(n)):
        if _decodes(content, encoding):
            return encoding
    if _decodes(content, "gb18030"):
        return "gb18030"
    detected = _detect(content)
    if detected and not _permissive(detected) and _decodes(content, detected):
        return detected
    permissive = [n for n in names if n and _permissive(n)]
    if permissive:  # a single-byte label, and no multi-byte charset fits: believe it
        return permissive[0]
    return detected


def decode(content: bytes, encoding: str | None) -> str:
    """Decode with the chosen charset; undecodable bytes become U+FFFD, never mojibake."""
    return content.decode(encoding or "utf-8", errors="replace").removeprefix("\ufeff")


def to_text(content: bytes, content_type: str | None = None, *, declared: str | None = None) -> str:
    """``decode(content, detect_encoding(...))`` in one call."""
    return decode(content, detect_encoding(content, content_type, declared=declared))


def decode_document(data: bytes, source: str, declared: str | None = None) -> str:
    """Decode bytes (rules in ``parsers.charset``); binary data is an error, not text."""
    if b"\x00" in data[:4096] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ParseError(source, "expected an HTML page, a PDF or text, got binary data")
    encoding = detect_encoding(data, declared=declared)
    if encoding is None:
        raise ParseError(source, "expected text in a known encoding, could not detect one")
    return decode(data, encoding)
