"""One issue in two forms, or one story in two pages: the same items, ids and content hashes.

The store diffs items by id and content hash (``policywatch.store.writes.item_hash``); an item
that reads differently in another copy of the same issue would be reported as revised, and a
story met again in a full issue as new.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from parsers.bodies import BodyIndex
from parsers.documents import html_to_document, load_document
from parsers.errors import ParseError
from parsers.merics import parse_issue
from parsers.records import Issue
from policywatch.store.writes import item_hash


def parsed(path: Path, bodies: BodyIndex) -> Issue:
    return parse_issue(load_document(path.read_bytes(), path.name), bodies)


def test_text_and_html_copies_give_equal_ids_and_hashes(fixtures: Path, bodies: BodyIndex) -> None:
    text = parsed(fixtures / "pair-2024-06-12.md", bodies)
    page = parsed(fixtures / "pair-2024-06-12.html", bodies)
    assert [i.id for i in text.items] == [i.id for i in page.items]
    assert len(text.items) == 5
    for a, b in zip(text.items, page.items, strict=True):
        assert item_hash(a) == item_hash(b), a.headline


def test_sources_with_escaped_parentheses_leave_the_headline(
    fixtures: Path, bodies: BodyIndex
) -> None:
    news = [i for i in parsed(fixtures / "pair-2024-06-12.md", bodies).items if i.section != "top"]
    assert [i.headline for i in news] == [
        "The State Administration for Market Regulation (SAMR) fined three battery makers "
        "for price collusion",
        "The CAC opened a consultation on rules for synthetic data in model training",
        "A battery maker in Jiangsu started trial production of semi-solid cells",
    ]
    assert [link.text for link in news[0].links] == ["SAMR notice (CN)", "Reuters article"]
    assert "\\" not in news[2].text
    assert news[2].text.endswith("(Yicai article (CN); company statement)")


def test_single_story_brief_is_one_top_item(fixtures: Path, bodies: BodyIndex) -> None:
    brief = parsed(fixtures / "brief-2025-02-27.html", bodies)
    assert brief.issue.title == "Humanoid robots get a national innovation push"
    assert str(brief.issue.published) == "2025-02-27"
    assert brief.issue.authors == ["Jane Doe"]  # not the editorial team
    (item,) = brief.items
    assert (item.section, item.position, item.headline) == (
        "top",
        1,
        "Humanoid robots get a national innovation push",
    )
    assert item.goals == [
        "Mass-produce core components such as reducers and joint modules by 2026",
        "Build two or three innovation centers",
    ]
    assert item.policy is not None
    assert item.policy.issuing_bodies == ["General Office of the State Council"]
    assert str(item.date) == "2025-02-20"


def test_brief_story_keeps_its_id_and_hash_in_the_full_issue(
    fixtures: Path, bodies: BodyIndex
) -> None:
    """A later full issue carrying the story gives no second alert and no revision."""
    (story,) = parsed(fixtures / "brief-2025-02-27.html", bodies).items
    full = parsed(fixtures / "html-2025-03-05.html", bodies)
    same = [i for i in full.items if i.id == story.id]
    assert [i.headline for i in same] == [story.headline]
    assert item_hash(same[0]) == item_hash(story)


BRIEF = (
    "<html><body><article><figure><figcaption>Image: a port</figcaption></figure>"
    "<div>MERICS Briefs</div><div>MERICS China Industries</div><div>{read}</div>"
    "<h1>{title}</h1>{date}<p><strong>At a glance:</strong> The MOT released a plan.</p>"
    "<ul><li>Automate ten ports</li></ul><p><strong>MERICS comment:</strong> Cranes.</p>"
    "<p><strong>Article:</strong> Smart Ports Plan (关于智慧港口的通知)</p></article></body></html>"
)


@pytest.mark.parametrize(
    ("title", "date", "read"),
    [
        ("MERICS China Industries: Ports go digital", "<p>Mar 12, 2025</p>", "5 min read"),
        ("China Industries | Ports go digital", "<div class='meta'>Mar 12, 2025</div>", "5 min read"),
        ("Ports go digital", "<time datetime='2025-03-12T08:00:00Z'>12 März 2025</time>", "5 Minuten Lesedauer"),
    ],
    ids=["series-prefix-date-text", "pipe-prefix", "german-time-element"],
)  # fmt: skip
def test_brief_headline_without_series_prefix_dated_by_the_page(
    title: str, date: str, read: str, bodies: BodyIndex
) -> None:
    page = BRIEF.format(title=title, date=date, read=read)
    got = parse_issue(html_to_document(page, "brief.html"), bodies)
    (item,) = got.items
    assert item.headline == "Ports go digital"
    assert str(got.issue.published) == "2025-03-12"
    assert str(item.date) == "2025-03-12"  # the policy names no date: the page's


@pytest.mark.parametrize(
    "page",
    [
        BRIEF.format(title="", date="", read="5 min read"),  # no title
        BRIEF.format(title="Ports", date="", read="").replace("MERICS China Industries", ""),
    ],
    ids=["no-title", "no-series-label"],
)
def test_one_glance_is_a_brief_only_with_title_and_series_label(
    page: str, bodies: BodyIndex
) -> None:
    with pytest.raises(ParseError, match="a one-story brief needs a title and the"):
        parse_issue(html_to_document(page, "not-a-brief.html"), bodies)
