"""Several workers: a fan-out over two real process workers sharing one PostgreSQL state.

``prefect deploy`` of prefect.yaml (pool and names changed) and two ``prefect worker start``
processes; the session's real Prefect server. check-updates fans out over four sources: the
demo's MERICS feed, two MIIT columns that list the same documents (one host, two sources), and
gov.cn's 最新政策; a hand-started check-source run of one MIIT column goes at the same time.
The loopback site has latency and counts requests in flight per host; the first MIIT and gov.cn
list requests wait for each other, and so do the first two MIIT list requests (up to ``MEET``
s), so children that run at once meet there and children run one after the other do not. The
SMTP sink receives the alerts.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
import yaml

from flows import testing
from policywatch.demo import DemoWorld
from policywatch.devtools.loopback import Reply, Request
from policywatch.devtools.ministrysite import GOVCN_LIST, MIIT_API, MIIT_COLUMN, MinistrySite
from policywatch.store import Store
from policywatch.store.schema import runs

PREFECT = str(Path(sys.executable).with_name("prefect"))
POOL, NAME = "pw-scale-pool", "scale-test"
COLUMN_2 = "https://www.miit.gov.cn/zwgk/zcwj/wjfb/gg/index.html"
SOURCES = ["merics", "miit-notices", "miit-announcements", "govcn-latest"]
LIMIT = 2  # http.per_host_concurrency
MEET = 30.0  # seconds the first MIIT and gov.cn list requests wait for each other at most
UI_BODY = {
    "enforce_parameter_schema": True,
    "state": {"type": "SCHEDULED", "message": "Run from the Prefect UI"},
}


def _configure(world: DemoWorld) -> MinistrySite:
    path = world.config_dir / "policywatch.yaml"
    data = yaml.safe_load(path.read_text("utf-8"))
    data["sources"] += [
        {"name": "miit-announcements", "type": "ministry", "site": "miit", "list_urls": [COLUMN_2]},
        {"name": "govcn-latest", "type": "ministry", "site": "govcn", "list_urls": [GOVCN_LIST]},
    ]  # fmt: skip
    assert [s["name"] for s in data["sources"]] == SOURCES
    assert data["sources"][1]["list_urls"] == [MIIT_COLUMN]
    # a request waiting at the meeting point (below) must not time out and be sent again
    wait = MEET + 30
    data["http"].update(
        per_host_concurrency=LIMIT, per_host_interval=0, read_timeout=wait, total_timeout=wait
    )
    data["intake"] = {**data.get("intake", {}), "parse_workers": 1}
    path.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    site = MinistrySite(world.root / "site", world.site)
    site.miit_column(COLUMN_2)
    return site


def _publish(site: MinistrySite) -> list[str]:
    """Notices on both ministries; the titles that match a watchlist (固态电池: ev-batteries)."""
    import datetime as dt

    day, matching = dt.date(2026, 3, 2), []
    for n in range(14):
        title = f"工业和信息化部关于第{n}批固态电池试点项目的通知"
        site.publish("miit", title, day=day, doc_number=f"工信部装〔2026〕{100 + n}号")
        matching.append(title)
    for n in range(6):
        site.publish("govcn", f"国务院办公厅关于第{n}批营商环境改革试点的意见", day=day)
    return matching


def _meet_at_first_lists(world: DemoWorld, site: MinistrySite) -> None:
    """The first MIIT API request and the first gov.cn list request wait for each other, and
    the first two MIIT API requests (the two MIIT sources list through the same API route) wait
    for each other too, so two runs listing MIIT at once are both in flight there: the host's
    limit is reached, and a third MIIT request can only wait for a slot."""
    arrived = {"miit": threading.Event(), "govcn": threading.Event()}
    pair = threading.Barrier(2)
    first_two = itertools.count()

    def meet(me: str, other: str) -> None:
        arrived[me].set()
        arrived[other].wait(MEET)

    miit_api = world.site.routes[MIIT_API]

    def miit(request: Request) -> Any:
        if next(first_two) < 2:
            with contextlib.suppress(threading.BrokenBarrierError):
                pair.wait(MEET)
        meet("miit", "govcn")
        return miit_api(request)

    govcn_path = site.root / GOVCN_LIST.split("://", 1)[1]

    def govcn(request: Request) -> Reply:
        meet("govcn", "miit")
        return Reply(200, {"Content-Type": "text/html; charset=utf-8"}, govcn_path.read_bytes())

    world.site.routes[MIIT_API] = miit
    world.site.routes["/" + GOVCN_LIST.split("://", 1)[1]] = govcn


def _deploy(env: dict[str, str], repo_root: Path, tmp_path: Path) -> None:
    text = (repo_root / "prefect.yaml").read_text(encoding="utf-8")
    text = text.replace("name: policywatch\n    work_queue", f"name: {POOL}\n    work_queue")
    text = text.replace("  - name: workers\n", f"  - name: {NAME}\n")
    custom = tmp_path / "prefect.yaml"
    custom.write_text(text, encoding="utf-8")
    for args in (
        ["work-pool", "create", POOL, "--type", "process", "--overwrite"],
        ["deploy", "--all", "--no-prompt", "--prefect-file", str(custom)],
    ):
        done = subprocess.run(
            [PREFECT, *args], env=env, cwd=repo_root, capture_output=True, text=True,
            timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


def _start(api: httpx.Client, flow: str, parameters: dict[str, Any]) -> str:
    dep = api.get(f"/deployments/name/{flow}/{NAME}").json()
    run = api.post(
        f"/deployments/{dep['id']}/create_flow_run", json={"parameters": parameters, **UI_BODY}
    )
    assert run.status_code == 201, run.text
    return str(run.json()["id"])


def _final(api: httpx.Client, run_id: str, deadline: float = 240) -> dict[str, Any]:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        run = api.get(f"/flow_runs/{run_id}").json()
        if run["state_type"] in {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}:
            return run  # type: ignore[no-any-return]
        time.sleep(0.5)
    raise AssertionError(f"flow run {run_id} not finished after {deadline}s")


def _source_runs(state_url: str) -> list[dict[str, Any]]:
    """The check-source runs' rows: source, and when they worked on it (under its lock)."""
    with Store.open(state_url) as store, store.read() as conn:
        rows = conn.execute(sa.select(runs.c.id, runs.c.status, runs.c.summary)).all()
    out = []
    for row in rows:
        summary = row.summary if isinstance(row.summary, dict) else json.loads(row.summary or "{}")
        stats = summary.get("stats", {})
        if "work_start" in stats:
            [source] = {s["name"] for s in summary["sources"]}
            out.append(
                {"id": row.id, "status": row.status, "source": source,
                 "span": (stats["work_start"], stats["work_end"])}
            )  # fmt: skip
    return out


