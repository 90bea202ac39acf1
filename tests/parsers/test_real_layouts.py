"""Layouts of real issues that used to lose or misplace content, each as a small synthetic issue."""

from __future__ import annotations

from typing import Any

import pytest

from parsers.bodies import BodyIndex
from parsers.documents import html_to_document, load_document, text_to_document
from parsers.errors import ParseError
from parsers.merics import parse_issue

STORY = """MERICS Top 5

1. Steel caps get a new rulebook

At a glance: The MIIT capped crude steel output for the year.

- Cut crude steel output by 5 percent
- Retire furnaces below 1,200 cubic metres

MERICS comment: Quotas are back after three years.

Article: Notice on Steel Output Control (关于钢铁产量调控的通知) (Link) Issuing body: MIIT Date: May 4, 2024

NOTEWORTHY

Policy news

- May 8: The NDRC set prices for grid storage (NDRC notice)
- June 2: The MEE tightened rules on coke ovens (MEE notice)
"""
FOOTER = "\nMERICS China Industries June 12, 2024 (Reporting period: May 1 – June 7)\n"


def issue(text: str, bodies: BodyIndex) -> dict[str, Any]:
    return parse_issue(text_to_document(text, "case.txt"), bodies).model_dump(mode="json")


def fields(item: dict[str, Any]) -> dict[str, Any]:
    """What a reader sees of an item, without its raw text."""
    return {k: v for k, v in item.items() if k != "text"}


# ------------------------------------------------------------------------- full-width colons


def test_full_width_colons_after_labels_and_news_dates(bodies: BodyIndex) -> None:
    wide = STORY.replace("glance:", "glance：").replace("comment:", "comment：")
    wide = wide.replace("Article:", "Article：").replace("body:", "body：")
    wide = wide.replace("Date:", "Date：").replace("May 8:", "May 8：")
    got, want = issue(wide + FOOTER, bodies), issue(STORY + FOOTER, bodies)
    assert [fields(i) for i in got["items"]] == [fields(i) for i in want["items"]]
    top = got["items"][0]
    assert top["policy"]["issuing_bodies"] == ["MIIT"]
    assert top["comment"] == "Quotas are back after three years."
    assert [i["date"] for i in got["items"][1:]] == ["2024-05-08", "2024-06-02"]


def test_full_width_colons_on_labels_of_their_own_and_in_html(bodies: BodyIndex) -> None:
    page = (
        "<html><body><article><h2>MERICS Top 5</h2><h3>1. Steel caps</h3>"
        "<p><strong>At a glance：</strong>The MIIT capped output.</p>"
        "<p><strong>MERICS comment：</strong>Quotas are back.</p>"
        "<p><strong>Policy name：</strong>Notice on Steel (关于钢铁的通知)<br>"
        "<strong>Issuing bodies：</strong>MIIT, NDRC<br><strong>Date：</strong>May 4, 2024</p>"
        "</article></body></html>"
    )
    top = parse_issue(html_to_document(page, "wide.html"), bodies).items[0]
    assert (top.summary, top.comment) == ("The MIIT capped output.", "Quotas are back.")
    assert top.policy is not None
    assert (top.policy.issuing_bodies, str(top.policy.date)) == (["MIIT", "NDRC"], "2024-05-04")


# ------------------------------------------------------------- story markers without stories


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (
            "1. Steel caps\n\nAt a glance – The MIIT capped output.\n\nMERICS comment – Quotas.\n\n"
            "NOTEWORTHY\n\nPolicy news\n\n- May 8: The NDRC set prices (NDRC notice)\n",
            'line 3 names a story field without a colon: "At a glance – The MIIT',
        ),
        (
            STORY.replace("1. Steel", "2. Steel"),
            "the first numbered story (line 3) is number 2, not 1",
        ),
        (
            "MERICS Top 5\n\n1. Steel caps\n\n2. Coal rules\n\nNOTEWORTHY\n\nPolicy news\n\n"
            "- May 8: The NDRC set prices (NDRC notice)\n",
            'the "Top 5" heading at line 1 is followed by no numbered story',
        ),
        (
            STORY.replace("1. Steel caps get a new rulebook", "Steel caps")
            + "\nCoal rules\n\nAt a glance: The NEA capped coal.\n",
            '2 "At a glance" paragraphs (the first at line 5) but no numbered story heading',
        ),
    ],
    ids=["glance-without-colon", "numbered-from-2", "top5-without-fields", "two-unnumbered"],
)
def test_story_markers_without_a_story_are_an_error(
    text: str, reason: str, bodies: BodyIndex
) -> None:
    """Each of these has news entries, so it used to pass as an issue without top stories."""
    with pytest.raises(ParseError, match="expected top stories") as info:
        issue(text, bodies)
    assert reason in str(info.value)
    assert str(info.value).startswith("case.txt: ")


def test_news_only_copy_without_story_markers_is_still_read(bodies: BodyIndex) -> None:
    news = STORY[STORY.index("NOTEWORTHY") :]
    items = issue(news + FOOTER, bodies)["items"]
    assert [i["section"] for i in items] == ["policy_news", "policy_news"]


