"""Layout variants met in real issues, each as a small inline issue."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from parsers.bodies import BodyIndex
from parsers.documents import html_to_document, text_to_document
from parsers.errors import ParseError
from parsers.merics import parse_issue

STORY = """1. Steel caps get a new rulebook

At a glance: The MIIT capped steel output.

\uf0b7 Cut crude steel output by 5 percent

MERICS comment: Quotas are back.
"""


def issue(text: str, bodies: BodyIndex) -> dict[str, Any]:
    return parse_issue(text_to_document(text, "case.txt"), bodies).model_dump(mode="json")


def test_fields_on_separate_lines(bodies: BodyIndex) -> None:
    text = STORY + (
        "\nPolicy name:\nSteel Capacity Swap Rules (2024 Edition)\n"
        "(钢铁行业产能置换实施办法（2024年版）)\n(Link)\nIssuing bodies:\n"
        "MIIT, National Development and Reform Commission\nDate:\nMay 4, 2024\n"
    )
    top = issue("MERICS' Top 5\n\n" + text, bodies)["items"][0]
    assert top["policy"] == {
        "title_en": "Steel Capacity Swap Rules (2024 Edition)",
        "title_zh": "钢铁行业产能置换实施办法（2024年版）",
        "issuing_bodies": ["MIIT", "NDRC"],
        "date": "2024-05-04",
    }
    assert top["goals"] == ["Cut crude steel output by 5 percent"]


def test_date_line_at_the_top_dates_the_issue_and_news(bodies: BodyIndex) -> None:
    text = "January 20, 2021\n\n" + STORY + "\nWORTH NOTING\n\nDecember 30: Foo did bar (source)\n"
    data = issue(text, bodies)
    assert data["issue"]["published"] == "2021-01-20"
    assert data["items"][1]["date"] == "2020-12-30"
    assert data["items"][1]["section"] == "policy_news"


def test_news_entry_wrapped_over_lines_until_its_sources(bodies: BodyIndex) -> None:
    text = (
        STORY
        + "\nNOTEWORTHY\n\nCorporate news\n\n- May 2: BYD opened\na plant (Reuters)\nAUTHORS\n"
    )
    news = issue(text, bodies)["items"][1]
    assert news["text"] == "May 2: BYD opened a plant (Reuters)"
    assert news["date"] is None  # no issue date anywhere: the year is unknown, not guessed


def test_other_series_is_rejected(bodies: BodyIndex) -> None:
    page = (
        "<html><body><article><div>MERICS China Essentials</div><h1>X</h1>"
        "<p>1. A</p><p>At a glance: b</p></article></body></html>"
    )
    with pytest.raises(ParseError, match="China Essentials"):
        parse_issue(html_to_document(page, "essentials.html"), bodies)


@pytest.mark.parametrize(
    ("footer", "start", "end"),
    [
        ("MERICS China Industries October 2, 2024 (Reporting period: August 24 – September 22)",
         dt.date(2024, 8, 24), dt.date(2024, 9, 22)),
        ("MERICS China Industries January 20, 2021 (Reporting period: December 12 – January 15)",
         dt.date(2020, 12, 12), dt.date(2021, 1, 15)),
    ],
)  # fmt: skip
def test_period_years_come_from_the_issue(
    footer: str, start: dt.date, end: dt.date, bodies: BodyIndex
) -> None:
    data = issue(STORY + "\n" + footer + "\n", bodies)
    assert data["issue"]["period"] == {"start": start.isoformat(), "end": end.isoformat()}


def test_day_first_and_range_news_dates(bodies: BodyIndex) -> None:
    text = (
        STORY
        + "\nNOTEWORTHY\n\nPolicy news\n\n- 8 September: The MIIT did one thing (MIIT notice)\n"
        "- 12th Sept. 2024: The NDRC did another (NDRC notice)\n"
        "*30 August:* The CAC did a third (CAC notice)\n"
        "- August 30 – September 2: The MOF did a fourth (MOF notice)\n\n"
        "MERICS China Industries October 2, 2024 (Reporting period: August 24 – September 22)\n"
    )
    news = issue(text, bodies)["items"][1:]
    assert [(n["date"], n["headline"]) for n in news] == [
        ("2024-09-08", "The MIIT did one thing"),
        ("2024-09-12", "The NDRC did another"),
        ("2024-08-30", "The CAC did a third"),
        ("2024-08-30", "The MOF did a fourth"),
    ]


def test_long_news_headline_is_its_main_clause_and_keeps_its_id(bodies: BodyIndex) -> None:
    first = (
        "The MEE published a draft plan to add the cement, iron and steel industries to the "
        "national emission trading system"
    )
    rest = ", with the first stage running from 2024 to 2026 and the second one starting in 2027"
    short = "The MIIT named 12 pilot zones, with more to come"
    text = (
        STORY + f"\nNOTEWORTHY\n\nPolicy news\n\n- September 9: {first}{rest} (MEE notice)\n"
        f"- September 10: {short}; they cover SMEs (MIIT notice)\n"
    )
    long_item, short_item = issue(text, bodies)["items"][1:]
    assert long_item["headline"] == first
    assert rest.strip(", ") in long_item["text"]
    assert short_item["headline"] == short  # short sentences stay whole
    # the id hashes the whole first sentence: a later change of the cut never changes ids
    doc = text_to_document(text.replace(rest, rest + " and beyond"), "case.txt")
    assert parse_issue(doc, bodies).items[1].id != long_item["id"]


def test_headline_wrapped_over_two_lines_stays_the_headline(bodies: BodyIndex) -> None:
    text = STORY.replace("new rulebook\n", "new\nrulebook for mills\n")
    top = issue("MERICS Top 5\n\n" + text, bodies)["items"][0]
    assert top["headline"] == "Steel caps get a new rulebook for mills"
    assert top["summary"] == "The MIIT capped steel output."
    # a separate paragraph before "At a glance" is not part of the headline
    apart = issue(STORY.replace("new rulebook\n", "new rulebook\n\nExhibit 1\n"), bodies)
    assert apart["items"][0]["headline"] == "Steel caps get a new rulebook"


@pytest.mark.parametrize(
    ("named", "ids"),
    [
        ("Ministry of Industry and Information Technology and NDRC", ["MIIT", "NDRC"]),
        ("MIIT, NDRC and Ministry of Ecology and Environment", ["MIIT", "NDRC", "MEE"]),
        ("SAMR and three other ministries", ["SAMR", "three other ministries"]),
        ("Provincial Bureau and City Office", ["Provincial Bureau and City Office"]),
    ],
)
def test_issuing_bodies_split_on_and_only_around_known_names(
    named: str, ids: list[str], bodies: BodyIndex
) -> None:
    text = STORY + f"\nArticle: Rules (Link) Issuing bodies: {named} Date: May 4, 2024\n"
    assert issue(text, bodies)["items"][0]["policy"]["issuing_bodies"] == ids


def test_news_headline_does_not_stop_at_an_abbreviation(bodies: BodyIndex) -> None:
    text = (
        STORY + "\nNOTEWORTHY\n\nCorporate news\n\n"
        "- May 2: China Mobile Co. Ltd. opened a plant. It employs 900 people (Reuters)\n"
    )
    news = issue(text, bodies)["items"][1]
    assert news["headline"] == "China Mobile Co. Ltd. opened a plant"


def test_news_entry_that_lost_its_date_is_kept_undated(bodies: BodyIndex) -> None:
    text = (
        STORY + "\nNOTEWORTHY\n\nPolicy news\n\n- May 2: The MIIT did one thing (MIIT notice)\n"
        "The NDRC published a plan for new pilot zones (NDRC notice)\n"
        "Source: MERICS\n"
    )
    news = issue(text, bodies)["items"][1:]
    assert [(n["headline"], n["date"]) for n in news] == [
        ("The MIIT did one thing", None),
        ("The NDRC published a plan for new pilot zones", None),
    ]


def test_hard_wrapped_text_copy_keeps_paragraphs_and_words(bodies: BodyIndex) -> None:
    """Text copied from a PDF viewer or a plain-text mail: every paragraph wrapped at a fixed
    width, words split with a hyphen, goals continued on an indented line."""
    text = (
        "1. Steel rules\n\nAt a glance: The MIIT issued a notice on the trans-\n"
        "formation of steel and its low-\ncarbon future. It said:\n"
        "- cut output by\n  five percent\n- raise quality\n\n"
        "MERICS comment: Quotas are back. They\nwere gone for years.\n\nA second paragraph.\n"
        "1. a sidebar entry\n2. another\n\n"
        "NOTEWORTHY\n\nPolicy news\n\n- May 2: The NDRC backed cross-\nborder data flows and\n"
        "state-owned firms (NDRC notice)\n"
    )
    top, news = issue(text, bodies)["items"]
    assert top["summary"] == (
        "The MIIT issued a notice on the transformation of steel and its low-carbon future. "
        "It said:"
    )
    assert top["goals"] == ["cut output by five percent", "raise quality"]
    assert top["comment"] == (
        "Quotas are back. They were gone for years.\n\nA second paragraph.\n\n"
        "1. a sidebar entry\n\n2. another"
    )
    assert news["headline"] == "The NDRC backed cross-border data flows and state-owned firms"
