"""Golden tests: every list fixture parses to its reviewed ``<case>.expected.json``.

A case's expected file is the ListPage JSON, or ``{"raises": <class>, "message": <text>}`` for
pages that must fail (a challenge page, a changed layout, an API error). Set
``POLICYWATCH_UPDATE_GOLDEN=1`` to rewrite the expected files after a deliberate change, then
review the diff.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from parsers.errors import ParseError
from parsers.lists import LIST_PARSERS, parse_list
from tests.lists.conftest import FIXTURES, fixture_file, load_cases

CASES = load_cases()
UPDATE = os.environ.get("POLICYWATCH_UPDATE_GOLDEN") == "1"


def _parse(case: str, options: dict[str, Any]) -> dict[str, Any]:
    site = case.split("/", 1)[0]
    data = fixture_file(case).read_bytes()
    try:
        page = parse_list(site, data, options["url"], encoding=options.get("encoding"))
    except ParseError as exc:
        return {"raises": type(exc).__name__, "message": str(exc)}
    return page.model_dump(mode="json")


def _expected(case: str) -> dict[str, Any]:
    path = FIXTURES / f"{case}.expected.json"
    data: dict[str, Any] = json.loads(path.read_text("utf-8")) if path.is_file() else {}
    return data


@pytest.mark.parametrize("case", sorted(CASES))
def test_fixture_matches_golden(case: str) -> None:
    got = _parse(case, CASES[case])
    if UPDATE:
        path = FIXTURES / f"{case}.expected.json"
        path.write_text(json.dumps(got, ensure_ascii=False, indent=2) + "\n", "utf-8")
    assert got == _expected(case)


def test_every_fixture_file_has_a_case() -> None:
    files = {
        str(p.relative_to(FIXTURES)).rsplit(".", 1)[0]
        for p in FIXTURES.glob("*/*")
        if not p.name.endswith(".expected.json")
    }
    assert files == set(CASES)


def test_every_case_has_a_golden_file() -> None:
    assert [c for c in CASES if not (FIXTURES / f"{c}.expected.json").is_file()] == []


def test_every_site_has_a_fixture_with_dated_entries() -> None:
    with_entries = {
        c.split("/")[0]
        for c in CASES
        if _expected(c).get("entries") and all(e["published"] for e in _expected(c)["entries"])
    }
    assert with_entries == set(LIST_PARSERS)


def test_two_step_sites_have_a_column_page_and_an_api_answer() -> None:
    follows = {c.split("/")[0] for c in CASES if _expected(c).get("follow")}
    assert follows == {"miit", "samr", "mofcom", "nea"}


def test_gbk_fixture_really_is_gbk_with_a_meta_charset() -> None:
    raw = fixture_file("ndrc/tz-gbk").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    assert b"charset=gb2312" in raw
    assert "国家发展改革委关于完善光伏发电上网电价机制" in raw.decode("gbk")


def test_the_gbk_page_decodes_without_mojibake() -> None:
    expected = _expected("ndrc/tz-gbk")
    titles = [e["title"] for e in expected["entries"]]
    assert titles[0] == "国家发展改革委关于完善光伏发电上网电价机制有关问题的通知"
    assert all("\ufffd" not in t for t in titles)


def test_entries_keep_the_page_order() -> None:
    for case in CASES:
        entries = _expected(case).get("entries") or []
        dates = [e["published"] for e in entries if e["published"]]
        assert dates == sorted(dates, reverse=True), f"{case}: not newest-first"
