"""The deployments ``policywatch serve`` registers, and the local server ``make serve`` starts."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from flows import testing
from flows.deployments import build, local_server
from policywatch.demo import DemoWorld, demo_world
from policywatch.errors import ConfigError, PolicywatchError
from policywatch.settings import Config

CLI = str(Path(sys.executable).with_name("policywatch"))
UI_BODY = {
    "enforce_parameter_schema": True,
    "state": {"type": "SCHEDULED", "message": "Run from the Prefect UI"},
}


def test_every_parameter_of_every_deployment_is_described_for_the_ui_form(
    repo_root: Path,
) -> None:
    deployments = {d.flow_name: d for d in build(Config(repo_root / "config"))}
    assert set(deployments) == {"check-updates", "process-issue", "send-test-alert", "check-source"}
    expected = {
        "check-updates": {"dry_run", "since", "sources", "deliver", "alert_existing", "fan_out"},
        "process-issue": {"location", "force", "dry_run", "deliver"},
        "send-test-alert": {"watchlist"},
        "check-source": {"source", "dry_run", "since", "deliver", "alert_existing"},
    }
    for name, dep in deployments.items():
        props = dep._parameter_openapi_schema.properties
        assert set(props) == expected[name]
        assert all(len(p.get("description", "")) > 20 for p in props.values()), name
    since = deployments["check-updates"]._parameter_openapi_schema.properties["since"]
    assert {"format": "date", "type": "string"} in since["anyOf"]  # a date picker in the UI
    (schedule,) = deployments["check-updates"].schedules
    assert schedule.schedule.cron == "0 */6 * * *"


def test_runs_that_take_the_run_lock_are_limited_to_one_at_a_time(repo_root: Path) -> None:
    """check-source takes its source's lock, not the run lock: its runs queue per source on a
    global concurrency limit (tests/e2e/test_e2e_workers.py), not on a deployment limit."""
    deployments = {d.flow_name: d for d in build(Config(repo_root / "config"))}
    limits = {name: d.concurrency_limit for name, d in deployments.items()}
    assert limits == {
        "check-updates": 1, "process-issue": 1, "send-test-alert": None, "check-source": None
    }  # fmt: skip
    assert {d.name for d in deployments.values()} == {"policywatch"}


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ("cron: '0 */6 * *'", "is not a five-field cron expression"),
        ("timezone: Mars/Olympus", "unknown time zone 'Mars/Olympus'"),
        ("deployment: workers", "is the name of prefect.yaml's deployments"),
    ],
)
def test_a_bad_schedule_is_a_config_error(tmp_path: Path, schedule: str, message: str) -> None:
    (tmp_path / "policywatch.yaml").write_text(f"schedule:\n  {schedule}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        build(Config(tmp_path))


def test_local_server_refuses_a_port_taken_by_something_else(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        port = busy.getsockname()[1]
        server = local_server(port, tmp_path / "server.log", timeout=5)
        with pytest.raises(PolicywatchError, match=f"port {port} is in use"), server:
            pass
    assert not (tmp_path / "server.log").exists()  # nothing was started


def test_local_server_reuses_a_prefect_server_already_on_the_port(
    prefect_server: testing.PrefectServer, tmp_path: Path
) -> None:
    with local_server(prefect_server.port, tmp_path / "server.log", timeout=5) as url:
        assert url == prefect_server.api
    assert not (tmp_path / "server.log").exists()
    assert prefect_server.proc is not None
    assert prefect_server.proc.poll() is None  # left running: it is not ours to stop


@pytest.fixture
def slow_world(tmp_path: Path) -> Iterator[DemoWorld]:
    """The demo world with 0.2 s per response, so a run lasts long enough to start another."""
    with demo_world(tmp_path / "demo", set_env=False) as world:
        world.site.latency = 0.2
        yield world


@pytest.mark.slow
def test_a_run_started_while_another_runs_waits_in_the_queue(
    prefect_server: testing.PrefectServer, slow_world: DemoWorld, tmp_path: Path
) -> None:
    """Two UI "Quick run"s of the served check-updates: the second waits for a concurrency slot
    (Prefect's queue) and starts after the first ended, instead of failing on the run lock."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "POLICYWATCH_"))}
    env.update(slow_world.env)
    env.update(
        PREFECT_API_URL=prefect_server.api, PREFECT_RUNNER_POLL_FREQUENCY="1",
        PREFECT_HOME=tempfile.mkdtemp(prefix="prefect-serve-"),
    )  # fmt: skip
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen([CLI, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        with testing.api_client(prefect_server.api) as api:
            dep = _ready(api, "check-updates", proc, tmp_path / "serve.log")
            assert dep["global_concurrency_limit"]["limit"] == 1
            runs = [
                api.post(f"/deployments/{dep['id']}/create_flow_run", json={**UI_BODY}).json()
                for _ in range(2)
            ]
            final = [_final(api, r["id"]) for r in runs]
            states = [_state_names(api, r["id"]) for r in runs]
    finally:
        testing.stop_process(proc)
        log.close()
    assert [f["state_type"] for f in final] == ["COMPLETED", "COMPLETED"], final
    first, second = sorted(final, key=lambda f: f["start_time"])
    assert second["start_time"] >= first["end_time"]  # one at a time
    assert any("AwaitingConcurrencySlot" in names for names in states), states


def _ready(api: httpx.Client, flow: str, proc: Any, log: Path) -> dict[str, Any]:
    for _ in range(240):
        assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
        found = api.post(
            "/deployments/filter", json={"deployments": {"name": {"any_": ["policywatch"]}}}
        )
        for dep in found.json():
            if (
                api.get(f"/flows/{dep['flow_id']}").json()["name"] == flow
                and dep["status"] == "READY"
            ):
                return dep  # type: ignore[no-any-return]
        time.sleep(0.5)
    raise AssertionError("deployment never READY: " + log.read_text(errors="replace")[-3000:])


def _final(api: httpx.Client, run_id: str) -> dict[str, Any]:
    for _ in range(360):
        run = api.get(f"/flow_runs/{run_id}").json()
        if run["state_type"] in {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}:
            return run  # type: ignore[no-any-return]
        time.sleep(0.5)
    raise AssertionError(f"flow run {run_id} never finished")


def _state_names(api: httpx.Client, run_id: str) -> list[str]:
    states = api.get("/flow_run_states/", params={"flow_run_id": run_id}).json()
    return [s["name"] for s in states]
