"""``kill -9`` of a real ``policywatch run`` at three points: during fetch, after recording (the
alerts are in the outbox, none delivered) and during delivery (the SMTP server holds a message
whose 250 never reached the run); then an immediate re-run, on SQLite and PostgreSQL.

The re-run takes the dead run's lock over at once (README, "Two runs at once, and after a
crash"): it says so in one line, never waits for the lock, exits 0 and delivers every alert. The
ledger: nothing lost, nothing twice, except during delivery, where the message the server
accepted just before the kill may arrive twice (README, "Delivery guarantees, honestly").
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from policywatch.demo import SMTP_ENV, DemoWorld
from policywatch.devtools.loopback import Reply, Request
from policywatch.devtools.mailsink import SilentServer

from .conftest import RUN
from .harness import FaultCase, Outcome, kill_when, start_cli, subject

ISSUE_PAGES = [
    "/merics.org/en/merics-briefs/ai-plus-manufacturing-hydrogen-pipelines-data-exchanges",
    "/merics.org/en/merics-briefs/fuel-exports-emission-quotas-local-cadres",
    "/merics.org/en/merics-briefs/battery-passports-industrial-robots-rare-earth-tracing",
]
TAKEN_OVER = "is gone; taken over at once, its run closed as crashed"
WAITING = ("waiting for run lock", "waiting for another run")


@pytest.fixture(params=["sqlite", "postgresql"])
def state_url(request: pytest.FixtureRequest, world: DemoWorld) -> str:
    """The state database of the case: the world's SQLite file, or a throw-away PostgreSQL
    schema (skipped with the reason when PostgreSQL is unreachable)."""
    if request.param == "sqlite":
        return world.env["POLICYWATCH_STATE_URL"]
    return str(request.getfixturevalue("pg_schema_url"))


@pytest.fixture
def state_env(env: dict[str, str], state_url: str) -> dict[str, str]:
    return {**env, "POLICYWATCH_STATE_URL": state_url}


@pytest.fixture
def alerts_in(state_url: str) -> Iterator[Callable[[], int]]:
    """How many alerts the state's outbox holds (0 while its tables do not exist yet)."""
    engine = sa.create_engine(state_url)

    def count() -> int:
        try:
            with engine.connect() as conn:
                return int(conn.execute(sa.text("SELECT count(*) FROM alerts")).scalar_one())
        except sa.exc.DBAPIError:
            return 0

    yield count
    engine.dispose()


def kill_run(
    case: FaultCase, env: dict[str, str], log_dir: Path, ready: Callable[[], bool]
) -> Outcome:
    killed = kill_when(start_cli(RUN, env, log_dir), ready)
    case.runs.append(killed)
    assert killed.code == -9, killed.tail()
    return killed


def check_rerun(rerun: Outcome) -> None:
    """The run after the kill: the dead holder taken over at once (one line), no wait, exit 0.

    The dead run's source slots (Prefect concurrency leases) are given back at once too: a
    wait for them would print "waiting for another run working on merics" and last the lease
    (two minutes)."""
    assert rerun.code == 0, rerun.tail()
    assert len(rerun.lines(TAKEN_OVER)) == 1, rerun.tail()
    assert not any(w in rerun.output for w in WAITING), rerun.tail()
    assert "Traceback" not in rerun.output


def test_kill_during_fetch(
    world: DemoWorld,
    state_env: dict[str, str],
    run: Callable[..., Outcome],
    case: FaultCase,
    clean_alerts: Counter[str],
    tmp_path: Path,
) -> None:
    """Killed while the site is answering an issue page (the page is held until the kill)."""
    asked = threading.Event()
    release = threading.Event()

    def held(request: Request) -> Reply:
        asked.set()
        release.wait(30)
        return Reply(503, {"Content-Type": "text/plain"}, b"gone")

    for path in ISSUE_PAGES:
        world.site.routes[path] = held
    try:
        kill_run(case, state_env, tmp_path / "logs", asked.is_set)
    finally:
        for path in ISSUE_PAGES:
            del world.site.routes[path]
        release.set()
    assert world.messages() == []
    check_rerun(run(env_=state_env))
    assert case.settle(world.messages(), clean_alerts) == (0, 0)


def test_kill_after_recording(
    world: DemoWorld,
    state_env: dict[str, str],
    alerts_in: Callable[[], int],
    run: Callable[..., Outcome],
    case: FaultCase,
    clean_alerts: Counter[str],
    tmp_path: Path,
) -> None:
    """Killed as soon as the outbox holds every alert. The channel points at a black hole for
    that run, so nothing can have been delivered when the kill lands."""
    due = sum(clean_alerts.values())
    with SilentServer() as hole:
        black_holed = {**state_env, SMTP_ENV: hole.url()}
        kill_run(case, black_holed, tmp_path / "logs", lambda: alerts_in() >= due)
    assert world.messages() == []
    check_rerun(run(env_=state_env))
    assert case.settle(world.messages(), clean_alerts) == (0, 0)


def test_kill_during_delivery(
    world: DemoWorld,
    state_env: dict[str, str],
    run: Callable[..., Outcome],
    case: FaultCase,
    clean_alerts: Counter[str],
    tmp_path: Path,
) -> None:
    """Killed after the SMTP server stored the first message but before its 250 reached the
    run: the documented duplicate window of one message."""
    world.mail.slow_ack(20.0, count=1)
    kill_run(case, state_env, tmp_path / "logs", lambda: len(world.messages()) >= 1)
    accepted = list(world.messages())
    assert len(accepted) == 1
    check_rerun(run(env_=state_env))
    lost, duplicated = case.settle(world.messages(), clean_alerts)
    assert lost == 0
    assert duplicated <= 1
    twice = Counter(subject(m) for m in world.messages()) - clean_alerts
    assert set(twice) <= {subject(accepted[0])}  # only the message stored before the kill
