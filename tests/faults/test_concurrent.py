"""Two ``policywatch run`` at once on one state database, SQLite and PostgreSQL.

The first to take the run lock works; the other says whom it waits for (run id, pid and host:
README, "Two runs at once, and after a crash"), then runs once the lock is free. Both end
cleanly, and every alert arrives once.
"""

from __future__ import annotations

import re
import socket
from collections import Counter
from pathlib import Path

from policywatch.demo import DemoWorld

from .conftest import RUN
from .harness import FaultCase, finish, start_cli, tune
from .test_kill import state_env, state_url  # noqa: F401 (fixtures: SQLite and PostgreSQL)

WAITING = re.compile(r"waiting for run lock 'run' held by run \S+ \(pid (\d+) on (\S+)\)")


def test_two_runs_at_once(
    world: DemoWorld,
    state_env: dict[str, str],  # noqa: F811
    case: FaultCase,
    clean_alerts: Counter[str],
    tmp_path: Path,
) -> None:
    # The first message is acknowledged 4 s late (inside a data timeout raised to 30 s): the
    # lock holder is still delivering when the other run, started at the same moment, asks.
    tune(world, delivery={"data_timeout": 30})
    world.mail.slow_ack(4.0, count=1)
    procs = [start_cli(RUN, state_env, tmp_path / "logs") for _ in range(2)]
    outcomes = [finish(proc) for proc in procs]
    case.runs.extend(outcomes)

    for outcome in outcomes:
        assert outcome.code == 0, outcome.tail()
        assert "Traceback" not in outcome.output
    said = [[WAITING.search(line) for line in o.lines("waiting for run lock")] for o in outcomes]
    waiters = [n for n, lines in enumerate(said) if lines]
    assert len(waiters) == 1, [o.tail() for o in outcomes]  # one waited, the other did not
    (waited,) = said[waiters[0]]
    assert waited is not None, outcomes[waiters[0]].tail()
    holder = procs[1 - waiters[0]]
    assert (int(waited[1]), waited[2]) == (holder.pid, socket.gethostname())
    assert case.settle(world.messages(), clean_alerts) == (0, 0)
