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
