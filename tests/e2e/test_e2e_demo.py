"""``policywatch demo`` (what ``make demo`` runs) exits 0 and shows the expected alerts."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from flows import testing

CLI = str(Path(sys.executable).with_name("policywatch"))


def test_demo_runs_offline_and_alerts_only_once(
    prefect_server: testing.PrefectServer, child_env: Callable[..., dict[str, str]], tmp_path: Path
) -> None:
    """Twice in one project: the second demo starts afresh in var/demo/ and tells the same story."""
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "policywatch.yaml").write_text("# defaults\n", encoding="utf-8")
    outputs = [_demo(child_env(prefect_server, {"COLUMNS": "200"}), tmp_path) for _ in range(2)]
    demo = tmp_path / "var" / "demo"
    assert f"kept in {demo}" in outputs[1]
    assert (demo / "state.db").is_file()
    mails = sorted(p.name for p in (demo / "mail").iterdir())
    assert len(mails) == outputs[1].count("✉") == 15  # 13, then 0, then 2: as the story says
    assert "run3-02.eml" in mails
    for out in outputs:
        _check_story(out)


def _demo(env: dict[str, str], cwd: Path) -> str:
    done = subprocess.run(
        [CLI, "demo"], env=env, cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def _check_story(out: str) -> None:
    first, rest = out.split("2. second run: nothing new")
    second, third = rest.split("3. a fourth issue")
    assert "[export-controls] Rare-earth tracing" in first
    assert "[ev-batteries] Every battery gets a passport" in first
    assert "[ai-and-data] Data exchanges get national rules" in first
    assert (
        "[ev-batteries] 工业和信息化部关于印发固态电池产业发展路线图的通知" in first
    )  # MIIT's list
    assert "✉" not in second
    assert "[ev-batteries] Follow-up: A roadmap for solid-state batteries" in third
    assert "[export-controls] Tighter export controls on gallium" in third
    assert third.count("✉") == 2
    assert "then 0 re-sent" in out
