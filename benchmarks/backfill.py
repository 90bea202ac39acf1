"""Backfill benchmark: the real ``policywatch run`` over a 60-issue / 600-notice loopback site.

What a user runs, end to end: a synthetic site (``policywatch.devtools.sitegen``) is served on
127.0.0.1 with 100 ms of latency per response, the real merics.org and ministry host names are
mapped to it (``POLICYWATCH_HOST_MAP``), and ``policywatch run --no-deliver`` backfills it into a
fresh SQLite state with ``per_host_concurrency: 4``. Three ways, each on a fresh state:

* ``ephemeral``: no Prefect server configured (the CLI starts Prefect's temporary API);
* ``server``: against a running ``prefect server start`` (``PREFECT_API_URL``);
* ``plain``: the same intake without Prefect (``policywatch.intake.run_plain``), the baseline
  for Prefect's own overhead.

Figures: the span at the server (first request in to last byte out), CLI wall, requests, the
most requests in flight per host (counted by the server from the request's first byte read to
its last byte written), the politeness bound (the least time the per-host limits allow:
max over hosts of ceil(requests / per_host_concurrency) x latency), the speed-up over one by one
(requests x latency), SQL statements, and peak RSS (CLI and parser processes summed). Then a
no-change run: its requests and its pipeline time; its wall (imports, Prefect API start, one
flow run) is the "Prefect start-up" of the goal for the backfill's CLI wall (<= bound +
start-up). The temporary API's database is migrated before the timed runs, as a user's first
run leaves it, and the server API's server has run a small flow with tasks, logs and an
artifact (a running server is warm). Each row prints its ratio to the goal and ``make bench`` lists the misses.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.goals import Goals  # noqa: E402
from policywatch.devtools.loopback import LoopbackServer  # noqa: E402
from policywatch.devtools.sitegen import write_site  # noqa: E402

LATENCY = 0.1
CONCURRENCY = 4
CLI = str(Path(sys.executable).with_name("policywatch"))


def make_config(work: Path) -> Path:
    config = work / "config"
    shutil.copytree(REPO / "config", config)
    (config / "policywatch.yaml").write_text(
        "state_url: sqlite:///var/state.db\n"
        "http:\n"
        f"  per_host_concurrency: {CONCURRENCY}\n"
        "  per_host_interval: 0\n"
        "  max_attempts: 2\n"
        "sources:\n"
        "  - name: merics\n"
        "    type: merics\n"
        "    feed_url: https://merics.org/en/rss.xml\n"
        "    listing_url: null\n",
        encoding="utf-8",
    )
    return config


class RssSampler:
    """Peak of the summed RSS of a process and its children, sampled from /proc every 20 ms.

    Prefect's temporary API server (a uvicorn child of the CLI when no server is configured) is
    Prefect's, not policywatch's: its subtree is left out of ``peak`` and kept in ``prefect``."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self.prefect, self._stop = pid, 0, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            ours, server = _tree(self.pid)
            self.peak = max(self.peak, sum(_rss(p) for p in ours))
            self.prefect = max(self.prefect, sum(_rss(p) for p in server))


def _tree(pid: int) -> tuple[list[int], list[int]]:
    """The process tree under ``pid``, split into ours and Prefect's API server subtree."""
    ours: list[int] = []
    server: list[int] = []
    todo = [(pid, False)]
    while todo:
        current, in_server = todo.pop()
        in_server = in_server or _is_prefect_server(current)
        (server if in_server else ours).append(current)
        try:
            kids = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        todo += [(int(k), in_server) for k in kids]
    return ours, server


