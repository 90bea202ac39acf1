"""prefect.yaml: entrypoints resolve to the flows, names differ from serve's, the schedule comes
from the config at deploy time (checked with a real ``prefect deploy``), no secrets."""

from __future__ import annotations

import asyncio
import importlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from flows import testing
from flows.deployments import build, schedule_step
from policywatch.settings import WORKERS_DEPLOYMENT, Config

PREFECT = str(Path(sys.executable).with_name("prefect"))


def _doc(repo_root: Path) -> dict[str, Any]:
    return yaml.safe_load((repo_root / "prefect.yaml").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def test_prefect_yaml_points_at_the_three_flows_under_names_serve_does_not_use(
    repo_root: Path,
) -> None:
    doc = _doc(repo_root)
    names = set()
    for dep in doc["deployments"]:
        path, attr = dep["entrypoint"].split(":")
        module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
        names.add(getattr(module, attr).name)
        assert dep["work_pool"]["name"] == "policywatch"
        assert dep["name"] == WORKERS_DEPLOYMENT
    assert names == {"check-updates", "process-issue", "send-test-alert", "check-source"}
    assert Config(repo_root / "config").app.schedule.deployment != WORKERS_DEPLOYMENT
    limits = {d["entrypoint"].split(":")[1]: d.get("concurrency_limit") for d in doc["deployments"]}
    assert limits == {
        "check_updates": 1, "process_issue": 1, "send_test_alert": None, "check_source": None
    }  # fmt: skip
    [scheduled] = [d for d in doc["deployments"] if d.get("schedules")]
    assert scheduled["parameters"]["fan_out"] is True  # workers: one check-source run per source


def test_the_schedule_is_templated_from_the_build_step_that_reads_the_config(
    repo_root: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    doc = _doc(repo_root)
    (step,) = doc["build"]
    assert step == {"flows.deployments.schedule_step": {"id": "policywatch-schedule"}}
    (schedule,) = doc["deployments"][0]["schedules"]
    assert schedule["cron"] == "{{ policywatch-schedule.cron }}"
    assert schedule["timezone"] == "{{ policywatch-schedule.timezone }}"
    config_dir = _config_with_schedule(tmp_path, "15 3 * * 1", "Europe/Berlin")
    monkeypatch.setenv("POLICYWATCH_CONFIG_DIR", str(config_dir))
    assert schedule_step() == {"cron": "15 3 * * 1", "timezone": "Europe/Berlin"}


def test_prefect_yaml_templates_no_secret(repo_root: Path) -> None:
    text = (repo_root / "prefect.yaml").read_text(encoding="utf-8")
    body = "\n".join(line.split("#")[0] for line in text.splitlines())
    assert re.findall(r"\{\{\s*\$(\w+)\s*\}\}", body) == ["POLICYWATCH_HOME"]
    assert "job_variables" not in body
    assert not re.search(r"(password|token|secret|://)", body, re.I)


def _config_with_schedule(tmp_path: Path, cron: str, zone: str) -> Path:
    config_dir = tmp_path / "config"
    config_dir.mkdir(parents=True)
    (config_dir / "policywatch.yaml").write_text(
        f'schedule:\n  cron: "{cron}"\n  timezone: {zone}\n', encoding="utf-8"
    )
    return config_dir


@pytest.mark.slow
def test_prefect_deploy_and_serve_agree_on_the_schedule_and_keep_their_own_deployments(
    prefect_server: testing.PrefectServer, repo_root: Path, tmp_path: Path
) -> None:
    """A real ``prefect deploy --all`` next to serve's deployments of the same config: the same
    cron and time zone, a limit of one run at a time, and neither replaces the other."""
    config_dir = _config_with_schedule(tmp_path, "15 3 * * 1", "Europe/Berlin")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "POLICYWATCH_"))}
    env.update(
        PREFECT_API_URL=prefect_server.api, PREFECT_HOME=tempfile.mkdtemp(prefix="prefect-deploy-"),
        POLICYWATCH_CONFIG_DIR=str(config_dir), POLICYWATCH_HOME=str(repo_root),
    )  # fmt: skip
    try:
        served = build(Config(config_dir))
        asyncio.run(_apply(served, prefect_server.api))
        for args in (
            ["work-pool", "create", "policywatch", "--type", "process", "--overwrite"],
            ["deploy", "--all", "--no-prompt"],
        ):
            done = subprocess.run(
                [PREFECT, *args], env=env, cwd=repo_root, capture_output=True, text=True,
                timeout=120, check=False,
            )  # fmt: skip
            assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    finally:
        shutil.rmtree(env["PREFECT_HOME"], ignore_errors=True)
    with testing.api_client(prefect_server.api) as api:
        workers = api.get("/deployments/name/check-updates/workers").json()
        serve = api.get("/deployments/name/check-updates/policywatch").json()
        for name in ("workers", "policywatch"):  # leave the shared server as it was
            found = api.post(
                "/deployments/filter", json={"deployments": {"name": {"any_": [name]}}}
            )
            for dep in found.json():
                api.delete(f"/deployments/{dep['id']}")
    assert workers["work_pool_name"] == "policywatch"
    assert serve["work_pool_name"] is None  # still serve's: not replaced by the deploy
    for dep in (workers, serve):
        (entry,) = dep["schedules"]
        assert (entry["schedule"]["cron"], entry["schedule"]["timezone"]) == (
            "15 3 * * 1",
            "Europe/Berlin",
        )
        assert dep["global_concurrency_limit"]["limit"] == 1


async def _apply(deployments: list[Any], api: str) -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: api}):
        for dep in deployments:
            await dep.aapply()
