"""``fold`` is NFKC: its fast path for full-width forms must never change the result."""

from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from parsers.text import fold

# Full-width forms, CJK, combining marks that compose with what the fast path produces, and
# characters only full NFKC folds (superscripts, ligatures, compatibility ideographs).
_ALPHABET = "ＡＢｚ０９，（）：；！？\u3000　国发改委〔〕。、《》Aa z1\u0301\u0338\u3099\u309a²ﬁ①㈱\uf900\uff61か"


def test_matches_nfkc_for_every_character_alone_and_after_a_folded_form() -> None:
    mismatches = []
    for code in range(0x110000):
        if 0xD800 <= code <= 0xDFFF:
            continue
        char = chr(code)
        for text in (char, "，" + char + "\u0301"):
            if fold(text) != unicodedata.normalize("NFKC", text):
                mismatches.append(text)
    assert mismatches == []


@given(st.text(alphabet=_ALPHABET, max_size=60))
def test_matches_nfkc_on_mixed_text(text: str) -> None:
    assert fold(text) == unicodedata.normalize("NFKC", text)


def test_folds_a_chinese_notice_line() -> None:
    line = "工业和信息化部关于印发《指南》的通知（工信部〔２０２５〕１２号），自２０２５年起施行：ＣＡＴＬ"
    assert (
        fold(line) == "工业和信息化部关于印发《指南》的通知(工信部〔2025〕12号),自2025年起施行:CATL"
    )
