"""Property tests: word boundaries for Latin terms, substrings for CJK, width folding."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from match_helpers import item

from parsers.bodies import BodyIndex
from policywatch.match import Matcher
from policywatch.taxonomy import Taxonomy
from policywatch.watchlists import Watchlist

LOWER = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=8)
AFFIX = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", max_size=3)
SEPARATOR = st.sampled_from([" ", "-", ", ", "。", "（", "/", "\n", "'", "\u3000"])
CJK = st.text(alphabet=st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5), min_size=1)

EMPTY = Taxonomy()
NO_BODIES = BodyIndex([])


def fires(keyword: str, text: str) -> bool:
    wl = Watchlist(name="k", keywords=[keyword])
    return bool(Matcher.build([wl], EMPTY, NO_BODIES).match(item(text)))


def full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


@settings(max_examples=150, deadline=None)
@given(word=LOWER, prefix=AFFIX, suffix=AFFIX)
def test_latin_terms_need_whole_words(word: str, prefix: str, suffix: str) -> None:
    text = f"# {prefix}{word}{suffix} #"
    expected = prefix == "" and suffix in ("", "s")
    assert fires(word, text) is expected


@settings(max_examples=100, deadline=None)
@given(word=LOWER, left=SEPARATOR, right=SEPARATOR, upper=st.booleans())
def test_latin_terms_match_between_separators_in_any_case(
    word: str, left: str, right: str, upper: bool
) -> None:
    shown = word.upper() if upper else word.capitalize()
    assert fires(word, f"x{left}{shown}{right}y")


@settings(max_examples=100, deadline=None)
@given(term=CJK, before=CJK, after=CJK)
def test_cjk_terms_match_as_substrings(term: str, before: str, after: str) -> None:
    assert fires(term, before + term + after)


@settings(max_examples=100, deadline=None)
@given(term=CJK, other=CJK)
def test_cjk_terms_do_not_match_when_absent(term: str, other: str) -> None:
    if term not in other:
        assert not fires(term, other)


@settings(max_examples=100, deadline=None)
@given(word=LOWER, cjk=CJK)
def test_full_width_text_matches_half_width_terms(word: str, cjk: str) -> None:
    assert fires(word, cjk + full_width(word.upper()) + cjk)
    assert fires(full_width(word), f"the {word} plan")
