"""``policywatch run`` (what ``make run`` runs): stage lines, the summary table, clear errors."""

from __future__ import annotations

import os
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

    first = run()  # a fresh state and issues older than 14 days: a silent baseline
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert "✓ baseline: " in first.stderr, first.stderr
    assert world.messages() == []

    env["POLICYWATCH_STATE_URL"] = f"sqlite:///{world.root / 'other-state.db'}"
    done = run("--alert-existing")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for stage in ("discover: 2 source(s), 5 candidate", "match: ", "deliver: "):
        assert f"✓ {stage}" in done.stderr
    assert "www.mee.gov.cn: challenge" in done.stderr  # policywatch's warnings are shown once
    assert done.stderr.count("www.mee.gov.cn: challenge") == 1
    assert "Traceback" not in done.stderr
    table = done.stdout
    assert "check-updates" in table
    assert "4 new" in table  # three issues and MIIT's notice
    assert "1 blocked, 1 not_found" in table
    assert "alerts ev-batteries" in table
    assert len(world.messages()) > 0


def test_serve_against_an_unreachable_api_says_so_without_a_traceback(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "POLICYWATCH_"))}
    env.update(
        PREFECT_API_URL=f"http://127.0.0.1:{testing.free_port()}/api",
        PREFECT_HOME=str(tmp_path / "prefect"),
        PREFECT_CLIENT_MAX_RETRIES="0",
        COLUMNS="160",
    )
    done = subprocess.run(
        [CLI, "serve"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "error: the Prefect API at http://127.0.0.1:" in done.stderr
    assert "ConnectError" in done.stderr
    assert "Traceback" not in done.stderr
