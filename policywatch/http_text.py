"""Decoding fetched bytes: HTTP charset, then ``<meta charset>``, then detection.

Chinese government pages are nearly always UTF-8, but a GBK page or a lying ``Content-Type``
must still decode correctly, and nothing may silently become Latin-1 mojibake (SITES §0).
"""

from __future__ import annotations

import codecs
import re

from charset_normalizer import from_bytes

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_HEADER_CHARSET = re.compile(r"""charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)

# Labels that decode any byte sequence, so a wrong one never fails loudly: trust them last.
_PERMISSIVE_PREFIXES = ("iso8859-", "cp125", "latin", "mac-")
# GBK and GB2312 are subsets of GB18030: decoding with the superset loses nothing.
_SUPERSETS = {"gbk": "gb18030", "gb2312": "gb18030", "ascii": "utf-8"}


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


def detect_encoding(content: bytes, content_type: str | None) -> str | None:
    """The first declared or detected charset that decodes the bytes without error.

    Order: declared multi-byte charsets (header, then meta), UTF-8, a detected multi-byte
    charset, a declared single-byte one, GB18030, then whatever detection said. Single-byte
    labels (Latin-1 family) come late because they decode anything and so cannot be checked.
    """
    if not content:
        return normalise(charset_from_header(content_type)) or "utf-8"
    declared = [
        normalise(charset_from_header(content_type)),
        normalise(charset_from_meta(content)),
    ]
    strict = [d for d in declared if d and not _permissive(d)]
    for encoding in strict:
        if _decodes(content, encoding):
            return encoding
    if _decodes(content, "utf-8"):
        return "utf-8"
    detected = _detect(content)
    if detected and not _permissive(detected) and _decodes(content, detected):
        return detected
    permissive = [d for d in declared if d and _permissive(d)]
    if permissive:  # a single-byte label, and no multi-byte charset fits: believe it
        return permissive[0]
    if _decodes(content, "gb18030"):
        return "gb18030"
    return detected


def decode(content: bytes, encoding: str | None) -> str:
    """Decode with the chosen charset; undecodable bytes become U+FFFD, never mojibake."""
    return content.decode(encoding or "utf-8", errors="replace")
