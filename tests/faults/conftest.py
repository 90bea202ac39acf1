"""Fault-suite fixtures: one Prefect server for the session (shared with tests/flows and
tests/e2e), a fresh demo world per case with its settings scaled down, a clean run's alerts as the
ledger's reference, and the case record that ``benchmarks/faults.py`` reads."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from flows import testing
from policywatch.demo import DemoWorld, demo_world

from .harness import (
    FAST_DELIVERY,
    FAST_HTTP,
    FAST_INTAKE,
    FaultCase,
    Outcome,
    cli_env,
    run_cli,
    subject,
    tune,
)

RUN = ["run", "--alert-existing"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/faults/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.faults)
            item.add_marker(pytest.mark.slow)
            item.add_marker(pytest.mark.filterwarnings(testing.LEAKED_SOCKET_FILTER))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.fault_passed = report.passed  # type: ignore[attr-defined]
    return report


def _world(root: Path) -> Any:
    return demo_world(root, set_env=False)


def _tuned(world: DemoWorld) -> DemoWorld:
    tune(world, http=FAST_HTTP, delivery=FAST_DELIVERY, intake=FAST_INTAKE)
    return world


@pytest.fixture
def world(tmp_path: Path) -> Iterator[DemoWorld]:
    with _world(tmp_path / "demo") as w:
        yield _tuned(w)


@pytest.fixture(scope="session")
def clean_alerts(
    prefect_server: testing.PrefectServer, tmp_path_factory: pytest.TempPathFactory
) -> Counter[str]:
    """The subjects a clean run of the (tuned) demo sends: the ledger's reference."""
    root = tmp_path_factory.mktemp("clean")
    with _world(root / "demo") as w:
        _tuned(w)
        case = FaultCase("clean")
        outcome = run_cli(case, RUN, cli_env(prefect_server.api, w), root / "logs")
        assert outcome.code == 0, outcome.tail()
        expected = Counter(subject(m) for m in w.messages())
    assert expected
    assert max(expected.values()) == 1, expected
    return expected


@pytest.fixture
def case(request: pytest.FixtureRequest) -> Iterator[FaultCase]:
    record = FaultCase(request.node.name)
    yield record
    record.record(bool(getattr(request.node, "fault_passed", False)))


@pytest.fixture
def env(prefect_server: testing.PrefectServer, world: DemoWorld) -> dict[str, str]:
    return cli_env(prefect_server.api, world)


@pytest.fixture
def run(case: FaultCase, env: dict[str, str], tmp_path: Path) -> Callable[..., Outcome]:
    """``run(*extra_args, env=None)``: ``policywatch run --alert-existing`` in this case's world."""

    def go(*args: str, env_: dict[str, str] | None = None) -> Outcome:
        return run_cli(case, [*RUN, *args], env_ or env, tmp_path / "logs")

    return go
