"""Faults in the state database: damaged, or emptied after alerts went out.

The runs after the fault are plain ``policywatch run`` (the schedule's run): ``--alert-existing``
alerts everything on purpose, so it is not what an operator runs after losing the state.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

from policywatch.demo import DemoWorld

from .harness import FaultCase, Outcome, run_cli

BASELINE = "baseline: 13 item(s) recorded without alerts (a source's first run; --alert-existing"


def plain_run(case: FaultCase, env: dict[str, str], tmp_path: Path) -> Callable[[], Outcome]:
    return lambda: run_cli(case, ["run"], env, tmp_path / "logs")


def test_damaged_state_is_refused_then_moved_aside(
    world: DemoWorld,
    run: Callable[..., Outcome],
    case: FaultCase,
    clean_alerts: Counter[str],
    env: dict[str, str],
    tmp_path: Path,
) -> None:
    first = run()
    assert first.code == 0, first.tail()
    garbage = b"not a database\x00" * 4096
    world.state_path.write_bytes(garbage)
    scheduled = plain_run(case, env, tmp_path)

    down = scheduled()
    assert down.code == 2, down.tail()
    where = f"sqlite:///{world.state_path}"
    error = f"error: check-updates failed: cannot open the state database {where}: "
    assert len(down.lines(f"{error}file is not a database")) == 1, down.tail()
    assert len(down.lines(f"hint: {world.state_path} is damaged")) == 1, down.tail()
    assert "move it aside" in down.output
    assert "Traceback" not in down.output
    assert "sqlalche.me" not in down.output  # SQLAlchemy's background link is not the user's
    assert world.state_path.read_bytes() == garbage  # left as it was, for whoever looks at it
    assert len(world.messages()) == sum(clean_alerts.values())  # nothing sent

    world.state_path.rename(world.state_path.with_name("state.db.damaged"))  # as the hint says
    up = scheduled()
    assert up.code == 0, up.tail()
    assert len(up.lines(BASELINE)) == 1, up.tail()  # the demo's issues are all weeks old
    assert "Traceback" not in up.output
    assert case.settle(world.messages(), clean_alerts) == (0, 0)


def test_emptied_state_alerts_nothing_again(
    world: DemoWorld,
    run: Callable[..., Outcome],
    case: FaultCase,
    clean_alerts: Counter[str],
    env: dict[str, str],
    tmp_path: Path,
) -> None:
    """A zero-byte state file is an empty SQLite database: the next run is every source's first
    run again, a baseline (README "The run"), so what the feed still lists is not alerted again."""
    first = run()
    assert first.code == 0, first.tail()
    world.state_path.write_bytes(b"")

    again = plain_run(case, env, tmp_path)()
    assert again.code == 0, again.tail()
    assert len(again.lines(BASELINE)) == 1, again.tail()
    assert "Traceback" not in again.output
    assert case.settle(world.messages(), clean_alerts) == (0, 0)
