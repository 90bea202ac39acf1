"""Golden tests: every fixture page parses to its reviewed ``<case>.expected.json``.

The parser is chosen by the URL's host (cases.yaml), so these also test the host registry.
Set ``POLICYWATCH_UPDATE_GOLDEN=1`` to rewrite the expected files after a deliberate change,
then review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from parsers.bodies import BodyIndex
from parsers.notices import PARSERS, parse_notice
from tests.notices.conftest import FIXTURES, load_cases

CASES = load_cases()
UPDATE = os.environ.get("POLICYWATCH_UPDATE_GOLDEN") == "1"


def _parse(case: str, options: dict[str, Any], bodies: BodyIndex) -> dict[str, Any]:
    page = (FIXTURES / f"{case}.html").read_bytes()
    notice = parse_notice(page, options["url"], bodies=bodies, encoding=options.get("encoding"))
    return notice.model_dump(mode="json", exclude={"fetched_at"})


@pytest.mark.parametrize("case", sorted(CASES))
def test_fixture_matches_golden(case: str, bodies: BodyIndex) -> None:
    got = _parse(case, CASES[case], bodies)
    expected_file = FIXTURES / f"{case}.expected.json"
    if UPDATE:
        expected_file.write_text(json.dumps(got, ensure_ascii=False, indent=2) + "\n", "utf-8")
    assert got == json.loads(expected_file.read_text("utf-8"))


def test_every_fixture_page_has_a_case() -> None:
    pages = {str(p.relative_to(FIXTURES).with_suffix("")) for p in FIXTURES.glob("*/*.html")}
    assert pages == set(CASES)


def test_every_site_parser_has_an_ok_fixture() -> None:
    expected = [_read(FIXTURES / f"{case}.expected.json") for case in CASES]
    ok_sites = {e["site"] for e in expected if e.get("status") == "ok"}
    assert ok_sites == set(PARSERS)


def test_gbk_fixture_really_is_gbk() -> None:
    raw = (FIXTURES / "mee" / "gbk-no-charset.gbk.html").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    assert b"charset" not in raw.lower()
    assert "危险废物" in raw.decode("gbk")


def test_lying_charset_fixture_declares_utf8_but_is_gbk() -> None:
    raw = (FIXTURES / "nea" / "charset-lies.html").read_bytes()
    assert b'charset="utf-8"' in raw
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")


def test_golden_files_exist_for_each_case() -> None:
    missing = [c for c in CASES if not (FIXTURES / f"{c}.expected.json").is_file()]
    assert missing == []


def _read(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text("utf-8")) if path.is_file() else {}
    return data


@pytest.mark.parametrize(
    "case",
    [c for c in sorted(CASES) if _read(FIXTURES / f"{c}.expected.json").get("status") == "ok"],
)
def test_ok_notices_have_every_field(case: str) -> None:
    notice = _read(FIXTURES / f"{case}.expected.json")
    for key in ("title", "issuing_body", "doc_number", "published", "body_text", "content_hash"):
        assert notice[key], f"{case}: {key} is empty"
    assert "【打印本页】" not in notice["body_text"]
    assert "分享到" not in notice["body_text"]
    assert "版权所有" not in notice["body_text"]
