"""``policywatch demo`` (what ``make demo`` runs) exits 0 and shows the expected alerts, on the
temporary Prefect API a new user gets when no server is configured (``flows.temporary_api``)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

CLI = str(Path(sys.executable).with_name("policywatch"))


@pytest.fixture(scope="module")
def no_api_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """No PREFECT_API_URL: the CLI starts its own temporary API; one PREFECT_HOME for the
    module, so its database is migrated once."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "POLICYWATCH_"))}
    home = tmp_path_factory.mktemp("prefect-home")
    env.update(PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false", COLUMNS="200")
    return env


def test_demo_runs_offline_and_alerts_only_once(no_api_env: dict[str, str], tmp_path: Path) -> None:
    """Twice in one project: the second demo starts afresh in var/demo/ and tells the same story.
    Each demo's three runs share one temporary API, which is gone when the demo exits, and the
    runs and their tasks are in PREFECT_HOME's database."""
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "policywatch.yaml").write_text("# defaults\n", encoding="utf-8")
    outputs = [_demo(no_api_env, tmp_path) for _ in range(2)]
    assert _api_servers(no_api_env["PREFECT_HOME"]) == []
    with sqlite3.connect(Path(no_api_env["PREFECT_HOME"]) / "prefect.db") as db:
        runs = db.execute(
            "SELECT state_type, count(*) FROM flow_run GROUP BY state_type"
        ).fetchall()
        delivered = db.execute(
            "SELECT count(DISTINCT flow_run_id) FROM task_run"
            " WHERE name = 'deliver alerts' AND state_type = 'COMPLETED'"
        ).fetchone()[0]
    assert runs == [("COMPLETED", 6)]
    assert delivered == 6  # each run's last task reached the API before it stopped
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


def _api_servers(home: str) -> list[int]:
    """The temporary API servers (uvicorn on Prefect's app) running with this PREFECT_HOME."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes()
            environ = (proc / "environ").read_bytes()
        except OSError:
            continue
        if b"prefect.server.api.server:create_app" in cmdline and home.encode() in environ:
            found.append(int(proc.name))
    return found


def test_a_killed_run_takes_its_temporary_api_with_it(
    no_api_env: dict[str, str], tmp_path: Path
) -> None:
    """kill -9 of the CLI (here the demo's) leaves no Prefect server behind (the kernel's
    parent-death signal)."""
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "policywatch.yaml").write_text("# defaults\n", encoding="utf-8")
    proc = subprocess.Popen(
        [CLI, "demo"], env=no_api_env, cwd=tmp_path,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not (servers := _api_servers(no_api_env["PREFECT_HOME"])):
            assert proc.poll() is None, "the demo ended before its temporary API was seen"
            assert time.monotonic() < deadline, "no temporary API seen within 60 s"
            time.sleep(0.1)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    deadline = time.monotonic() + 15
    while _api_servers(no_api_env["PREFECT_HOME"]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _api_servers(no_api_env["PREFECT_HOME"]) == [], f"left running: {servers}"
