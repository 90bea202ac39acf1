"""Exit codes of ``policywatch run`` and ``policywatch deliver`` as real subprocesses (README,
"Exit codes"): 0 clean, 1 completed with problems (a partial delivery included), 2 failed (the
run failed, or alerts were due and none could be delivered)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from flows import testing
from policywatch.demo import DemoWorld, demo_world
from tests.health.worlds import add_folder_source, drop_source, merics_only

CLI = str(Path(sys.executable).with_name("policywatch"))
FEED = "/merics.org/en/rss.xml"
SMTP_ENV = "POLICYWATCH_DEMO_SMTP_URL"


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, *args], env=env, capture_output=True, text=True, timeout=180, check=False
    )


def add_team_channel(world: DemoWorld) -> None:
    """A second channel whose variable is never set; the AI watchlist alerts there."""
    channels = world.config_dir / "channels.yaml"
    text = channels.read_text("utf-8").rstrip("\n") + "\n  team:\n    url: ${PW_TEAM_URL}\n"
    channels.write_text(text, "utf-8")
    watchlists = world.config_dir / "watchlists.yaml"
    text = watchlists.read_text("utf-8")
    head, ai = text.split("  - name: ai-and-data", 1)
    watchlists.write_text(head + "  - name: ai-and-data" + ai.replace("[analyst-email]", "[team]"))


def test_run_exits_1_with_problems_and_2_when_failed(
    prefect_server: testing.PrefectServer,
    world: DemoWorld,
    child_env: Callable[..., dict[str, str]],
    tmp_path: Path,
) -> None:
    # a source down while another works: completed with problems, one warning line
    merics_only(world)
    add_folder_source(world)
    world.site.routes[FEED] = lambda request: (500, {"Content-Type": "text/plain"}, b"down")
    env = child_env(prefect_server, {**world.env, "COLUMNS": "200"})
    down = cli(env, "run")
    assert down.returncode == 1, down.stdout[-2000:] + down.stderr[-2000:]
    assert down.stderr.count("source merics failed: https://merics.org/en/rss.xml: server") == 1
    assert "completed with 1 problem(s):" in down.stderr
    assert "- source merics unreachable (1 failed run): " in down.stderr
    assert "Traceback" not in down.stderr
    assert " ERROR " not in down.stderr

    # the only source down: the run failed
    drop_source(world, "saved")
    failed = cli(env, "run")
    assert failed.returncode == 2, failed.stdout[-2000:] + failed.stderr[-2000:]
    assert "error: check-updates failed: no source was reachable (merics: " in failed.stderr
    assert "Traceback" not in failed.stderr

    # a partial delivery (one of two channels is disabled): completed with problems
    with demo_world(tmp_path / "partial", set_env=False) as other:
        add_team_channel(other)
        env = child_env(prefect_server, {**other.env, "COLUMNS": "200"})
        partial = cli(env, "run", "--alert-existing")  # the demo's issues are weeks old
        assert partial.returncode == 1, partial.stdout[-2000:] + partial.stderr[-2000:]
        assert "- channel team: " in partial.stderr
        assert "disabled" in partial.stderr
        assert other.messages()  # the other channel got its alerts


def test_run_with_alerts_due_and_none_delivered_exits_2_after_its_summary(
    prefect_server: testing.PrefectServer,
    world: DemoWorld,
    child_env: Callable[..., dict[str, str]],
) -> None:
    env = child_env(prefect_server, {**world.env, "COLUMNS": "200"})
    env.pop(SMTP_ENV)  # the only channel is disabled: alerts stay pending
    done = cli(env, "run", "--alert-existing")
    assert done.returncode == 2, done.stdout[-2000:] + done.stderr[-2000:]
    assert "alerts ev-batteries" in done.stdout  # the summary table is printed first
    assert "failed: alerts were due and none was delivered" in done.stderr
    assert "- channel analyst-email: 13 of 13 due alert(s) not delivered (13 disabled); " in (
        done.stderr
    )
    assert world.messages() == []


def test_deliver_exit_codes(
    prefect_server: testing.PrefectServer,
    world: DemoWorld,
    child_env: Callable[..., dict[str, str]],
    tmp_path: Path,
) -> None:
    add_team_channel(world)
    env = child_env(prefect_server, {**world.env, "COLUMNS": "200"})
    queued = cli(env, "run", "--no-deliver", "--alert-existing")
    assert queued.returncode == 0, queued.stdout[-2000:] + queued.stderr[-2000:]

    unset = {k: v for k, v in env.items() if k != SMTP_ENV}
    none = cli(unset, "deliver")  # both channels disabled: nothing can go
    assert none.returncode == 2, none.stdout + none.stderr
    partial = cli(env, "deliver")  # analyst-email delivers, team is still disabled
    assert partial.returncode == 1, partial.stdout + partial.stderr
    assert world.messages()
    env["PW_TEAM_URL"] = world.env[SMTP_ENV]
    clean = cli(env, "deliver")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert cli(env, "deliver").returncode == 0  # nothing due
