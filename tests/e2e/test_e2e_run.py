"""``policywatch run`` (what ``make run`` runs): stage lines, the summary table, clear errors."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from flows import testing
from policywatch.demo import DemoWorld

CLI = str(Path(sys.executable).with_name("policywatch"))


def test_run_prints_stages_and_summary_and_fails_clearly(
    prefect_server: testing.PrefectServer,
    world: DemoWorld,
    child_env: Callable[..., dict[str, str]],
) -> None:
    env = child_env(prefect_server, {**world.env, "COLUMNS": "160"})

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [CLI, "run", *args], env=env, capture_output=True, text=True, timeout=120,
            check=False,
        )  # fmt: skip

    bad = run("--source", "nope")
    assert bad.returncode == 2, bad.stdout + bad.stderr
    assert "error: check-updates failed: unknown source(s): nope" in bad.stderr
    assert "hint: configured sources: merics" in bad.stderr
    assert "Traceback" not in bad.stderr  # Prefect's log lines stay in the API, not here
    assert "Task run" not in bad.stderr

    done = run()
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for stage in ("discover: 1 source(s), 3 candidate", "match: ", "deliver: "):
        assert f"✓ {stage}" in done.stderr
    assert "www.mee.gov.cn: challenge" in done.stderr  # policywatch's warnings are shown once
    assert done.stderr.count("www.mee.gov.cn: challenge") == 1
    assert "Traceback" not in done.stderr
    table = done.stdout
    assert "check-updates" in table
    assert "3 new" in table
    assert "1 blocked, 1 not_found" in table
    assert "alerts ev-batteries" in table
    assert len(world.messages()) > 0
