"""``policywatch demo`` (what ``make demo`` runs) exits 0 and shows the expected alerts."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from flows import testing

CLI = str(Path(sys.executable).with_name("policywatch"))


def test_demo_runs_offline_and_alerts_only_once(
    prefect_server: testing.PrefectServer, child_env: Callable[..., dict[str, str]]
) -> None:
    done = subprocess.run(
        [CLI, "demo"], env=child_env(prefect_server, {"COLUMNS": "200"}),
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    out = done.stdout
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    first, rest = out.split("2. second run: nothing new")
    second, third = rest.split("3. a fourth issue")
    assert "[export-controls] Rare-earth tracing" in first
    assert "[ev-batteries] Every battery gets a passport" in first
    assert "[ai-and-data] Data exchanges get national rules" in first
    assert "✉" not in second
    assert "[ev-batteries] A roadmap for solid-state batteries" in third
    assert "[export-controls] Tighter export controls on gallium" in third
    assert third.count("✉") == 2
    assert "then 0 re-sent" in out
