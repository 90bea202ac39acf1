"""``policywatch parsers`` and ``policywatch parse`` on saved notice pages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from parsers.notices import PARSERS
from policywatch.cli import app
from tests.notices.conftest import FIXTURES


def _run(repo_root: Path, *args: str) -> str:
    result = CliRunner().invoke(app, ["--config-dir", str(repo_root / "config"), *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_parsers_lists_one_line_per_registered_parser(repo_root: Path) -> None:
    lines = _run(repo_root, "parsers").splitlines()
    assert sorted(line.split()[0] for line in lines) == sorted(PARSERS)
    miit = next(line for line in lines if line.startswith("miit "))
    assert "wap.miit.gov.cn" in miit
    assert "#con_con" in miit
    assert lines[-1].startswith("generic ")


@pytest.mark.parametrize(
    ("case", "site"),
    [("miit/wjfb-tz", "miit"), ("ndrc/tz", None), ("govcn/zhengceku-joint", "govcn")],
)
def test_parse_saved_notice_prints_notice_json(
    repo_root: Path, case: str, site: str | None
) -> None:
    path = FIXTURES / f"{case}.html"
    args = ["parse", str(path), *(["--site", site] if site else [])]
    got = json.loads(_run(repo_root, *args))
    want = json.loads((FIXTURES / f"{case}.expected.json").read_text("utf-8"))
    # A saved file has no web address, so relative links stay relative to the file name.
    for key in ("site", "status", "title", "issuing_body", "doc_number", "published", "body_text"):
        assert got[key] == want[key], key
    assert got["url"] == str(path)


def test_parse_with_an_unknown_site_is_a_usage_error(repo_root: Path) -> None:
    path = FIXTURES / "miit/wjfb-tz.html"
    args = ["--config-dir", str(repo_root / "config"), "parse", str(path), "--site", "miitt"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "unknown site 'miitt'" in result.output
    assert "miit" in result.output.split("known:")[1]