# --------------------------------------------------------------------- prose after the goals


def test_paragraph_after_the_goals_is_summary_not_a_goal(bodies: BodyIndex) -> None:
    text = STORY.replace(
        "cubic metres\n",
        "cubic metres\n\nThe cap applies to all provinces but Tibet.\nIt runs\nuntil 2026.\n",
    )
    top = issue(text, bodies)["items"][0]
    assert top["goals"] == [
        "Cut crude steel output by 5 percent",
        "Retire furnaces below 1,200 cubic metres",
    ]
    assert top["summary"] == (
        "The MIIT capped crude steel output for the year.\n\n"
        "The cap applies to all provinces but Tibet. It runs until 2026."
    )


def test_paragraph_after_an_html_goals_list_is_summary(bodies: BodyIndex) -> None:
    """The 2020-21 web pages: <ul> of goals, then a <p> that goes on with the summary."""
    page = (
        "<html><body><article><h3>1. Steel caps</h3><p><strong>At a glance:</strong> The MIIT "
        "capped output. Goals:</p><ul><li>Cut output</li><li>Retire furnaces</li></ul>"
        "<p>The cap applies to all provinces.</p><ul><li>Report monthly</li></ul>"
        "<p><strong>MERICS comment:</strong> Quotas are back.</p></article></body></html>"
    )
    top = parse_issue(html_to_document(page, "goals.html"), bodies).items[0]
    assert top.goals == ["Cut output", "Retire furnaces", "Report monthly"]
    assert top.summary == "The MIIT capped output. Goals:\n\nThe cap applies to all provinces."


# ------------------------------------------------------------- fields that end at a paragraph


def test_story_without_date_keeps_the_next_paragraph_out_of_its_bodies(bodies: BodyIndex) -> None:
    text = STORY.replace(
        " Issuing body: MIIT Date: May 4, 2024\n",
        "\nIssuing bodies: MIIT, NDRC\n\nExhibit 1: Crude steel output by province\n",
    )
    top = issue(text, bodies)["items"][0]
    assert top["policy"]["issuing_bodies"] == ["MIIT", "NDRC"]
    assert top["policy"]["date"] is None
    assert top["comment"].endswith("\n\nExhibit 1: Crude steel output by province")


def test_a_field_label_with_its_value_in_the_next_paragraph_still_reads_it(
    bodies: BodyIndex,
) -> None:
    text = STORY.replace(
        " Issuing body: MIIT Date: May 4, 2024\n",
        "\n\nIssuing bodies:\n\nMIIT\n\nDate:\n\nMay 4, 2024\n",
    )
    policy = issue(text, bodies)["items"][0]["policy"]
    assert (policy["issuing_bodies"], policy["date"]) == (["MIIT"], "2024-05-04")


# ---------------------------------------------------------------------- years of news dates


@pytest.mark.parametrize(
    ("story_date", "news", "want"),
    [
        ("May 4, 2024", "May 8", "2024-05-08"),
        ("January 5, 2021", "December 28", "2020-12-28"),  # the news lies before the story
        ("December 20, 2020", "January 10", "2021-01-10"),  # ... or after it, in a new year
    ],
)
def test_issue_without_a_date_takes_news_years_from_its_stories(
    story_date: str, news: str, want: str, bodies: BodyIndex
) -> None:
    text = STORY.replace("May 4, 2024", story_date).replace("- May 8:", f"- {news}:")
    data = issue(text, bodies)
    assert data["issue"]["published"] is None  # nothing says when the issue appeared
    assert data["items"][1]["date"] == want


def test_page_date_gives_news_their_year(bodies: BodyIndex) -> None:
    page = (
        "<html><body><article><time datetime='2024-06-12T10:00:00Z'>Jun 12, 2024</time>"
        "<h2>NOTEWORTHY</h2><h3>Policy news</h3><ul><li><em>May 8:</em> The NDRC set prices "
        "(NDRC notice)</li></ul></article></body></html>"
    )
    item = parse_issue(html_to_document(page, "p.html"), bodies).items[0]
    assert str(item.date) == "2024-05-08"


# --------------------------------------------------------------------------------- authors


def test_authors_block_stops_before_the_editorial_team(bodies: BodyIndex) -> None:
    text = (
        STORY
        + FOOTER
        + (
            "\nAUTHORS\n\nJane Doe Senior Analyst, MERICS\n\nLi Wei Analyst, MERICS\n\n"
            "Editorial team\n\nClaudia Roe Director Communications, MERICS\n\n"
            "Managing editor: Max Mustermann\n\nPUBLISHER\n\nMERICS | Mercator Institute\n"
        )
    )
    assert issue(text, bodies)["issue"]["authors"] == ["Jane Doe", "Li Wei"]
    no_heading = text.replace("Editorial team\n\n", "Managing editor\n\n")
    assert issue(no_heading, bodies)["issue"]["authors"] == ["Jane Doe", "Li Wei"]


