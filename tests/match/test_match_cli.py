"""``check-config``, ``schema``, ``match`` and ``match --backtest`` through the CLI app."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from match_helpers import notice
from typer.testing import CliRunner, Result

from parsers.bodies import BodyIndex
from parsers.documents import load_document
from parsers.merics import parse_issue
from policywatch.cli import app
from policywatch.store import Store
from policywatch.watchlists import json_schema_text

FIXTURE = Path(__file__).parent / "fixtures" / "issue-2025-03.txt"

WATCHLISTS = """\
watchlists:
  - name: batteries
    sectors: [batteries]
    companies: [宁德时代]
    exclude: [recall]
  - name: cac
    bodies: [CAC]
  - name: catl-only
    companies: [CATL]
    sections: [corporate_news]
"""


def run(config_dir: Path, *args: str) -> Result:
    return CliRunner().invoke(app, ["--config-dir", str(config_dir), *args])


def test_check_config_ok(config_copy: Path) -> None:
    result = run(config_copy, "check-config", "--no-env")
    assert result.exit_code == 0, result.output
    for name in ("policywatch.yaml", "bodies.yaml", "sectors.yaml", "channels.yaml"):
        assert f"{config_copy / name}" in result.stdout
    assert "watchlist(s)" in result.stdout


def test_check_config_reports_every_file_at_once_and_exits_2(config_copy: Path) -> None:
    sectors = config_copy / "sectors.yaml"
    sectors.write_text(
        sectors.read_text(encoding="utf-8").replace("\n    terms_en:", "\n    terms_eng:", 1),
        encoding="utf-8",
    )
    (config_copy / "watchlists.yaml").write_text(
        "watchlists:\n  - name: a\n    keywords: [x]\n    chanels: [ops]\n", encoding="utf-8"
    )
    (config_copy / "policywatch.yaml").write_text("state_ur: sqlite://\n", encoding="utf-8")
    result = run(config_copy, "check-config", "--no-env")
    assert result.exit_code == 2
    err = result.stderr
    assert f"{config_copy / 'policywatch.yaml'}:1: state_ur: unknown key" in err
    assert f"{sectors}:" in err
    assert "terms_eng: unknown key (did you mean 'terms_en'?)" in err
    assert f"{config_copy / 'watchlists.yaml'}:4: watchlists[0].chanels: unknown key" in err
    assert "ok   " + str(config_copy / "bodies.yaml") in result.stdout


def test_check_config_without_secrets_in_the_environment_fails(
    config_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("POLICYWATCH_SMTP_URL", "POLICYWATCH_SLACK_URL", "POLICYWATCH_OPS_URL"):
        monkeypatch.delenv(var, raising=False)
    result = run(config_copy, "check-config")
    assert result.exit_code == 1  # valid files, but every channel is disabled
    assert "POLICYWATCH_SMTP_URL" in result.stderr


def test_schema_prints_and_writes(config_copy: Path, tmp_path: Path) -> None:
    result = run(config_copy, "schema")
    assert result.exit_code == 0
    assert result.stdout == json_schema_text()
    out = tmp_path / "schema.json"
    assert run(config_copy, "schema", "--output", str(out)).exit_code == 0
    assert out.read_text(encoding="utf-8") == json_schema_text()


@pytest.fixture
def watchlists_file(tmp_path: Path) -> Path:
    path = tmp_path / "mine.yaml"
    path.write_text(WATCHLISTS, encoding="utf-8")
    return path


def test_match_json_says_which_items_fire_what_and_why(
    config_copy: Path, watchlists_file: Path
) -> None:
    result = run(
        config_copy, "match", str(FIXTURE), "--watchlists", str(watchlists_file), "-f", "json"
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    fired = {
        it["headline"][:20]: {m["watchlist"]: m["reasons"] for m in it["matches"]}
        for it in data["items"]
    }
    top = fired["Battery makers get n"]
    assert set(top) == {"batteries"}
    terms = {(r["facet"], r["term"], r["found"]) for r in top["batteries"]}
    assert ("company", "宁德时代", "CATL") in terms
    assert fired["The Cyberspace Admin"] == {"cac": fired["The Cyberspace Admin"]["cac"]}
    assert fired["Every steelmaker in "] == {}  # "CATLike" is not CATL, "Every" is not EV
    top_item = data["items"][0]
    assert top_item["companies"] == ["CATL", "BYD"]
    assert "batteries" in top_item["sectors"]


def test_match_table(config_copy: Path, watchlists_file: Path) -> None:
    result = run(config_copy, "match", str(FIXTURE), "--watchlists", str(watchlists_file))
    assert result.exit_code == 0, result.output
    assert "[batteries]" in result.stdout
    assert "2 of 5 items matched" in result.stdout


def test_match_needs_a_target_or_backtest(config_copy: Path) -> None:
    result = run(config_copy, "match")
    assert result.exit_code != 0


def test_backtest_counts_alerts_per_month_over_the_store(
    config_copy: Path,
    watchlists_file: Path,
    tmp_path: Path,
    bodies: BodyIndex,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    issue = parse_issue(load_document(FIXTURE.read_bytes(), str(FIXTURE)), bodies)
    recall = notice("A recall of 5,000 battery packs.", url="https://www.miit.gov.cn/n1.html")
    top = issue.items[0]
    with Store.open(url) as store:
        store.record(
            issue_id="2025-03",
            source="test",
            meta=issue.issue,
            content_hash="h1",
            items=issue.items,
            notices=[recall],
            item_notices={top.id: [recall.url]},
        )
    monkeypatch.setenv("POLICYWATCH_STATE_URL", url)
    args = ["match", "--backtest", "--watchlists", str(watchlists_file), "-f", "json"]
    result = run(config_copy, *args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["cac"]["per_month"] == {"2025-03": 1}
    assert data["cac"]["examples"][0]["why"] == [
        'body CAC: "Cyberspace Administration of China" in headline'
    ]
    assert data["batteries"]["total"] == 0  # the linked notice's "recall" excludes the item
    assert data["catl-only"]["total"] == 0  # CATL appears only outside corporate news
    later = json.loads(run(config_copy, *args, "--since", "2025-03-06").stdout)
    assert later["cac"]["total"] == 0
    table = run(config_copy, "match", "--backtest", "--watchlists", str(watchlists_file))
    assert "backtest over 5 stored items" in table.stdout


def test_check_config_never_prints_the_state_password(
    config_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POLICYWATCH_STATE_URL", "postgresql+psycopg://pw:s3cret@db.internal/pw")
    result = run(config_copy, "check-config", "--no-env")
    assert result.exit_code == 0, result.output
    assert "s3cret" not in result.output
    assert "pw:***@db.internal" in result.stdout


def test_match_with_notices_fetches_the_cited_notices_and_matches_their_text(
    config_copy: Path, tmp_path: Path, repo_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The polysilicon item cites a Chinese MIIT notice that speaks of 碳足迹 (carbon
    footprint): the English carbon sector watchlist fires on it only with --notices."""
    from policywatch.devtools.loopback import LoopbackServer
    from policywatch.pipeline import HOST_MAP_ENV

    site = repo_root / "samples" / "site"
    brief = site / "merics.org/en/merics-briefs"
    brief /= "battery-passports-industrial-robots-rare-earth-tracing.html"
    lists = tmp_path / "carbon.yaml"
    lists.write_text("watchlists:\n  - name: carbon\n    sectors: [carbon-emissions]\n", "utf-8")
    args = ("match", str(brief), "--watchlists", str(lists), "-f", "json")
    polysilicon = "The MIIT asked provinces to report idle capacity"

    def items(result: Result) -> dict[str, dict[str, Any]]:
        assert result.exit_code == 0, result.output
        found = {it["headline"]: it for it in json.loads(result.stdout)["items"]}
        return {h: it for h, it in found.items() if h.startswith(polysilicon)}

    with LoopbackServer(site) as server:
        monkeypatch.setenv(HOST_MAP_ENV, server.base)
        (plain,) = items(run(config_copy, *args)).values()
        assert not server.counts  # nothing fetched without --notices
        (cited,) = items(run(config_copy, *args, "--notices")).values()
        notice = "/www.miit.gov.cn/zwgk/zcwj/wjfb/tz/art/2026/"
        notice += "art_3b1f0c2a9d8e4f6a8c7b5e4d3a2f1e0d.html"
        assert server.counts[notice] == 1  # cited by two items, fetched once
    assert plain["matches"] == []
    assert "carbon-emissions" not in plain["sectors"]
    assert "notices" not in plain
    assert [n["status"] for n in cited["notices"]] == ["ok"]
    assert "carbon-emissions" in cited["sectors"]  # the notice's text tags the item too
    (match,) = cited["matches"]
    reason = match["reasons"][0]
    assert (reason["facet"], reason["term"], reason["field"]) == (
        "sector",
        "carbon-emissions",
        "notice.body_text",
    )
    assert reason["found"] == "碳足迹"
    assert "碳足迹" in reason["snippet"]
