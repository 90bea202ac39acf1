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
