"""Prefect global concurrency limits for hosts and sources, against the session's real server.

Two ``HostSlots`` on two API clients are what two workers are to the server: the loopback site
counts the requests in flight per host."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate

from flows.limits import SOURCE_LEASE, Slots, host_limit, host_slots, source_limit, source_slots
from policywatch.devtools.loopback import LoopbackServer, Reply
from policywatch.http import PoliteClient
from policywatch.settings import HttpSettings
from policywatch.store import Store
from policywatch.store.holder import Holder, current, start_time
from policywatch.store.locks import LEASE_PREFIX, dead_leases
from policywatch.store.schema import locks, utcnow

pytestmark = pytest.mark.usefixtures("prefect_api")


def _settings(limit: int) -> HttpSettings:
    return HttpSettings(
        allowed_hosts=["127.0.0.1"], per_host_concurrency=limit, per_host_interval=0,
        total_timeout=10,
    )  # fmt: skip


async def _limit(name: str) -> Any:
    async with get_client() as client:
        return await client.read_global_concurrency_limit_by_name(name)


def test_two_workers_share_a_host_limit_created_from_the_config() -> None:
    with LoopbackServer(routes={"/slow": lambda r: Reply(200, {}, b"ok", delay=0.15)}) as site:
        settings = _settings(2)

        async def worker(requests: int) -> int:
            async with host_slots(settings) as hosts, PoliteClient(settings, host_slot=hosts) as c:
                await asyncio.gather(*(c.get(site.url("/slow")) for _ in range(requests)))
                return int(hosts.stats()["host_slots"])

        async def both() -> list[int]:
            return list(await asyncio.gather(worker(5), worker(5)))

        taken = asyncio.run(both())
        host = f"127.0.0.1:{site.port}"
        limit = asyncio.run(_limit(host_limit(host)))
    assert site.counts["/slow"] == 10
    assert site.max_in_flight == 2  # each worker alone would allow 2, together 4
    assert taken == [5, 5]  # every request held a slot of the host's limit
    assert (limit.limit, limit.active_slots) == (2, 0)  # from the config; all given back


def test_a_host_limit_set_elsewhere_takes_the_configs_value() -> None:
    host = f"example-{uuid.uuid4().hex[:8]}.org"

    async def go() -> Any:
        async with get_client() as client:
            await client.create_global_concurrency_limit(
                GlobalConcurrencyLimitCreate(name=host_limit(host), limit=7)
            )
        async with host_slots(_settings(3)) as hosts, hosts(host):
            pass
        return await _limit(host_limit(host))

    assert asyncio.run(go()).limit == 3


def test_a_second_run_of_a_source_waits_for_the_first(caplog: pytest.LogCaptureFixture) -> None:
    """A plain run holds all its sources at once; a check-source run of one of them waits."""
    name = f"src-{uuid.uuid4().hex[:8]}"
    events: list[str] = []

    async def go() -> None:
        async with source_slots([name, f"{name}-other"]):
            events.append("plain in")
            child = asyncio.ensure_future(_child(name, events))
            await _until_logged(caplog, "waiting for another run working on " + name)
            events.append("plain out")
        await child

    with caplog.at_level(logging.WARNING, logger="flows.limits"):
        asyncio.run(go())
    assert events == ["plain in", "plain out", "child in"]
    limit = asyncio.run(_limit(source_limit(name)))
    assert (limit.limit, limit.active_slots) == (1, 0)


async def _child(name: str, events: list[str]) -> None:
    async with source_slots([name]):
        events.append("child in")


async def _until_logged(caplog: pytest.LogCaptureFixture, text: str) -> None:
    for _ in range(200):
        if any(text in r.getMessage() for r in caplog.records):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never logged: {text}")


def test_limit_names_are_ones_prefect_accepts() -> None:
    from prefect.types.names import WITHOUT_BANNED_CHARACTERS

    assert host_limit("www.miit.gov.cn") == "policywatch-host-www.miit.gov.cn"
    assert source_limit("miit/notices & more") == "policywatch-source-miit-notices - more"
    assert re.fullmatch(WITHOUT_BANNED_CHARACTERS, source_limit("a/b%c<d>e&f"))


def test_the_slot_of_a_run_killed_on_this_host_is_given_back_at_once(tmp_path: Path) -> None:
    """kill -9 of a run that held a source's slot: its lease would keep the slot for
    ``SOURCE_LEASE``; the next run finds its note in the state, sees the process gone and gives
    the slot back, so it goes ahead at once (as it takes the state's run lock over at once)."""
    name = f"src-{uuid.uuid4().hex[:8]}"
    child = subprocess.Popen(["sleep", "60"])
    me = current()
    dead = Holder(me.host, child.pid, me.boot_id, me.pidns, start_time(child.pid))
    child.kill()
    child.wait(10)

    async def go(store: Store) -> list[str]:
        async with get_client() as client:  # the killed run's slot, never given back
            slots = Slots(client)
            await slots.ensure(source_limit(name), 1)
            lease = await slots.take([source_limit(name)], SOURCE_LEASE)
        now = utcnow()
        with store.write() as conn:
            conn.execute(
                locks.insert().values(
                    name=f"{LEASE_PREFIX}{lease}", owner="killed-run", holder=dead.to_json(),
                    acquired_at=now, expires_at=now + dt.timedelta(seconds=SOURCE_LEASE),
                )
            )  # fmt: skip
        async with asyncio.timeout(30), source_slots([name], store, "next-run"):
            assert dead_leases(store.engine) == []  # this live run's note is not "dead"
            with store.read() as conn:
                return list(conn.execute(sa.select(locks.c.owner)).scalars())

    with Store.open(f"sqlite:///{tmp_path / 'state.db'}") as store:
        owners = asyncio.run(go(store))
        with store.read() as conn:
            assert conn.execute(sa.select(locks)).all() == []  # both notes gone
    assert owners == ["next-run"]
    limit = asyncio.run(_limit(source_limit(name)))
    assert (limit.limit, limit.active_slots) == (1, 0)
