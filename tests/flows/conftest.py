"""Flow tests: one real Prefect server for the whole session (shared with tests/e2e), tuned.

Flow tests say ``pytestmark = pytest.mark.usefixtures("prefect_api")``; the pipeline unit tests
in this folder need no server and do not start one.

Settings per PREFECT.md §1: batch sizes on the server, no heartbeat join, a temp results path,
quiet task.fn warnings. Each test gets a fresh demo world: the synthetic site and an SMTP sink
on loopback, a temp config folder and SQLite state (see ``policywatch.demo``).
"""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")
os.environ.setdefault("PREFECT_RESULTS_LOCAL_STORAGE_PATH", tempfile.mkdtemp(prefix="pw-results-"))

import asyncio
import gc
import inspect
from collections.abc import Iterator
from typing import Any

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.settings import (
    PREFECT_API_URL,
    PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
    PREFECT_RESULTS_LOCAL_STORAGE_PATH,
    temporary_settings,
)

from flows import testing
from policywatch.demo import DemoWorld, demo_world


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Prefect's client leaves sockets to its own API for the GC; only those are tolerated."""
    for item in items:
        if "tests/flows/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.filterwarnings(testing.LEAKED_SOCKET_FILTER))


@pytest.fixture(autouse=True)
def _collect_leaks() -> Iterator[None]:
    """Collect the leaked sockets while the filter applies, not in some later test."""
    yield
    gc.collect()


@pytest.fixture(scope="session")
def prefect_api(prefect_server: testing.PrefectServer) -> Iterator[str]:
    results = tempfile.mkdtemp(prefix="pw-results-")
    updates: dict[Any, Any] = {
        PREFECT_API_URL: prefect_server.api,
        PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None,
        PREFECT_RESULTS_LOCAL_STORAGE_PATH: results,
    }
    with temporary_settings(updates=updates):
        yield prefect_server.api


@pytest.fixture
def world(tmp_path: Any) -> Iterator[DemoWorld]:
    with demo_world(tmp_path / "demo") as w:
        yield w


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _run_flow(flow: Any, **params: Any) -> Any:
    if "alert_existing" in inspect.signature(flow.fn).parameters:
        params.setdefault("alert_existing", True)  # the demo's issues are older than 14 days

    async def call() -> Any:
        return await flow(**params, return_state=True)

    return asyncio.run(call())


def _artifacts_of(state: Any) -> dict[str, Any]:
    run_id = state.state_details.flow_run_id
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id]))
        )
    return {a.key: a for a in found if a.key}


@pytest.fixture
def run_flow() -> Any:
    """``run_flow(flow, **params)``: the flow's final state (failures returned, not raised).

    check-updates runs with ``alert_existing=True`` unless a test says otherwise: the demo's
    issues are older than the baseline window, and these tests are about what a run alerts."""
    return _run_flow


@pytest.fixture
def artifacts_of() -> Any:
    """``artifacts_of(state)``: that run's artifacts by key."""
    return _artifacts_of
