"""prefect.yaml for real: a process work pool, ``prefect deploy --all``, a worker runs the flow."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from flows import testing
from policywatch.demo import DemoWorld

PREFECT = str(Path(sys.executable).with_name("prefect"))
UI_BODY = {
    "enforce_parameter_schema": True,
    "state": {"type": "SCHEDULED", "message": "Run from the Prefect UI"},
}


def test_prefect_yaml_deploys_to_a_work_pool_and_a_worker_runs_it(
    prefect_server: testing.PrefectServer,
    world: DemoWorld,
    child_env: Callable[..., dict[str, str]],
    repo_root: Path,
    tmp_path: Path,
    stop_process: Callable[[subprocess.Popen[Any]], None],
) -> None:
    # Same file, other names, so this test does not replace the served deployments.
    text = (repo_root / "prefect.yaml").read_text(encoding="utf-8")
    text = text.replace("name: policywatch\n    work_queue", "name: pw-test-pool\n    work_queue")
    text = text.replace("  - name: workers\n", "  - name: pool-test\n")
    custom = tmp_path / "prefect.yaml"
    custom.write_text(text, encoding="utf-8")
    env = child_env(prefect_server, {**world.env, "POLICYWATCH_HOME": str(repo_root)})
    env["PREFECT_WORKER_QUERY_SECONDS"] = "1"

    def prefect(*args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [PREFECT, *args], env=env, cwd=repo_root, capture_output=True, text=True,
            timeout=90, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        return done

    prefect("work-pool", "create", "pw-test-pool", "--type", "process", "--overwrite")
    prefect("deploy", "--all", "--no-prompt", "--prefect-file", str(custom))

    with testing.api_client(prefect_server.api) as api:
        dep = api.get("/deployments/name/check-updates/pool-test").json()
        assert dep["work_pool_name"] == "pw-test-pool"
        assert world.env["POLICYWATCH_DEMO_SMTP_URL"] not in json.dumps(dep)  # no secret stored

        worker = subprocess.Popen(
            [PREFECT, "worker", "start", "--pool", "pw-test-pool", "--type", "process"],
            env=env, cwd=repo_root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            run = api.post(
                f"/deployments/{dep['id']}/create_flow_run",
                # one serial run (the default fan-out over workers: test_e2e_workers.py)
                json={
                    "parameters": {"dry_run": False, "alert_existing": True, "fan_out": False},
                    **UI_BODY,
                },
            ).json()
            final = _wait(api, run["id"])
        finally:
            stop_process(worker)
    assert final["state_type"] == "COMPLETED", final["state"]
    assert world.messages(), "the worker's flow run delivered through the worker's env"


def _wait(api: httpx.Client, run_id: str, deadline: float = 90) -> dict[str, Any]:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        run = api.get(f"/flow_runs/{run_id}").json()
        if run["state_type"] in {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}:
            return run  # type: ignore[no-any-return]
        time.sleep(0.5)
    raise AssertionError(f"flow run {run_id} not finished after {deadline}s")
