"""Timeliness benchmark: a month of ministry notices, runs every N minutes on a simulated clock.

The synthetic ministry world (``policywatch.devtools.ministrysite``: the nine sites' column
lists in their real forms) is served on 127.0.0.1 through the host map. Before the month, each
list already holds a few old notices and the MERICS feed last month's issue: the sources' first
run, at the month's start, is their baseline. During the month, notices appear at random times
(seeded) across the nine sites, and a burst of them on gov.cn's list within two hours (more than
a list page); some ministry documents are republished on gov.cn's list a few hours or days later
(one document, two copies); some notice pages answer 503 for hours after they are listed; on the
month's last day the month's China Industries issue appears, commenting on some of those
notices (the world: ``benchmarks/_timeliness_world.py``). The intake runs every
``--interval`` minutes (default 360, the shipped schedule) without Prefect, with the run's clock
(``Intake.now``) set to the simulated time, up to one interval after the month's end.

Figures: per document, the delay from its first appearance (listed, with a page that answers)
to its alert (median, p95, max, in simulated minutes); the requests of every run (runs with nothing new must cost exactly one
conditional request per list URL: the nine lists and the MERICS feed); the MERICS issue's
alerts: follow-ups, and "new" alerts to a watchlist already alerted to the document on the same
channel (duplicates). Checked against goals (``benchmarks.goals``); the wall time is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import math
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks._timeliness_world import Doc, Options, World, list_paths, make_config, plan  # noqa: E402
from benchmarks.goals import Goals  # noqa: E402
from policywatch import pipeline as p  # noqa: E402
from policywatch.devtools.loopback import LoopbackServer, Request  # noqa: E402
from policywatch.intake import Intake, run_intake  # noqa: E402
from policywatch.pool import pool_for  # noqa: E402
from policywatch.settings import Config  # noqa: E402
from policywatch.summary import RunSummary  # noqa: E402
from policywatch.transport import HOST_MAP_ENV  # noqa: E402

# -- the runs ---------------------------------------------------------------------------------


@dataclass
class RunRecord:
    when: dt.datetime
    run_id: str
    events: int  # what appeared since the previous run
    requests: list[Request]
    seconds: float


async def simulate(world: World, config: Config, times: list[dt.datetime]) -> list[RunRecord]:
    """Every run as the schedule would make it, on one runtime and one parser pool (a real run
    starts both afresh; that costs wall time, not simulated time)."""
    rt = p.open_runtime(config)
    sources = p.selected_sources(config, None)
    records = []
    try:
        async with pool_for(config) as pool:
            await pool.wait_ready()
            for when in times:
                events = world.apply_until(when)
                world.server.reset_counts()
                rt.run_id, clock = uuid.uuid4().hex, time.perf_counter()
                with rt.store.run_lock(rt.run_id):
                    async with p.make_client(config.app.http) as client:
                        intake = Intake(rt, client, pool, now=when)
                        await run_intake(intake, RunSummary(run_id=rt.run_id), sources)
                seconds = time.perf_counter() - clock
                records.append(RunRecord(when, rt.run_id, events, list(world.server.log), seconds))
    finally:
        rt.close()
    return records


# -- what the state says ----------------------------------------------------------------------


@dataclass
class Alert:
    run: int
    item_id: str
    channel: str
    groups: dict[str, str]  # watchlist -> relation (new, follow_up, final)


def read_alerts(state: Path, runs: list[RunRecord]) -> tuple[list[Alert], dict[str, str]]:
    """Every alert with its run's index, and each notice item's first URL (documents table)."""
    index = {r.run_id: i for i, r in enumerate(runs)}
    with sqlite3.connect(state) as db:
        rows = db.execute("SELECT run_id, item_id, channel, reasons FROM alerts").fetchall()
        docs = dict(db.execute("SELECT item_id, url FROM documents").fetchall())
    alerts = [
        Alert(index[run], item, channel,
              {g["watchlist"]: g.get("relation", "new") for g in json.loads(reasons)})
        for run, item, channel, reasons in rows
    ]  # fmt: skip
    return alerts, docs


def cited_by_item(state: Path) -> dict[str, list[str]]:
    with sqlite3.connect(state) as db:
        rows = db.execute(
            "SELECT n.item_id, n.notice_url FROM item_notices n JOIN items i ON i.id = n.item_id"
            " WHERE i.section != 'notice'"
        ).fetchall()
    out: dict[str, list[str]] = {}
    for item, url in rows:
        out.setdefault(item, []).append(url)
    return out


@dataclass
class Figures:
    delays: list[float]  # minutes, one per document of the month
    missed: list[Doc]
    twice: int  # documents alerted as new more than once on a channel
    baseline_alerts: int
    follow_ups: int
    duplicates: list[str]
    new_for_others: int  # MERICS alerts new to a watchlist never alerted to the document
    idle: list[int]  # runs with nothing new to read: nothing listed since, no failed page due
    retries: list[int]  # runs with nothing newly listed but a failed notice page to try again


def analyse(world: World, runs: list[RunRecord], state: Path) -> Figures:
    alerts, first_url = read_alerts(state, runs)
    on_docs: dict[int, list[Alert]] = {}  # id(doc) -> its notice items' alerts
    for alert in alerts:
        doc = world.by_url.get(first_url.get(alert.item_id, ""))
        if doc is not None:
            on_docs.setdefault(id(doc), []).append(alert)
    first = {
        id(d): min(a.run for a in on_docs[id(d)]) for d in world.month.docs if id(d) in on_docs
    }
    delays = [(runs[first[id(d)]].when - d.readable()).total_seconds() / 60
              for d in world.month.docs if id(d) in first]  # fmt: skip
    missed = [d for d in world.month.docs if id(d) not in first]
    twice = sum(1 for a in on_docs.values() if len(a) > len({x.channel for x in a}))
    baseline = sum(1 for a in alerts if a.run == 0)
    follow, dupes, others = _commentary(world, alerts, on_docs, cited_by_item(state))
    quiet = [k for k in range(1, len(runs)) if runs[k].events == 0]
    retries = [k for k in quiet if any(
        d.appears < runs[k].when and first.get(id(d), len(runs)) >= k for d in world.month.docs
    )]  # fmt: skip
    idle = [k for k in quiet if k not in retries]
    return Figures(delays, missed, twice, baseline, follow, dupes, others, idle, retries)


def _commentary(
    world: World, alerts: list[Alert], on_docs: dict[int, list[Alert]], cited: dict[str, list[str]]
) -> tuple[int, list[str], int]:
    """Per MERICS alert and watchlist: a follow-up, a duplicate "new" (the watchlist had the
    document's alert on this channel in an earlier or the same run), or new to it."""
    follow, dupes, others = 0, [], 0
    for alert in alerts:
        docs = [world.cited[u] for u in cited.get(alert.item_id, []) if u in world.cited]
        for name, relation in alert.groups.items():
            had = any(
                a.channel == alert.channel and name in a.groups and a.run <= alert.run
                for d in docs for a in on_docs.get(id(d), [])
            )  # fmt: skip
            if relation == "follow_up":
                follow += 1
            elif had:
                dupes.append(f"{alert.item_id} -> {name}")
            elif docs:
                others += 1
    return follow, dupes, others


# -- report -----------------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    """Nearest rank: the smallest value with at least ``share`` of the values at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(len(ordered) * share) - 1)] if ordered else 0.0


def report(args: argparse.Namespace, world: World, runs: list[RunRecord], f: Figures) -> int:
    goals, expected = Goals("timeliness"), list_paths()
    month = world.month
    failing = sum(1 for d in month.docs if d.ready_at)
    print(
        f"month {month.start:%Y-%m}: {len(month.docs)} notices on 9 sites, {args.burst} of "
        f"them on gov.cn within two hours; {sum(1 for d in month.docs if d.copy_at)} "
        f"republished on gov.cn; {failing} with a page answering 503 for hours after it "
        f"was listed; {len(month.old)} listed before the month; the issue on "
        f"{month.issue_at:%m-%d %H:%M} UTC; a run every {args.interval} min: {len(runs)} runs"
    )
    print("   (a notice's delay counts from when it was listed with a page that answers)")
    print("\n== delay from a notice's appearance to its alert (simulated minutes)")
    if f.delays:
        print(f"   median {statistics.median(f.delays):.0f}, p95 {percentile(f.delays, 0.95):.0f}, "
              f"max {max(f.delays):.0f}, mean {statistics.fmean(f.delays):.0f} "
              f"(uniform arrivals: mean interval/2 = {args.interval / 2:.0f})")  # fmt: skip
    goals.check("max delay (minutes; goal: one schedule interval)", max(f.delays, default=0),
                args.interval)  # fmt: skip
    goals.check("notices never alerted", len(f.missed), 0)
    goals.check("documents alerted twice as new (copies on gov.cn)", f.twice, 0)
    goals.check("alerts in the first run (baseline over what was listed)", f.baseline_alerts, 0)
    _requests(runs, f, expected, goals)
    print("\n== the MERICS issue")
    print(f"   {f.follow_ups} follow-up(s) to watchlists alerted to the document before; "
          f"{f.new_for_others} new to a watchlist that never had the document")  # fmt: skip
    goals.check("duplicate 'new' alerts for documents already alerted", len(f.duplicates), 0)
    for duplicate in f.duplicates[:10]:
        print(f"     duplicate: {duplicate}")
    goals.check("follow-ups from the issue", f.follow_ups, 1, higher_is_worse=False)
    return goals.finish()


def _requests(runs: list[RunRecord], f: Figures, expected: set[str], goals: Goals) -> None:
    idle = [runs[k] for k in f.idle]
    busy = [r for r in runs[1:] if r.events]
    sizes = [len(r.requests) for r in busy] or [0]
    retried = [len(runs[k].requests) for k in f.retries]
    print("\n== requests per run")
    print(f"   first run (baseline): {len(runs[0].requests)}; {len(busy)} runs with something "
          f"newly listed: mean {statistics.fmean(sizes):.1f}, max {max(sizes)}; {len(retried)} "
          f"runs retrying a failed page only: {retried}; {len(idle)} runs with nothing new "
          f"({len(expected)} list URLs)")  # fmt: skip
    goals.check("runs with nothing new to read (measured)", len(idle), 1, higher_is_worse=False)
    off = [r for r in idle if not _one_conditional_each(r, expected)]
    goals.check("no-change runs: requests per run (max)",
                max((len(r.requests) for r in idle), default=0), len(expected))  # fmt: skip
    goals.check("no-change runs not exactly 1 conditional request per list URL", len(off), 0)
    for run in off[:3]:
        print(f"     {run.when:%m-%d %H:%M}: {sorted(q.path for q in run.requests)}")
    seconds = [r.seconds for r in runs[1:]]
    print(
        f"   wall per run: mean {statistics.fmean(seconds or [0]) * 1000:.0f} ms, "
        f"max {max(seconds, default=0) * 1000:.0f} ms (no Prefect, parser pool kept warm)"
    )


def _one_conditional_each(run: RunRecord, expected: set[str]) -> bool:
    paths = [r.path for r in run.requests]
    conditional = all("if-none-match" in r.headers or "if-modified-since" in r.headers
                      for r in run.requests)  # fmt: skip
    return conditional and sorted(paths) == sorted(expected)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interval", type=int, default=360, help="minutes between runs")
    parser.add_argument("--notices", type=int, default=90, help="notices in the month")
    parser.add_argument("--copies", type=float, default=0.15, help="share republished on gov.cn")
    parser.add_argument("--burst", type=int, default=30,
                        help="documents gov.cn lists within two hours on one day")  # fmt: skip
    parser.add_argument("--failing", type=float, default=0.1,
                        help="share whose page answers 503 for 1 to 8 hours after listing")  # fmt: skip
    parser.add_argument("--month", default="2026-03", help="YYYY-MM")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    started = time.perf_counter()
    year, month = (int(x) for x in args.month.split("-"))
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="pw-timeliness-") as tmp:
        work = Path(tmp)
        config = make_config(work)
        options = Options(args.notices, args.copies, args.burst, args.failing)
        plan_ = plan(rng, year, month, options)
        with LoopbackServer(work / "site") as server:
            os.environ[HOST_MAP_ENV] = server.base
            world = World(work / "site", server, plan_, rng)
            step = dt.timedelta(minutes=args.interval)
            count = int((plan_.end - plan_.start) / step) + 2
            times = [plan_.start + k * step for k in range(count)]
            runs = asyncio.run(simulate(world, config, times))
        figures = analyse(world, runs, work / "state.db")
        code = report(args, world, runs, figures)
    print(f"\nwall time of the benchmark: {time.perf_counter() - started:.1f} s")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
