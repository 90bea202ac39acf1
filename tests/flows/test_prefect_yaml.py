"""prefect.yaml: entrypoints resolve to the flows, the schedule matches the config, no secrets."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import yaml

from policywatch.settings import Config


def test_prefect_yaml_points_at_the_three_flows(repo_root: Path) -> None:
    doc = yaml.safe_load((repo_root / "prefect.yaml").read_text(encoding="utf-8"))
    names = set()
    for dep in doc["deployments"]:
        path, attr = dep["entrypoint"].split(":")
        module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
        names.add(getattr(module, attr).name)
        assert dep["work_pool"]["name"] == "policywatch"
    assert names == {"check-updates", "process-issue", "send-test-alert"}
    cron = doc["deployments"][0]["schedules"][0]["cron"]
    assert cron == Config(repo_root / "config").app.schedule.cron


def test_prefect_yaml_templates_no_secret(repo_root: Path) -> None:
    text = (repo_root / "prefect.yaml").read_text(encoding="utf-8")
    body = "\n".join(line.split("#")[0] for line in text.splitlines())
    assert re.findall(r"\{\{\s*\$(\w+)\s*\}\}", body) == ["POLICYWATCH_HOME"]
    assert "job_variables" not in body
    assert not re.search(r"(password|token|secret|://)", body, re.I)
