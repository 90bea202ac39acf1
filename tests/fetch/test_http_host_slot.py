"""The ``host_slot`` hook: a host's limit shared by several clients (the workers of a fan-out).

The hook here is a plain asyncio semaphore per host shared by two clients in one process, the
same contract the flows meet with Prefect's global concurrency limits (tests/flows/
test_limits.py). The loopback server counts the requests in flight."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from policywatch.devtools.loopback import LoopbackServer
from policywatch.errors import FetchError
from policywatch.http import HostSlot, PoliteClient, host_key
from policywatch.settings import HttpSettings

from .conftest import Sleeps, peak_in_flight

pytestmark = pytest.mark.anyio


class SharedLimit:
    """A host limit two clients share; records how many of one client's requests waited on
    it at once (the local gate comes first, so never more than its own limit)."""

    def __init__(self, limit: int) -> None:
        self.gates: dict[str, asyncio.Semaphore] = {}
        self.limit = limit
        self.entered: Counter[str] = Counter()
        self.waiting = 0
        self.most_waiting = 0

    def hook(self) -> HostSlot:
        @asynccontextmanager
        async def slot(host: str) -> AsyncIterator[None]:
            gate = self.gates.setdefault(host, asyncio.Semaphore(self.limit))
            self.waiting += 1
            self.most_waiting = max(self.most_waiting, self.waiting)
            async with gate:
                self.waiting -= 1
                self.entered[host] += 1
                yield

        return slot


async def _both(clients: list[PoliteClient], url: str, each: int) -> None:
    await asyncio.gather(*(c.get(url) for c in clients for _ in range(each)))


async def test_two_clients_sharing_a_host_slot_stay_within_the_one_limit(
    fault: LoopbackServer, http_settings: HttpSettings, sleeps: Sleeps
) -> None:
    limit = SharedLimit(http_settings.per_host_concurrency)
    slot = limit.hook()
    async with (
        PoliteClient(http_settings, sleep=sleeps, host_slot=slot) as one,
        PoliteClient(http_settings, sleep=sleeps, host_slot=slot) as two,
    ):
        await _both([one, two], fault.url("/sleepy"), 4)
    assert fault.counts["/sleepy"] == 8
    assert peak_in_flight(fault, "/sleepy") == http_settings.per_host_concurrency
    assert limit.entered == {host_key(fault.base): 8}  # every request held a slot
    # each client queues at most its own limit for the shared slots: the local gate comes first
    assert limit.most_waiting <= 2 * http_settings.per_host_concurrency


async def test_without_the_hook_two_clients_add_up_their_limits(
    fault: LoopbackServer, http_settings: HttpSettings, sleeps: Sleeps
) -> None:
    """What the hook is for: two processes each keep their own limit, not the host's."""
    async with (
        PoliteClient(http_settings, sleep=sleeps) as one,
        PoliteClient(http_settings, sleep=sleeps) as two,
    ):
        await _both([one, two], fault.url("/sleepy"), 4)
    assert peak_in_flight(fault, "/sleepy") == 2 * http_settings.per_host_concurrency


async def test_a_slot_that_cannot_be_had_is_a_fetch_error_naming_the_host(
    fault: LoopbackServer, http_settings: HttpSettings, sleeps: Sleeps
) -> None:
    @asynccontextmanager
    async def unreachable(host: str) -> AsyncIterator[None]:
        raise ConnectionError("limit server unreachable")
        yield  # pragma: no cover

    async with PoliteClient(http_settings, sleep=sleeps, host_slot=unreachable) as client:
        with pytest.raises(FetchError, match=r"no request slot for host 127\.0\.0\.1:\d+"):
            await client.get(fault.url("/ok"))
    assert fault.counts["/ok"] == 0  # nothing was sent without a slot


async def test_the_slot_is_given_back_when_the_request_fails(
    fault: LoopbackServer, http_settings: HttpSettings, sleeps: Sleeps
) -> None:
    held: list[str] = []

    @asynccontextmanager
    async def slot(host: str) -> AsyncIterator[None]:
        held.append(host)
        try:
            yield
        finally:
            held.remove(host)

    async with PoliteClient(http_settings, sleep=sleeps, host_slot=slot) as client:
        with pytest.raises(FetchError):
            await client.get(fault.url("/503"))
    assert fault.counts["/503"] == http_settings.max_attempts  # one slot per attempt
    assert held == []
