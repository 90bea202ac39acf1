"""HTTP client benchmark: the polite client alone, fetching concurrently vs a sequential loop.

A component figure, not the run: it calls ``client.get`` over every URL at once, which no real
run does (a run fetches a page, parses it, then fetches its notices). ``benchmarks/backfill.py``
measures the real ``policywatch run`` against the politeness bound; this one only says how close
the client itself gets, so it checks no goal.

Six loopback "hosts" (one server per port; the client's per-host key is host:port), each
answering after 100 ms of injected latency, serve 60 issue pages and 600 notice pages in all.
The politeness bound is the least time the per-host limits allow:
    bound = max over hosts of ceil(requests on the host / per-host concurrency) x latency.
It then times the pipeline's notice step (``fetch_notices``: fetch and parse) over the 600
notice URLs, for information: parsing is CPU work on the event loop, so it has no such bound.

The sequential loop over all 660 URLs would take over a minute, so by default it runs over an
evenly spread sample and is scaled up (``--full`` runs it over every URL).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import multiprocessing as mp
import sys
import tempfile
import time
from contextlib import ExitStack
from multiprocessing.connection import Connection
from pathlib import Path

from parsers.bodies import BodyIndex
from policywatch.devtools.loopback import LoopbackServer
from policywatch.http import PoliteClient, host_key
from policywatch.notices import fetch_notices
from policywatch.settings import HttpSettings

HOSTS = 6
ISSUES = 60
NOTICES = 600
LATENCY = 0.1
CONCURRENCY = 2
SAMPLE_EVERY = 6


def write_site(root: Path) -> list[str]:
    """Pages every host serves; returns their paths (10 issues + 100 notices per host)."""
    filler = "<p>" + "示例正文，合成数据。" * 200 + "</p>"
    paths = []
    for kind, count in (("issues", ISSUES // HOSTS), ("notices", NOTICES // HOSTS)):
        (root / kind).mkdir()
        for i in range(count):
            name = f"{kind}/{i:03d}.html"
            (root / name).write_text(
                f"<html><head><title>{kind} {i}</title></head><body>{filler}</body></html>", "utf-8"
            )
            paths.append("/" + name)
    return paths


def settings() -> HttpSettings:
    return HttpSettings(
        allowed_hosts=["127.0.0.1"],
        per_host_concurrency=CONCURRENCY,
        per_host_interval=0,
    )


async def fetch_concurrently(urls: list[str]) -> tuple[float, dict[str, int]]:
    async with PoliteClient(settings()) as client:
        start = time.perf_counter()
        results = await asyncio.gather(*(client.get(u) for u in urls))
        elapsed = time.perf_counter() - start
        assert all(r.status == 200 and r.content for r in results)
        return elapsed, dict(client.requests_made)


async def fetch_and_parse(urls: list[str]) -> tuple[float, int]:
    """The pipeline's notice step (fetch_notices: fetch + parse) over the same notice URLs."""
    async with PoliteClient(settings()) as client:
        start = time.perf_counter()
        notices = await fetch_notices(client, urls, BodyIndex.load(), site="generic")
        elapsed = time.perf_counter() - start
        return elapsed, sum(n.status == "ok" for n in notices)


async def fetch_sequentially(urls: list[str]) -> float:
    async with PoliteClient(settings()) as client:
        start = time.perf_counter()
        for url in urls:
            await client.get(url)
        return time.perf_counter() - start


def interleave(bases: list[str], paths: list[str]) -> list[str]:
    """Issues first, each path on every host in turn, as a pipeline would meet them."""
    return [base + path for path in paths for base in bases]


def serve(root: str, conn: Connection) -> None:
    """The six hosts, in their own process so that they do not share the client's GIL."""
    with ExitStack() as stack:
        servers = [stack.enter_context(LoopbackServer(root, latency=LATENCY)) for _ in range(HOSTS)]
        conn.send([s.base for s in servers])
        while conn.recv() == "stats":
            conn.send(
                (sum(s.total_requests() for s in servers), max(s.max_in_flight for s in servers))
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--full", action="store_true", help="run the sequential loop on all URLs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_site(Path(tmp))
        parent, child = mp.Pipe()
        proc = mp.get_context("spawn").Process(target=serve, args=(tmp, child), daemon=True)
        proc.start()
        try:
            urls = interleave(parent.recv(), paths)
            elapsed, per_host = asyncio.run(fetch_concurrently(urls))
            parent.send("stats")
            served, max_in_flight = parent.recv()
            notice_urls = [u for u in urls if "/notices/" in u]
            parsed_in, parsed_ok = asyncio.run(fetch_and_parse(notice_urls))
            sample = urls if args.full else urls[::SAMPLE_EVERY]
            seq = asyncio.run(fetch_sequentially(sample)) * len(urls) / len(sample)
        finally:
            parent.send("stop")
            proc.join(timeout=10)
    bound = max(math.ceil(n / CONCURRENCY) * LATENCY for n in per_host.values())
    ratio, speedup = elapsed / bound, seq / elapsed
    print(f"hosts {HOSTS} (keys like {host_key(urls[0])}), latency {LATENCY * 1000:.0f} ms, "
          f"per-host concurrency {CONCURRENCY}, interval 0")  # fmt: skip
    print(f"requests          {served} ({ISSUES} issues + {NOTICES} notices)")
    print(f"max in flight     {max_in_flight} per host (limit {CONCURRENCY})")
    print(f"concurrent        {elapsed:.2f} s")
    print(f"politeness bound  {bound:.2f} s  -> ratio {ratio:.2f}")
    how = (
        "all URLs"
        if args.full
        else f"{len(sample)}-URL sample, scaled x{len(urls) / len(sample):.0f}"
    )
    print(f"sequential        {seq:.2f} s ({how})")
    print(f"speed-up          {speedup:.1f}x")
    print(f"fetch + parse     {parsed_in:.2f} s for {len(notice_urls)} notices "
          f"({parsed_ok} ok; fetch_notices, parsing included)")  # fmt: skip
    print("component figures only: the run is measured by benchmarks/backfill.py")
    if max_in_flight > CONCURRENCY:  # the one property a component can break on its own
        print(f"per-host limit EXCEEDED: {max_in_flight} in flight, limit {CONCURRENCY}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
