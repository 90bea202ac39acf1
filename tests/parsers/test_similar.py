"""``pair_edited``: a reworded item is paired with the stored item it revises, never wrongly."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from parsers.bodies import BodyIndex
from parsers.documents import load_document, text_to_document
from parsers.merics import parse_issue
from parsers.records import Policy, PolicyItem
from parsers.similar import EDIT_THRESHOLD, pair_edited, similarity

MAY_8 = dt.date(2024, 5, 8)


def news(sentence: str, date: dt.date = MAY_8, section: str = "policy_news") -> PolicyItem:
    """A news item as the parser makes it: the id fingerprints section, date, first sentence."""
    text = f"- {date:%B} {date.day}: {sentence}. It adds details (NDRC notice)\n"
    heading = "Policy news" if section == "policy_news" else "Corporate news"
    doc = text_to_document(f"NOTEWORTHY\n\n{heading}\n\n{text}\nJune 1, 2024\n", "n.txt")
    (item,) = parse_issue(doc, BodyIndex.load()).items
    return item


def top(headline: str, title_zh: str | None, date: dt.date = MAY_8) -> PolicyItem:
    policy = Policy(title_en="Rules", title_zh=title_zh, date=date)
    return PolicyItem(
        id=f"top-{headline}", section="top", position=1, headline=headline, date=date, policy=policy
    )


BASE = "The NDRC set new prices for grid storage in eight provinces"  # 11 words


def test_threshold_is_documented_in_the_docstring_and_readme(repo_root: Path) -> None:
    assert EDIT_THRESHOLD == 0.75
    assert "0.75" in (pair_edited.__doc__ or "")
    assert "0.75" in (repo_root / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("words", "changed", "score", "paired"),
    [
        (25, 6, 0.76, True),  # 2 * 19 / 50: just above the threshold
        (8, 2, 0.75, True),  # 2 * 6 / 16: at the threshold
        (15, 4, 0.7333, False),  # 2 * 11 / 30: just below
    ],
)
def test_pairs_at_or_above_the_threshold_only(
    words: int, changed: int, score: float, paired: bool
) -> None:
    before = [f"word{n}" for n in range(words)]
    after = before[: words - changed] + [f"other{n}" for n in range(changed)]
    old, new = news(" ".join(before)), news(" ".join(after))
    assert similarity(" ".join(before), " ".join(after)) == pytest.approx(score, abs=1e-4)
    assert old.id != new.id
    assert pair_edited([new], [old]) == ({new.id: old.id} if paired else {})


def test_a_corrected_figure_is_a_revision_of_the_stored_entry() -> None:
    old = news(BASE)
    new = news(BASE.replace("eight", "nine"))
    unrelated = news("The MIIT named 30 pilot zones for industrial data")
    assert pair_edited([unrelated, new], [old]) == {new.id: old.id}


def test_same_section_and_date_only() -> None:
    old = news(BASE)
    assert pair_edited([news(BASE + " now", date=dt.date(2024, 5, 9))], [old]) == {}
    assert pair_edited([news(BASE + " now", section="corporate_news")], [old]) == {}


def test_unchanged_ids_take_no_part() -> None:
    old = news(BASE)
    assert pair_edited([old], [old]) == {}
    # a stored item still present under its own id is not taken by a look-alike
    look_alike = news(BASE.replace("eight", "nine"))
    assert pair_edited([old, look_alike], [old]) == {}


def test_one_to_one_best_match_first_and_deterministic() -> None:
    a = news("The NDRC set new prices for grid storage in eight coastal provinces")
    b = news("The NDRC set new prices for grid storage in six inland provinces")
    a2 = news("The NDRC set new prices for grid storage in eight coastal regions")
    b2 = news("The NDRC set new prices for grid storage in six inland regions")
    want = {a2.id: a.id, b2.id: b.id}
    assert pair_edited([b2, a2], [a, b]) == want
    assert pair_edited([a2, b2], [b, a]) == want
    twin = news("The NDRC set new prices for grid storage in eight coastal areas")
    got = pair_edited([a2, twin], [a])
    assert got == {a2.id: a.id}  # equal scores: the first new item wins, every time
    assert pair_edited([a2, twin], [a]) == got


def test_top_stories_with_different_policy_titles_are_never_paired() -> None:
    old = top("MIIT caps steel output", "关于钢铁产量调控的通知")
    same_policy = top("MIIT caps crude steel output", "关于钢铁产量调控的通知")
    other_policy = top("MIIT caps crude steel output", "关于水泥产量调控的通知")
    assert pair_edited([same_policy], [old]) == {same_policy.id: old.id}
    assert pair_edited([other_policy], [old]) == {}
    english_only = top("MIIT caps crude steel output", None)  # title_en "Rules" as the old one
    assert pair_edited([english_only], [old]) == {english_only.id: old.id}
    other_english = english_only.model_copy(
        update={"policy": Policy(title_en="Other rules", date=MAY_8)}
    )
    assert pair_edited([other_english], [old]) == {}
    no_policy = english_only.model_copy(update={"policy": None})
    assert pair_edited([no_policy], [old]) == {}


def test_edited_news_in_a_reissued_issue(fixtures: Path) -> None:
    """The real shape of the case: the same issue parsed again after one entry was reworded."""
    path = fixtures / "pair-2024-06-12.md"
    original = path.read_text(encoding="utf-8")
    edited = original.replace("fined three battery makers", "fined three lithium battery makers")
    bodies = BodyIndex.load()
    before = parse_issue(load_document(original.encode(), path.name), bodies).items
    after = parse_issue(load_document(edited.encode(), path.name), bodies).items
    changed = [(a.id, b.id) for a, b in zip(after, before, strict=True) if a.id != b.id]
    assert len(changed) == 1
    assert pair_edited(after, before) == dict(changed)
