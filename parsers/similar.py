"""Recognise an edited item as a revision of a stored one, not as a new item.

An item's id fingerprints its section, date and first sentence (news) or headline (top
stories), so a reworded entry gets a new id. :func:`pair_edited` pairs such an item with the
stored item it most likely revises, so that the store can report it as *revised*.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from difflib import SequenceMatcher

from parsers.merics_lines import alnum_key, first_sentence, news_date
from parsers.records import PolicyItem
from parsers.text import fold

__all__ = ["EDIT_THRESHOLD", "opening", "pair_edited", "similarity"]

EDIT_THRESHOLD = 0.75
_WORD = re.compile(r"\w+")


def pair_edited(
    new_items: Sequence[PolicyItem],
    stored_items: Sequence[PolicyItem],
    threshold: float = EDIT_THRESHOLD,
) -> dict[str, str]:
    """``{new id: stored id}`` for new items that are edits of stored ones.

    Only items whose id is not already on the other side take part (an unchanged id needs no
    pairing). A pair has the same section and the same date, and the similarity of their
    first sentences (top stories: headlines), by :func:`similarity`, is at least
    ``threshold``. Top stories whose policy titles differ are never paired. Each item is paired
    at most once: the most similar pairs are taken first, ties broken by the order of the
    inputs, so the result does not depend on anything but the inputs.

    The default threshold, 0.75, means at least three words in four unchanged and in order.
    Measured on the 23 items of a real issue: two different items of one section score at
    most 0.21; changing one word of a first sentence leaves at least 0.875, changing two words
    of the shortest (8-word) headlines 0.75, dropping three words 0.77 or more. Distinct news
    entries that open with the same formula ("The MIIT released a notice on ...") score about
    0.67 and stay apart.
    """
    stored_ids = {item.id for item in stored_items}
    new_ids = {item.id for item in new_items}
    fresh = [item for item in new_items if item.id not in stored_ids]
    gone = [item for item in stored_items if item.id not in new_ids]
    ranked = sorted(
        (-score, i, j)
        for i, new in enumerate(fresh)
        for j, old in enumerate(gone)
        if _comparable(new, old) and (score := similarity(opening(new), opening(old))) >= threshold
    )
    pairs: dict[str, str] = {}
    taken: set[str] = set()
    for _, i, j in ranked:
        if fresh[i].id not in pairs and gone[j].id not in taken:
            pairs[fresh[i].id] = gone[j].id
            taken.add(gone[j].id)
    return pairs


def similarity(a: str, b: str) -> float:
    """Share of words two texts have in common, in order (0.0-1.0; case, width and
    punctuation ignored): 2 * matched words / all words."""
    words_a, words_b = _words(a), _words(b)
    if not words_a or not words_b:
        return 0.0
    return SequenceMatcher(None, words_a, words_b, autojunk=False).ratio()


def opening(item: PolicyItem) -> str:
    """What an item's id fingerprints: a top story's headline, a news entry's first sentence."""
    if item.section == "top" or not item.text:
        return item.headline
    dated = news_date(item.text)
    return first_sentence(dated.rest if dated else item.text)


def _words(text: str) -> list[str]:
    return _WORD.findall(fold(text).lower())


def _comparable(new: PolicyItem, old: PolicyItem) -> bool:
    if new.section != old.section or new.date != old.date:
        return False
    return new.section != "top" or _same_policy(new, old)


def _same_policy(a: PolicyItem, b: PolicyItem) -> bool:
    """Top stories about the same document: equal Chinese titles where both give one (the
    document's own name), else equal English titles; no policy on either side also counts."""
    if a.policy is None or b.policy is None:
        return a.policy is None and b.policy is None
    for title_a, title_b in (
        (a.policy.title_zh, b.policy.title_zh),
        (a.policy.title_en, b.policy.title_en),
    ):
        if title_a and title_b:
            return alnum_key(title_a) == alnum_key(title_b)
    return not any((a.policy.title_zh, a.policy.title_en, b.policy.title_zh, b.policy.title_en))
