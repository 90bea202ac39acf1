"""The UI path for real: ``policywatch serve`` against a real Prefect server, runs created
exactly as the UI's "Custom run" / "Quick run" buttons create them, parameters taking effect."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from flows import testing
from policywatch.demo import DemoWorld
from policywatch.store import Store
from policywatch.store.schema import items, metadata

UI_BODY = {
    "enforce_parameter_schema": True,
    "state": {"type": "SCHEDULED", "message": "Run from the Prefect UI"},
}
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


def wait_for_deployment(
    api: httpx.Client, flow: str, proc: Any, deadline: float = 60
) -> dict[str, Any]:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        assert proc.poll() is None, proc.log_path.read_text()[-3000:]
        found = api.post(
            "/deployments/filter", json={"deployments": {"name": {"any_": ["policywatch"]}}}
        )
        for dep in found.json():
            flow_name = api.get(f"/flows/{dep['flow_id']}").json()["name"]
            if flow_name == flow and dep.get("status") == "READY":
                return dep  # type: ignore[no-any-return]
        time.sleep(0.5)
    raise AssertionError("deployment not ready: " + proc.log_path.read_text()[-3000:])


def ui_run(api: httpx.Client, deployment_id: str, parameters: dict[str, Any]) -> httpx.Response:
    return api.post(
        f"/deployments/{deployment_id}/create_flow_run", json={"parameters": parameters, **UI_BODY}
    )


def wait_final(api: httpx.Client, run_id: str, deadline: float = 60) -> dict[str, Any]:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        run = api.get(f"/flow_runs/{run_id}").json()
        if run["state_type"] in FINAL:
            return run  # type: ignore[no-any-return]
        time.sleep(0.5)
    raise AssertionError(f"flow run {run_id} not finished after {deadline}s")


def artifacts(api: httpx.Client, run_id: str) -> dict[str, Any]:
    found = api.post("/artifacts/filter", json={"artifacts": {"flow_run_id": {"any_": [run_id]}}})
    return {a["key"]: a for a in found.json() if a["key"]}


@pytest.fixture
def served(
    prefect_server: testing.PrefectServer,
    world: DemoWorld,
    spawn: Callable[..., Any],
    child_env: Callable[..., dict[str, str]],
) -> Iterator[tuple[httpx.Client, Any]]:
    proc = spawn(["serve"], child_env(prefect_server, world.env))
    with testing.api_client(prefect_server.api) as api:
        yield api, proc


def test_custom_run_from_the_ui_with_dry_run(
    served: tuple[httpx.Client, Any], world: DemoWorld
) -> None:
    api, proc = served
    dep = wait_for_deployment(api, "check-updates", proc)
    assert dep["schedules"][0]["schedule"]["cron"] == "0 */6 * * *"
    schema = dep["parameter_openapi_schema"]["properties"]
    assert "Match and report only" in schema["dry_run"]["description"]

    created = ui_run(api, dep["id"], {"dry_run": True, "deliver": True})
    assert created.status_code == 201, created.text
    run = wait_final(api, created.json()["id"])
    assert run["state_type"] == "COMPLETED", run["state"]
    assert run["parameters"]["dry_run"] is True

    arts = artifacts(api, run["id"])
    matches = match_rows(arts["check-updates-policywatch-matches"]["data"])
    assert {m[0] for m in matches} == {"ev-batteries", "export-controls", "ai-and-data"}
    assert run["state_name"] == "Completed"  # blocked and missing notices are no problem
    assert "dry run" in arts["check-updates-policywatch-summary"]["data"]
    assert world.messages() == []  # dry run: nothing delivered
    with Store.open(f"sqlite:///{world.state_path}") as store, store.read() as conn:
        assert list(conn.execute(sa.select(items))) == []

    bad = ui_run(api, dep["id"], {"dry_run": "nope"})
    assert bad.status_code == 409
    assert "dry_run" in bad.text

    quick = ui_run(api, dep["id"], dep["parameters"])  # "Quick run": the deployment's defaults
    assert quick.status_code == 201, quick.text
    done = wait_final(api, quick.json()["id"])
    assert done["state_type"] == "COMPLETED", done["state"]
    assert world.messages() == []  # a fresh state and old issues: recorded as a baseline
    summary = artifacts(api, done["id"])["check-updates-policywatch-summary"]["data"]
    assert "Baseline: item(s) recorded without alerts" in summary, summary

    with Store.open(f"sqlite:///{world.state_path}") as store, store.write() as conn:
        for table in reversed(metadata.sorted_tables):  # start again: alert what already exists
            if table.name not in ("schema_migrations", "locks", "runs"):
                conn.execute(sa.delete(table))
    custom = ui_run(api, dep["id"], {"alert_existing": True})
    done = wait_final(api, custom.json()["id"])
    assert done["state_type"] == "COMPLETED", done["state"]
    assert world.messages(), "a real run delivers to the SMTP sink"
    assert len(world.messages()) == len(
        match_rows(artifacts(api, done["id"])["check-updates-policywatch-matches"]["data"])
    )


def match_rows(markdown: str) -> list[list[str]]:
    """The rows of the matches artifact's tables (one per issue), headers left out."""
    lines = [line for line in markdown.splitlines() if line.startswith("| ")]
    rows = [[cell.strip() for cell in line.split(" | ")] for line in lines]
    return [[row[0].removeprefix("| "), *row[1:]] for row in rows if row[0] != "| watchlist"]


def test_the_ui_is_served_and_other_deployments_exist(
    served: tuple[httpx.Client, Any], prefect_server: testing.PrefectServer
) -> None:
    api, proc = served
    wait_for_deployment(api, "check-updates", proc)
    for flow in ("process-issue", "send-test-alert"):
        wait_for_deployment(api, flow, proc)
    page = httpx.get(
        prefect_server.ui + "/deployments",
        headers={"Accept": "text/html"},
        follow_redirects=True,
        timeout=10,
    )
    assert page.status_code == 200
    assert "<title>Prefect Server</title>" in page.text
    ui_settings = httpx.get(prefect_server.ui + "/ui-settings", timeout=10).json()
    assert ui_settings["api_url"] == prefect_server.api  # the UI calls this server's API
