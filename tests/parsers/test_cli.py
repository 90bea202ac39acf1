"""``policywatch parse`` end to end through the console script's app."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from policywatch.cli import app


def untagged(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Items without the sectors/companies the CLI's tagging step adds (tested elsewhere)."""
    return [{k: v for k, v in item.items() if k not in ("sectors", "companies")} for item in items]


def test_parse_json_prints_the_contract(fixtures: Path, repo_root: Path) -> None:
    path = fixtures / "text-2021-01.md"
    result = CliRunner().invoke(
        app, ["--config-dir", str(repo_root / "config"), "parse", str(path), "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    want = json.loads((fixtures / "text-2021-01.expected.json").read_text(encoding="utf-8"))
    assert untagged(data["items"]) == untagged(want["items"])
    assert "工业互联网创新发展行动计划" in result.stdout  # ensure_ascii=False
    assert "context" not in result.stdout


def test_parse_table(fixtures: Path, repo_root: Path) -> None:
    path = fixtures / "html-2025-03-05.html"
    result = CliRunner().invoke(
        app, ["--config-dir", str(repo_root / "config"), "parse", str(path), "-f", "table"]
    )
    assert result.exit_code == 0, result.output
    assert "8 items" in result.stdout
    assert "Closing" in result.stdout


def test_bad_file_is_one_clear_error(tmp_path: Path, repo_root: Path) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_text("shopping list: milk, eggs\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["--config-dir", str(repo_root / "config"), "parse", str(bad)])
    assert result.exit_code != 0
    assert isinstance(result.exception, Exception)
    assert "expected a MERICS China Industries issue" in str(result.exception)


def test_parse_url_over_loopback(fixture_site: str, loopback_config: Path, fixtures: Path) -> None:
    url = f"{fixture_site}/html-2025-03-05.html"
    result = CliRunner().invoke(app, ["--config-dir", str(loopback_config), "parse", url])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    want = json.loads((fixtures / "html-2025-03-05.expected.json").read_text(encoding="utf-8"))
    assert data["issue"]["url"] == url
    assert untagged(data["items"]) == untagged(want["items"])


def test_parse_reads_standard_input(fixtures: Path, repo_root: Path) -> None:
    text = (fixtures / "text-2021-01.md").read_bytes()
    config = ["--config-dir", str(repo_root / "config")]
    result = CliRunner().invoke(app, [*config, "parse", "-"], input=text)
    assert result.exit_code == 0, result.output
    want = json.loads((fixtures / "text-2021-01.expected.json").read_text(encoding="utf-8"))
    assert untagged(json.loads(result.stdout)["items"]) == untagged(want["items"])


def test_directory_is_named_as_such(tmp_path: Path, repo_root: Path) -> None:
    result = CliRunner().invoke(
        app, ["--config-dir", str(repo_root / "config"), "parse", str(tmp_path)]
    )
    assert result.exit_code != 0
    assert "this is a directory" in str(result.exception)
