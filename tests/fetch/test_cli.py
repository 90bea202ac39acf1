"""``policywatch discover`` / ``fetch`` against the loopback MERICS-like site."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from policywatch.cli import app
from policywatch.devtools.loopback import LoopbackServer


def config_dir(tmp_path: Path, site: LoopbackServer) -> Path:
    folder = tmp_path / "config"
    folder.mkdir()
    (folder / "policywatch.yaml").write_text(
        f"""\
http:
  per_host_interval: 0
  allowed_hosts: ["127.0.0.1"]
sources:
  - name: merics
    type: merics
    feed_url: {site.url("/en/rss.xml")}
    listing_url: {site.url("/en/analysis?field_publication_type=15")}
  - name: inbox
    type: folder
    path: inbox
""",
        "utf-8",
    )
    (tmp_path / "inbox").mkdir()
    (tmp_path / "inbox" / "saved-issue.txt").write_text("MERICS China Industries", "utf-8")
    return folder


def test_discover_twice_with_a_state_file(merics_site: LoopbackServer, tmp_path: Path) -> None:
    folder = config_dir(tmp_path, merics_site)
    state = tmp_path / "state.json"
    args = ["--config-dir", str(folder), "discover", "--state-file", str(state), "--json"]
    runner = CliRunner()

    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    rows = [json.loads(line) for line in first.stdout.splitlines()]
    assert [(r["source"], r["title"]) for r in rows] == [
        ("merics", "Robot standards + Battery recycling + Chip subsidies"),
        ("merics", "Grid upgrades + Data exchanges + Drone rules"),
        ("inbox", "saved-issue"),
    ]
    saved = json.loads(state.read_text("utf-8"))
    assert saved["merics"]["etag"]
    assert len(saved["inbox"]["seen"]) == 1
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("state")] == ["state.json"]

    merics_site.reset_counts()
    second = runner.invoke(app, args)
    assert second.exit_code == 0, second.output
    assert second.stdout == ""
    assert merics_site.total_requests() == 1


def test_discover_unknown_source_and_failure(merics_site: LoopbackServer, tmp_path: Path) -> None:
    folder = config_dir(tmp_path, merics_site)
    runner = CliRunner()
    unknown = runner.invoke(app, ["--config-dir", str(folder), "discover", "--source", "nope"])
    assert unknown.exit_code != 0
    assert "no source named 'nope'" in str(unknown.exception)

    (tmp_path / "inbox" / "saved-issue.txt").unlink()
    (tmp_path / "inbox").rmdir()
    failed = runner.invoke(app, ["--config-dir", str(folder), "discover", "-s", "inbox"])
    assert failed.exit_code == 2
    assert "source inbox failed" in failed.stderr


def test_fetch_saves_the_body(merics_site: LoopbackServer, tmp_path: Path) -> None:
    folder = config_dir(tmp_path, merics_site)
    out = tmp_path / "feed.xml"
    result = CliRunner().invoke(
        app, ["--config-dir", str(folder), "fetch", merics_site.url("/en/rss.xml"), "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "200" in result.stderr
    assert "attempts=1" in result.stderr
    assert merics_site.root is not None
    assert out.read_bytes() == (merics_site.root / "en" / "rss.xml").read_bytes()
