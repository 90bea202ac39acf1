"""End-to-end fixtures: the shared real Prefect server (see ``flows.testing``) and subprocesses.

The server is the same one the in-process flow tests use when both folders run in one session.
Subprocesses (``policywatch serve``, ``policywatch demo``) get the server's API URL, a 1 s runner
poll and the demo world's environment; they are stopped with SIGTERM, SIGTERM, then kill.
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from flows import testing
from policywatch.demo import DemoWorld, demo_world

CLI = str(Path(sys.executable).with_name("policywatch"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.slow)
            item.add_marker(pytest.mark.filterwarnings(testing.LEAKED_SOCKET_FILTER))


@pytest.fixture(autouse=True)
def _collect_leaks() -> Iterator[None]:
    yield
    gc.collect()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[DemoWorld]:
    with demo_world(tmp_path / "demo", set_env=False) as w:
        yield w


def _child_env(server: testing.PrefectServer, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "POLICYWATCH_"))}
    env.update(
        PREFECT_API_URL=server.api,
        PREFECT_HOME=tempfile.mkdtemp(prefix="prefect-child-"),
        PREFECT_RUNNER_POLL_FREQUENCY="1",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_LOGGING_LEVEL="INFO",
    )
    env.update(extra)
    return env


@pytest.fixture
def child_env() -> Callable[[testing.PrefectServer, dict[str, str]], dict[str, str]]:
    """``child_env(server, extra)``: a clean env for a CLI subprocess talking to ``server``."""
    return _child_env


@pytest.fixture
def stop_process() -> Callable[[subprocess.Popen[Any]], None]:
    return testing.stop_process


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[Any]]]:
    """``spawn(args, env)`` starts the policywatch CLI; output goes to a log file."""
    procs: list[subprocess.Popen[Any]] = []

    def start(args: list[str], env: dict[str, str]) -> subprocess.Popen[Any]:
        log_path = tmp_path / f"proc{len(procs)}.log"
        with log_path.open("wb") as log:
            proc = subprocess.Popen([CLI, *args], env=env, stdout=log, stderr=subprocess.STDOUT)
        proc.log_path = log_path  # type: ignore[attr-defined]
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        testing.stop_process(proc)