def _is_prefect_server(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"uvicorn" in cmdline and b"prefect" in cmdline


def _rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def run_cli(
    work: Path, config: Path, site: LoopbackServer, env_extra: dict[str, str]
) -> dict[str, Any]:
    state = work / f"state-{len(list(work.glob('state-*')))}.db"
    env = {
        **os.environ, **env_extra,
        "POLICYWATCH_CONFIG_DIR": str(config),
        "POLICYWATCH_STATE_URL": f"sqlite:///{state}",
        "POLICYWATCH_HOST_MAP": site.base,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_HOME": str(work / "prefect-home"),
    }  # fmt: skip
    figures: list[dict[str, Any]] = []
    if not env_extra.get("PREFECT_API_URL"):  # a user's temporary API after their first run
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "prefect", "server", "database", "upgrade", "-y"],
                       env=env, check=True, capture_output=True)  # fmt: skip
        print(f"   (for the temporary API run below: Prefect's database migrated first, as by a "
              f"user's first run: {time.perf_counter() - start:.1f} s)")  # fmt: skip
    for _ in range(2):  # the backfill, then a run with nothing new
        site.reset_counts()
        start, began = time.perf_counter(), time.monotonic()  # the site's log is monotonic
        proc = subprocess.Popen(
            [CLI, "-v", "run", "--no-deliver"], env=env, cwd=work,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        with RssSampler(proc.pid) as rss:
            _out, err = proc.communicate(timeout=600)
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            raise SystemExit(f"policywatch run failed ({proc.returncode}):\n{err[-3000:]}")
        first = min((r.started for r in site.log), default=began)
        timing = [ln for ln in err.splitlines() if ln.startswith("timing:")]
        figures.append({"wall": wall, "rss": rss.peak, "prefect_rss": rss.prefect,
                        "before_first": first - began, "timing": timing[-1] if timing else "",
                        **site_figures(site), **run_stats(state)})  # fmt: skip
    return {"backfill": figures[0], "nochange": figures[1]}


def warm_server(api: str) -> None:
    """One small flow run (four tasks, their log lines, an artifact) on a server just started:
    a server's first flow run with tasks, logs and artifacts costs it about 0.4 s more CPU than
    the next (its first queries of each kind) and spanned the backfill 4.7 s instead of 3.6-3.9 s
    (measured); a user's running server paid that long ago. A flow without tasks warms only
    part of it."""
    start = time.perf_counter()
    code = (
        "from prefect import flow, task, get_run_logger\n"
        "from prefect.artifacts import create_markdown_artifact\n\n"
        "@task\ndef step(n: int) -> int:\n    get_run_logger().info('step %s', n)\n    return n\n\n"
        "@flow\ndef warm_up() -> int:\n"
        "    create_markdown_artifact('warm', key='warm-up')\n"
        "    return sum(step.map(range(4)).result())\n\nwarm_up()\n"
    )
    env = {**os.environ, "PREFECT_API_URL": api, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True)
    print(f"   (the new Prefect server ran a small flow first, as a running server has: "
          f"{time.perf_counter() - start:.1f} s)")  # fmt: skip


def site_figures(site: LoopbackServer) -> dict[str, Any]:
    per_host: dict[str, int] = {}
    for request in site.log:
        per_host[request.host] = per_host.get(request.host, 0) + 1
    return {
        "span": site.span(),
        "requests": site.total_requests(),
        "per_host": per_host,
        "max_in_flight": dict(site.max_in_flight_by),
        "conditional": sum(
            1 for r in site.log if "if-none-match" in r.headers or "if-modified-since" in r.headers
        ),
    }


def run_stats(state: Path) -> dict[str, Any]:
    with sqlite3.connect(state) as db:
        row = db.execute("SELECT summary FROM runs ORDER BY started_at DESC LIMIT 1").fetchone()
        issues = db.execute("SELECT count(*) FROM issues").fetchone()[0]
        notices = db.execute("SELECT count(*) FROM notices").fetchone()[0]
    summary = json.loads(row[0]) if row and row[0] else {}
    return {"stats": summary.get("stats", {}), "issues": issues, "notices": notices}


def run_plain_child(config: str, state: str) -> None:
    """Child mode: the intake without Prefect; prints its summary stats as JSON."""
    os.environ["POLICYWATCH_STATE_URL"] = f"sqlite:///{state}"
    from policywatch.http import warm_up as warm_up_http
    from policywatch.intake import run_plain
    from policywatch.pool import prewarm
    from policywatch.settings import Config

    loaded = Config(config)
    prewarm(loaded, wait=True)  # as `policywatch run` does while Prefect's API starts
    warm_up_http()  # likewise
    import gc

    gc.freeze()  # likewise: the imports' objects out of the collector's sight
    summary = asyncio.run(run_plain(loaded))
    print(json.dumps({"stats": summary.stats, "issues": len(summary.issues)}))


def run_plain_figures(work: Path, config: Path, site: LoopbackServer) -> dict[str, Any]:
    """The intake without Prefect in a fresh process; a second call is the no-change run."""
    state = work / "state-plain.db"
    env = {**os.environ, "POLICYWATCH_HOST_MAP": site.base}
    site.reset_counts()
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, __file__, "--plain-child", str(config), str(state)], env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    with RssSampler(proc.pid) as rss:
        out, err = proc.communicate(timeout=600)
    if proc.returncode != 0:
        raise SystemExit(f"plain run failed:\n{err[-3000:]}")
    return {"wall": time.perf_counter() - start, "rss": rss.peak, **site_figures(site),
            **json.loads(out.strip().splitlines()[-1])}  # fmt: skip