def _overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return max(a[0], b[0]) < min(a[1], b[1])


def test_a_fan_out_over_two_workers_on_postgresql_keeps_every_limit(
    prefect_server: testing.PrefectServer,
    world: DemoWorld,
    pg_schema_url: str,
    child_env: Callable[..., dict[str, str]],
    repo_root: Path,
    tmp_path: Path,
    stop_process: Callable[[subprocess.Popen[Any]], None],
) -> None:
    site = _configure(world)
    matching = _publish(site)
    _meet_at_first_lists(world, site)
    world.site.latency = 0.1
    env = child_env(prefect_server, {**world.env, "POLICYWATCH_HOME": str(repo_root)})
    env.update(POLICYWATCH_STATE_URL=pg_schema_url, PREFECT_WORKER_QUERY_SECONDS="1")
    _deploy(env, repo_root, tmp_path)

    logs = [tmp_path / f"worker{n}.log" for n in (1, 2)]
    workers = []
    for log in logs:
        with log.open("wb") as out:
            workers.append(subprocess.Popen(
                [PREFECT, "worker", "start", "--pool", POOL, "--type", "process", "--name", log.stem],
                env=env, cwd=repo_root, stdout=out, stderr=subprocess.STDOUT,
            ))  # fmt: skip
    try:
        with testing.api_client(prefect_server.api) as api:
            parent = _start(api, "check-updates", {"alert_existing": True})
            by_hand = _start(api, "check-source", {"source": SOURCES[1], "alert_existing": True})
            final = {"parent": _final(api, parent), "by_hand": _final(api, by_hand)}
            children = api.post(
                "/flow_runs/filter",
                json={"flow_runs": {"parent_flow_run_id": {"any_": [parent]}}},
            ).json()
            pools = {c["work_pool_name"] for c in children}
    finally:
        for worker in workers:
            stop_process(worker)

    tails = "\n".join(log.read_text(errors="replace")[-6000:] for log in logs)
    assert [f["state_type"] for f in final.values()] == ["COMPLETED", "COMPLETED"], tails
    assert len(children) == 4, children
    assert pools == {POOL}
    assert {c["state_type"] for c in children} == {"COMPLETED"}

    # no duplicate alert: one message per item, each matching notice in exactly one
    messages = world.messages()
    ids = Counter(str(m["Message-ID"]) for m in messages)
    assert len(ids) == len(messages) > 0, ids
    subjects = [str(m["Subject"]) for m in messages]
    for title in matching:
        assert sum(title in s for s in subjects) == 1, (title, subjects)

    # no host above its limit, over both workers; the MIIT host was shared at its limit
    in_flight = world.site.max_in_flight_by
    assert max(in_flight.values()) == LIMIT, in_flight
    assert in_flight["www.miit.gov.cn"] == LIMIT

    # children of different sources worked at once; two runs of one source never did
    worked = _source_runs(pg_schema_url)
    assert Counter(w["source"] for w in worked) == Counter([*SOURCES, SOURCES[1]])
    pairs = list(itertools.combinations(worked, 2))
    assert any(a["source"] != b["source"] and _overlap(a["span"], b["span"]) for a, b in pairs)
    [one, two] = [w for w in worked if w["source"] == SOURCES[1]]
    assert not _overlap(one["span"], two["span"]), (one, two)
