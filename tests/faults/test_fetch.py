"""Faults on the way in: the feed, issue pages and notices answer badly.

Each case: a run with the fault (the user sees one clear line, the run ends as documented), the
fault healed, a run again; then the ledger: every alert a clean run sends arrived, none twice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from policywatch.demo import DemoWorld

from .harness import FEED, FaultCase, Outcome


def test_feed_500_then_up(
    world: DemoWorld, run: Callable[..., Outcome], case: FaultCase, clean_alerts: Counter[str]
) -> None:
    world.site.routes[FEED] = lambda request: (500, {"Content-Type": "text/plain"}, b"down")
    down = run()
    assert down.code == 1, down.tail()  # the MIIT list still worked: completed with problems
    assert len(down.lines("source merics failed: https://merics.org/en/rss.xml: server")) == 1
    assert "Traceback" not in down.output
    del world.site.routes[FEED]
    up = run()
    assert up.code == 0, up.tail()
    assert case.settle(world.messages(), clean_alerts) == (0, 0)
