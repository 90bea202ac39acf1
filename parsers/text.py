"""Small text helpers shared by the parsers: width folding, whitespace, hashing."""

from __future__ import annotations

import hashlib
import re
import unicodedata

_SPACES = re.compile(r"[ \t\u00a0\u3000\u2002-\u200b]+")


def fold(text: str) -> str:
    """Fold full-width forms to half-width (ＡＢＣ１２３ -> ABC123) and compatibility forms."""
    return unicodedata.normalize("NFKC", text)


def squash(text: str) -> str:
    """Collapse runs of spaces (including full-width ones) to one and strip the ends."""
    return _SPACES.sub(" ", text).strip()


def fingerprint(*parts: str, length: int = 16) -> str:
    """A stable hash of text that ignores all whitespace and width differences."""
    joined = "\x1f".join(re.sub(r"\s+", "", fold(p)).lower() for p in parts)
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()[:length]


MONTHS = {
    m: i
    for i, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ],
        start=1,
    )
    for m in names
}


def month_number(name: str) -> int | None:
    """1-12 for an English month name or abbreviation ("Sept.", "september"), else None."""
    return MONTHS.get(name.lower().rstrip("."))