def timeline(site: LoopbackServer, step: float = 0.25) -> None:
    """Requests in flight per host over the run, averaged per ``step`` seconds (``--timeline``)."""
    done = [r for r in site.log if r.finished is not None]
    if not done:
        return
    start = min(r.started for r in done)
    end = max(r.finished or 0.0 for r in done)
    hosts = sorted({r.host for r in done})
    names = [h.removeprefix("www.").split(".")[0][:6] for h in hosts]
    print("   t(s)  " + "  ".join(n.rjust(6) for n in names))
    t = start
    while t < end:
        busy = dict.fromkeys(hosts, 0.0)
        for r in done:
            overlap = min(r.finished or t, t + step) - max(r.started, t)
            if overlap > 0:
                busy[r.host] += overlap / step
        print(f"   {t - start:4.2f}  " + "  ".join(f"{busy[h]:6.1f}" for h in hosts))
        t += step


def bound(per_host: dict[str, int]) -> float:
    return max(math.ceil(n / CONCURRENCY) * LATENCY for n in per_host.values())


def report(name: str, f: dict[str, Any], goals: Goals, issues: int, notices: int) -> None:
    b = bound(f["per_host"])
    one_by_one = f["requests"] * LATENCY
    print(f"\n== {name}")
    print(f"   requests {f['requests']} on {len(f['per_host'])} hosts; "
          f"stored {f.get('issues', '?')} issues, {f.get('notices', '?')} notices")  # fmt: skip
    worst = max(f["max_in_flight"].values())
    goals.check(
        f"{name}: max in flight per host", worst, CONCURRENCY, unit="", higher_is_worse=True
    )
    goals.check(f"{name}: span at the server / politeness bound {b:.2f} s", f["span"] / b, 1.5,
                unit="x", aim=1.2)  # fmt: skip
    goals.check(f"{name}: speed-up over one by one ({one_by_one:.0f} s)", one_by_one / f["span"],
                10, unit="x", higher_is_worse=False)  # fmt: skip
    stats = f.get("stats", {})
    if "intake_statements" in stats:
        limit = 5 * issues + math.ceil(notices / 100)
        goals.check(
            f"{name}: SQL statements of the intake", stats["intake_statements"], limit, unit=""
        )
    print(f"   span {f['span']:.2f} s, wall {f['wall']:.2f} s, peak RSS {f['rss'] / 2**20:.0f} MB, "
          f"pipeline {stats.get('intake_s', '?')} s")  # fmt: skip
    goals.check(f"{name}: peak RSS, CLI and parser processes", f["rss"] / 2**20, 300, unit=" MB")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--issues", type=int, default=60)
    parser.add_argument("--notices-per-issue", type=int, default=10)
    parser.add_argument("--modes", default="plain,server,ephemeral")
    parser.add_argument("--timeline", action="store_true", help="print requests in flight per host")
    parser.add_argument("--plain-child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.plain_child:
        run_plain_child(*args.plain_child)
        return 0
    goals = Goals("backfill")
    with tempfile.TemporaryDirectory(prefix="pw-backfill-") as tmp:
        work = Path(tmp)
        site_root = work / "site"
        site = write_site(site_root, issues=args.issues, notices_per_issue=args.notices_per_issue)
        config = make_config(work)
        print(f"site: {len(site.issues)} issues, {site.notice_count} notices on "
              f"{len(site.notices)} ministry hosts; {LATENCY * 1000:.0f} ms latency, "
              f"{CONCURRENCY} per host")  # fmt: skip
        with LoopbackServer(site_root, latency=LATENCY) as server:
            modes = args.modes.split(",")
            if "plain" in modes:
                plain = run_plain_figures(work, config, server)
                report("plain (no Prefect)", plain, goals, len(site.issues), site.notice_count)
                if args.timeline:
                    timeline(server)
                report_plain_nochange(run_plain_figures(work, config, server), goals)
            if "server" in modes:
                from flows.testing import PrefectServer

                prefect = PrefectServer().start()
                try:
                    warm_server(prefect.api)
                    figures = run_cli(work, config, server, {"PREFECT_API_URL": prefect.api})
                finally:
                    prefect.stop()
                report_cli("server", figures, goals, site, plain if "plain" in modes else None)
            if "ephemeral" in modes:
                figures = run_cli(work, config, server, {"PREFECT_API_URL": ""})
                report_cli("ephemeral", figures, goals, site, plain if "plain" in modes else None)
    return goals.finish()


def report_plain_nochange(same: dict[str, Any], goals: Goals) -> None:
    """The no-change run's pipeline without Prefect: the figure the goal is about. It holds one
    conditional request answered after the site's latency (100 ms) like any other."""
    print("\n== plain (no Prefect), no-change run")
    goals.check("plain no-change run: requests (feed URLs: 1)", same["requests"], 1, unit="")
    goals.check("plain no-change run: conditional requests", same["conditional"], 1, unit="",
                higher_is_worse=False)  # fmt: skip
    pipe = same.get("stats", {}).get("intake_s")
    if pipe is not None:
        goals.check("plain no-change run: pipeline time, Prefect excluded", pipe, 0.15, unit=" s")
        print(f"   of which waiting on the site: about {LATENCY * same['requests']:.2f} s "
              f"({same['requests']} request(s) at {LATENCY * 1000:.0f} ms)")  # fmt: skip


def report_cli(
    name: str, figures: dict[str, Any], goals: Goals, site: Any, plain: dict[str, Any] | None
) -> None:
    back, same = figures["backfill"], figures["nochange"]
    report(f"policywatch run, {name} API", back, goals, len(site.issues), site.notice_count)
    b = bound(back["per_host"])
    startup = back["wall"] - back["span"]
    print(f"   CLI wall {back['wall']:.2f} s = span {back['span']:.2f} s + {startup:.2f} s "
          f"outside the span: {back['before_first']:.2f} s before the first request (imports, "
          f"Prefect API start), {startup - back['before_first']:.2f} s after the last (matching, "
          f"recording, artifacts, exit)")  # fmt: skip
    if back["timing"]:
        print(f"   CLI's own split: {back['timing'].removeprefix('timing: ')}")
    # Prefect start-up as a user meets it: the no-change run's wall (imports, API start, a flow
    # run that makes one conditional request); the API's first-time migrations are left out
    goals.check(f"{name}: CLI wall / (bound {b:.2f} s + no-change run {same['wall']:.2f} s)",
                back["wall"] / (b + same["wall"]), 1.0, unit="x")  # fmt: skip
    if plain is not None:
        goals.check(f"{name}: span with Prefect / span without", back["span"] / plain["span"],
                    1.1, unit="x")  # fmt: skip
    goals.check(f"{name} no-change run: requests (feed URLs: 1)", same["requests"], 1, unit="")
    goals.check(f"{name} no-change run: conditional requests", same["conditional"], 1, unit="",
                higher_is_worse=False)  # fmt: skip
    pipe = same.get("stats", {}).get("intake_s")
    if pipe is not None:  # Prefect's task runs included: the goal is checked on the plain run
        print(f"   {name} no-change run: pipeline time with Prefect's task runs: {pipe} s")
    print(f"   no-change run: wall {same['wall']:.2f} s (bound for the backfill: {b:.2f} s), "
          f"{same['before_first']:.2f} s before its request, "
          f"{same['wall'] - same['before_first'] - same['span']:.2f} s after it")  # fmt: skip
    if back.get("prefect_rss"):
        print(f"   Prefect's temporary API server (not counted above): peak RSS "
              f"{back['prefect_rss'] / 2**20:.0f} MB")  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
