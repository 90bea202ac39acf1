"""The deployments ``policywatch serve`` registers, and the local server ``make serve`` starts."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from flows import testing
from flows.deployments import build, local_server
from policywatch.errors import PolicywatchError
from policywatch.settings import Config


def test_every_parameter_of_every_deployment_is_described_for_the_ui_form(
    repo_root: Path,
) -> None:
    deployments = {d.flow_name: d for d in build(Config(repo_root / "config"))}
    assert set(deployments) == {"check-updates", "process-issue", "send-test-alert"}
    expected = {
        "check-updates": {"dry_run", "since", "sources", "deliver"},
        "process-issue": {"location", "force", "dry_run", "deliver"},
        "send-test-alert": {"watchlist"},
    }
    for name, dep in deployments.items():
        props = dep._parameter_openapi_schema.properties
        assert set(props) == expected[name]
        assert all(len(p.get("description", "")) > 20 for p in props.values()), name
    since = deployments["check-updates"]._parameter_openapi_schema.properties["since"]
    assert {"format": "date", "type": "string"} in since["anyOf"]  # a date picker in the UI
    (schedule,) = deployments["check-updates"].schedules
    assert schedule.schedule.cron == "0 */6 * * *"


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