@pytest.mark.parametrize(
    "markup",
    [
        # an authors block, and team links in an editors' block and after a label
        "<div class='field--name-field-authors'><a href='/en/team/jane-doe'>Jane Doe</a></div>"
        "<div class='field--name-field-editors'><a href='/en/team/max-roe'>Max Roe</a></div>"
        "<p>Managing editor: <a href='/en/team/eva-poe'>Eva Poe</a></p>",
        # no block marked: labels decide
        "<p>By <a href='/en/team/jane-doe'>Jane Doe</a></p>"
        "<h2>Editorial team</h2><p><a href='/en/team/max-roe'>Max Roe</a></p>"
        "<p>Managing editor: <a href='/en/team/eva-poe'>Eva Poe</a></p>"
        "<p>Publisher: <a href='/en/team/merics'>MERICS</a></p>",
    ],
    ids=["authors-block", "labels"],
)
def test_html_authors_are_the_authors_only(markup: str, bodies: BodyIndex) -> None:
    page = f"<html><body><article><h1>Issue</h1>{markup}<p>1. Steel</p><p>At a glance: x</p></article></body></html>"
    assert parse_issue(html_to_document(page, "a.html"), bodies).issue.authors == ["Jane Doe"]


# ------------------------------------------------------------------------ 2020-21 headings


def test_briefing_heading_gives_title_and_month(bodies: BodyIndex) -> None:
    text = "MERICS China Industries Briefing - January 2021\n\n" + STORY.replace(
        "May 4, 2024", "December 22, 2020"
    ).replace("- May 8:", "- December 18:").replace("- June 2:", "- January 8:")
    data = issue(text, bodies)
    assert data["issue"]["title"] == "MERICS China Industries Briefing - January 2021"
    assert data["issue"]["published"] == "2021-01-01"  # the heading names only the month
    assert [i["date"] for i in data["items"]] == ["2020-12-22", "2020-12-18", "2021-01-08"]


def test_briefing_heading_as_page_title(bodies: BodyIndex) -> None:
    page = (
        "<html><body><article><div>MERICS China Industries</div>"
        "<h1>MERICS China Industries Briefing – October 2020</h1>"
        "<h3>1. Chips</h3><p>At a glance: The MIIT set targets.</p>"
        "<h3>Policy news</h3><ul><li><em>September 30:</em> The NDRC did x (NDRC)</li></ul>"
        "</article></body></html>"
    )
    got = parse_issue(html_to_document(page, "b.html"), bodies)
    assert (got.issue.title, str(got.issue.published)) == (
        "MERICS China Industries Briefing – October 2020",
        "2020-10-01",
    )
    assert str(got.items[1].date) == "2020-09-30"


def test_an_issue_date_beats_the_briefing_month(bodies: BodyIndex) -> None:
    text = "MERICS China Industries Briefing - January 2021\n\nJanuary 20, 2021\n\n" + STORY
    assert issue(text, bodies)["issue"]["published"] == "2021-01-20"


# ------------------------------------------------------------------------ Chinese titles


@pytest.mark.parametrize(
    ("written", "title_zh"),
    [
        ("国家发展改革委 国家能源局关于加快推进储能发展的通知", "国家发展改革委 国家能源局关于加快推进储能发展的通知"),
        ("中共中央 国务院关于深化改革的意见", "中共中央 国务院关于深化改革的意见"),
        ("工 业 和 信 息 化 部 关 于 钢 铁 的 通 知", "工业和信息化部关于钢铁的通知"),  # letter-spaced
        ("工业和信息化部办公厅关于印发设备更新和技术 改造指南的通知", "工业和信息化部办公厅关于印发设备更新和技术改造指南的通知"),
        ("工业和信息化部 办公厅关于钢铁的通知", "工业和信息化部办公厅关于钢铁的通知"),
        ("市场监管总局 等部门关于碳足迹的通知", "市场监管总局等部门关于碳足迹的通知"),
    ],
)  # fmt: skip
def test_chinese_title_keeps_the_space_between_issuing_organs(
    written: str, title_zh: str, bodies: BodyIndex
) -> None:
    text = STORY.replace("(关于钢铁产量调控的通知)", f"({written})")
    assert issue(text, bodies)["items"][0]["policy"]["title_zh"] == title_zh


# ----------------------------------------------------------------------- deeply nested pages


def test_deeply_nested_page_is_a_parse_error(bodies: BodyIndex) -> None:
    page = "<html><body><article>" + "<div>" * 5000 + "<p>1. A</p><p>At a glance: b</p>"
    page += "</div>" * 5000 + "</article></body></html>"
    with pytest.raises(ParseError, match="nested at most 256 elements deep"):
        parse_issue(load_document(page.encode(), "deep.html"), bodies)
    shallow = page.replace("<div>" * 5000, "<div>" * 200).replace("</div>" * 5000, "</div>" * 200)
    assert parse_issue(load_document(shallow.encode(), "ok.html"), bodies).items[0].headline == "A"
