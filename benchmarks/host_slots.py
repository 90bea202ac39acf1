"""What a host's shared slot costs per request (a fan-out's runs share hosts' limits through
Prefect global concurrency limits, ``flows.limits``).

A loopback host with 100 ms of latency per response (in its own process), 80 requests with
``per_host_concurrency: 4``, fetched four ways against a real Prefect server (``PREFECT_API_URL``,
else one started here):

* ``none``: no shared slot (a plain single-process run);
* ``HostSlots``: what check-source runs use (take with a lease, release: two API calls);
* ``concurrency()``: Prefect's public context manager, for comparison (it also starts a
  lease-renewal thread and emits events);
* two clients with their own ``HostSlots``, as two workers: the most requests in flight at the
  host, which must be the one limit, not twice it.

Figures: wall time of the 80 requests, CPU per request, and the time a slot takes (entering and
leaving it: median and p90) per request.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import statistics
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

from benchmarks.goals import Goals  # noqa: E402
from policywatch.devtools.loopback import LoopbackServer, Reply  # noqa: E402
from policywatch.http import PoliteClient  # noqa: E402
from policywatch.settings import HttpSettings  # noqa: E402

REQUESTS, LIMIT, LATENCY = 80, 4, 0.1
Slot = Callable[[str], AbstractAsyncContextManager[object]]


def serve(conn: Connection) -> None:
    with LoopbackServer(routes={}, latency=LATENCY) as site:
        site.routes["/page"] = lambda request: Reply(200, {}, b"<html>ok</html>")
        conn.send(site.base)
        while conn.recv() == "stats":
            conn.send(site.max_in_flight)
            site.reset_counts()


def settings() -> HttpSettings:
    return HttpSettings(
        allowed_hosts=["127.0.0.1"], per_host_concurrency=LIMIT, per_host_interval=0
    )


def timed(slot: Slot, costs: list[float]) -> Slot:
    """The slot, with the time spent entering and leaving it recorded per request."""

    @asynccontextmanager
    async def wrapped(host: str) -> AsyncIterator[None]:
        start = time.perf_counter()
        async with slot(host):
            costs.append(time.perf_counter() - start)
            yield
            start = time.perf_counter()
        costs[-1] += time.perf_counter() - start

    return wrapped


async def fetch(url: str, slot: Slot | None) -> tuple[float, float]:
    """Wall seconds and CPU seconds of the requests."""
    async with PoliteClient(settings(), host_slot=slot) as client:
        wall, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(client.get(url) for _ in range(REQUESTS)))
        return time.perf_counter() - wall, time.process_time() - cpu


async def with_host_slots(url: str, costs: list[float]) -> tuple[float, float]:
    from flows.limits import host_slots

    async with host_slots(settings()) as hosts:
        await fetch(url, hosts)  # the limit is created and the API client warm
        return await fetch(url, timed(hosts, costs))


async def with_concurrency(url: str, costs: list[float]) -> tuple[float, float]:
    from prefect.concurrency.asyncio import concurrency

    def slot(host: str) -> AbstractAsyncContextManager[None]:
        return concurrency(f"policywatch-host-{host}", strict=True)

    await fetch(url, slot)
    return await fetch(url, timed(slot, costs))


async def two_workers(url: str) -> None:
    from flows.limits import host_slots

    async def one() -> None:
        async with host_slots(settings()) as hosts:
            await fetch(url, hosts)

    await asyncio.gather(one(), one())


def report(label: str, figures: tuple[float, float], costs: list[float]) -> None:
    wall, cpu = figures
    line = f"   {label:>15}: {wall:.2f} s wall, {cpu / REQUESTS * 1000:.1f} ms CPU per request"
    if costs:
        p90 = sorted(costs)[int(len(costs) * 0.9)]
        line += f", slot {statistics.median(costs) * 1000:.1f} ms median, {p90 * 1000:.1f} ms p90"
    print(line)


def run(url: str, parent: Connection, goals: Goals) -> None:
    bound = REQUESTS / LIMIT * LATENCY
    print(f"{REQUESTS} requests, per_host_concurrency {LIMIT}, {LATENCY * 1000:.0f} ms latency "
          f"(politeness bound {bound:.1f} s)")  # fmt: skip
    report("none", asyncio.run(fetch(url, None)), [])
    slots: list[float] = []
    report("HostSlots", asyncio.run(with_host_slots(url, slots)), slots)
    public: list[float] = []
    report("concurrency()", asyncio.run(with_concurrency(url, public)), public)
    parent.send("stats")
    parent.recv()
    asyncio.run(two_workers(url))
    parent.send("stats")
    most = parent.recv()
    print(f"   two workers: at most {most} request(s) in flight at the host (limit {LIMIT})")
    goals.check(
        "HostSlots time per request (median)", statistics.median(slots) * 1000, 60, unit=" ms"
    )
    goals.check("two workers' requests in flight", most, LIMIT)


def main() -> int:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows import testing

    goals = Goals("host_slots")
    parent, child = mp.Pipe()
    proc = mp.get_context("spawn").Process(target=serve, args=(child,), daemon=True)
    proc.start()
    server = None if os.environ.get("PREFECT_API_URL") else testing.PrefectServer().start()
    try:
        url = str(parent.recv()) + "/page"
        api: Any = os.environ.get("PREFECT_API_URL") or (server.api if server else None)
        with temporary_settings(updates={PREFECT_API_URL: api}):
            run(url, parent, goals)
    finally:
        parent.send("stop")
        proc.join(timeout=5)
        if server is not None:
            server.stop()
    return goals.finish()


if __name__ == "__main__":
    raise SystemExit(main())
