"""Golden files: each issue fixture against its hand-checked expected JSON."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from parsers.bodies import BodyIndex
from parsers.documents import load_document
from parsers.merics import parse_issue

REAL = "merics-china-industries-2024-10-02.txt"
CASES = ["html-2025-03-05.html", "text-2021-01.md", "pdf-2025-03-05.pdf"]


def parsed(path: Path, bodies: BodyIndex) -> dict[str, Any]:
    doc = load_document(path.read_bytes(), path.name)
    return parse_issue(doc, bodies).model_dump(mode="json")


def expected(fixtures: Path, name: str) -> dict[str, Any]:
    stem = name.rsplit(".", 1)[0]
    return json.loads((fixtures / f"{stem}.expected.json").read_text(encoding="utf-8"))


def link_urls(issue: dict[str, Any]) -> list[list[str]]:
    return [[link["url"] for link in item["links"]] for item in issue["items"]]


@pytest.mark.parametrize("name", CASES)
def test_synthetic_fixture_matches_golden(name: str, fixtures: Path, bodies: BodyIndex) -> None:
    got, want = parsed(fixtures / name, bodies), expected(fixtures, name)
    assert link_urls(got) == link_urls(want)  # the clearest message when a link goes astray
    assert got == want


def digest(text: str) -> dict[str, Any]:
    return {"sha256": hashlib.sha256(text.encode()).hexdigest()[:16], "chars": len(text)}


def digested(issue: dict[str, Any]) -> dict[str, Any]:
    """The real newsletter's prose stays out of the repository: the golden file holds a digest
    and the length of each summary, goal, comment, news headline and text; headlines of top
    stories, policy titles, bodies, dates and ids are literal."""
    for item in issue["items"]:
        for name in ("summary", "comment", "text"):
            if item[name] is not None:
                item[name] = digest(item[name])
        item["goals"] = [digest(goal) for goal in item["goals"]]
        if item["section"] != "top":
            item["headline"] = digest(item["headline"])
    return issue


def test_real_sample_matches_golden(
    shared_samples: Path, fixtures: Path, bodies: BodyIndex
) -> None:
    got = digested(parsed(shared_samples / REAL, bodies))
    want = expected(fixtures, "real-2024-10-02.txt")
    assert got["issue"] == want["issue"]
    for got_item, want_item in zip(got["items"], want["items"], strict=True):
        assert got_item == want_item, f"{want_item['section']} #{want_item['position']}"


def test_real_sample_counts(shared_samples: Path, bodies: BodyIndex) -> None:
    issue = parsed(shared_samples / REAL, bodies)
    sections = [item["section"] for item in issue["items"]]
    assert (sections.count("top"), sections.count("policy_news")) == (5, 10)
    assert sections.count("corporate_news") == 8
    assert issue["issue"]["period"] == {"start": "2024-08-24", "end": "2024-09-22"}
    assert all(item["date"] for item in issue["items"])
    top = [item for item in issue["items"] if item["section"] == "top"]
    assert top[4]["headline"].startswith("Tracking CO²:")
    assert all(item["policy"]["title_en"] and item["policy"]["issuing_bodies"] for item in top)
    assert [len(item["goals"]) for item in top] == [3, 4, 4, 4, 4]
    assert [item["comment"].count("\n\n") + 1 for item in top] == [3, 2, 2, 3, 2]
    assert [item["policy"]["title_zh"] is None for item in top] == [
        False,
        False,
        False,
        True,
        False,
    ]


def test_html_and_pdf_of_one_issue_share_ids(fixtures: Path, bodies: BodyIndex) -> None:
    html = parsed(fixtures / "html-2025-03-05.html", bodies)
    pdf = parsed(fixtures / "pdf-2025-03-05.pdf", bodies)
    assert [i["id"] for i in html["items"]] == [i["id"] for i in pdf["items"]]


def test_january_issue_dates_december_news_last_year(fixtures: Path, bodies: BodyIndex) -> None:
    issue = parsed(fixtures / "text-2021-01.md", bodies)
    dates = {item["headline"][:10]: item["date"] for item in issue["items"]}
    assert dates["The Nation"] == "2020-12-18"
    assert dates["The State "] == "2021-01-08"


def test_sidebar_list_stays_in_its_story(fixtures: Path, bodies: BodyIndex) -> None:
    issue = parsed(fixtures / "text-2021-01.md", bodies)
    first = issue["items"][0]
    assert "9. Building materials" in first["comment"]
    assert [i["position"] for i in issue["items"] if i["section"] == "top"] == [1, 2]


def test_real_sample_fields_read_by_hand(shared_samples: Path, bodies: BodyIndex) -> None:
    """Spot checks written from reading the sample, independent of the golden digests: the
    bullet that lost its glyph, the one-line and several-line document blocks, a title without a
    Chinese name, news years and the entry that starts after a blank line."""
    issue = parsed(shared_samples / REAL, bodies)
    top = [item for item in issue["items"] if item["section"] == "top"]
    news = [item for item in issue["items"] if item["section"] != "top"]
    assert top[1]["goals"][3].startswith("Achieve a digital R&D and design tools adoption rate")
    assert top[0]["summary"].endswith("such as:")
    assert top[0]["comment"].startswith("Eight rounds of Manufacturing Champions")
    assert (
        top[1]["policy"]["title_zh"]
        == "工业和信息化部办公厅关于印发工业重点行业领域设备更新和技术改造指南的通知"
    )
    assert top[3]["policy"] == {
        "title_en": "Implementation Guidelines for the Synergistic Development of the Digital "
        "and Green Transformations",
        "title_zh": None,
        "issuing_bodies": ["CAC"],
        "date": "2024-08-24",
    }
    assert top[4]["policy"]["date"] == "2024-09-10"
    assert [item["date"] for item in news if item["section"] == "policy_news"][-1] == "2024-09-14"
    assert news[-1]["date"] == "2024-09-20"
    assert news[-1]["headline"].startswith("The Huawei Mate XT")
    assert all(item["date"].startswith("2024-") for item in news)
