"""Prefect global concurrency limits (GCL) that runs on several workers share.

Two kinds, created when missing (and set to the config's value when it differs):

* ``policywatch-source-<source>`` (limit 1): held by whoever works on a source, a ``check-source``
  run (its one source) or a plain ``check-updates`` run (all its sources, taken at once, so two
  runs cannot deadlock on them). Two runs never work on one source together, whichever worker
  they run on. The lease lasts ``SOURCE_LEASE`` and is renewed while the run lasts, so the slot
  of a worker that died is free again within that time.
* ``policywatch-host-<host>`` (limit ``http.per_host_concurrency``): one slot per request in
  flight to that host, over every worker of a fan-out. A request never outlives
  ``http.total_timeout``, so its lease (that plus a margin) needs no renewal.

Slots are taken with two API calls (take with a lease, release), not with Prefect's
``concurrency()``, which also starts a lease-renewal thread and emits two events per use:
measured against a local server, 20-40 ms per slot against 0.2-0.3 s (and 90 ms of CPU), which
matters once per request. A full limit answers 423 with a Retry-After; the wait is capped at
``MAX_RETRY_WAIT`` so a slot freed early is not left idle long.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING
from uuid import UUID

import httpx
from prefect.client.orchestration import PrefectClient, get_client
from prefect.exceptions import ObjectAlreadyExists

from policywatch.settings import HttpSettings
from policywatch.store import locks as state_locks

if TYPE_CHECKING:
    from policywatch.store import Store

__all__ = ["HostSlots", "Slots", "host_limit", "host_slots", "source_limit", "source_slots"]

log = logging.getLogger(__name__)

SOURCE_PREFIX = "policywatch-source-"
HOST_PREFIX = "policywatch-host-"
LOCKED = 423  # the server's "no slot free now"
MAX_RETRY_WAIT = 2.0  # seconds between attempts at most, whatever Retry-After says
MIN_LEASE = 60.0  # the API's shortest lease
SOURCE_LEASE = 120.0


def source_limit(source: str) -> str:
    return SOURCE_PREFIX + _allowed(source)


def host_limit(host: str) -> str:
    return HOST_PREFIX + _allowed(host)


def _allowed(name: str) -> str:
    """Prefect refuses ``/ % & < >`` in names (two names that differ only there share a limit,
    which is merely stricter)."""
    return re.sub(r"[/%&<>]", "-", name)


class Slots:
    """Taking and giving back slots of named limits through one API client."""

    def __init__(self, client: PrefectClient) -> None:
        self.client = client
        self._ready: dict[str, asyncio.Future[None]] = {}
        self.taken = 0
        self.refused = 0  # answers "no slot free now" (each followed by a wait)

    async def ensure(self, name: str, limit: int) -> None:
        """Create the limit or set its value, once per name (concurrent callers share the call)."""
        if name not in self._ready:
            self._ready[name] = asyncio.ensure_future(self._upsert(name, limit))
        try:
            await asyncio.shield(self._ready[name])
        except Exception:
            self._ready.pop(name, None)  # the next caller tries again
            raise

    async def _upsert(self, name: str, limit: int) -> None:
        try:
            await self.client.upsert_global_concurrency_limit_by_name(name, limit)
        except ObjectAlreadyExists:  # another process created it a moment ago
            await self.client.upsert_global_concurrency_limit_by_name(name, limit)

    async def take(
        self,
        names: list[str],
        lease: float,
        on_wait: Callable[[], None] | None = None,
        reclaim: Callable[[], Awaitable[bool]] | None = None,
    ) -> UUID:
        """One slot of each limit, all at once; waits while any is full. Returns the lease id.
        ``reclaim``, called when a limit is full, frees what dead holders kept (True: try again
        at once)."""
        told = False
        while True:
            try:
                response = await self.client.increment_concurrency_slots_with_lease(
                    names=names, slots=1, mode="concurrency", lease_duration=lease
                )
            except httpx.HTTPStatusError as exc:
                if exc.response.status_code != LOCKED:
                    raise
                self.refused += 1
                if reclaim is not None and await reclaim():
                    continue
                if on_wait is not None and not told:
                    told = True
                    on_wait()
                hint = float(exc.response.headers.get("Retry-After") or 1)
                await asyncio.sleep(min(hint, MAX_RETRY_WAIT))
                continue
            self.taken += 1
            return UUID(response.json()["lease_id"])

    async def release(self, lease: UUID, what: str) -> None:
        """Shielded, so a cancelled holder still gives its slots back; a failed release only
        keeps them until the lease ends."""
        try:
            await asyncio.shield(self.client.release_concurrency_slots_with_lease(lease))
        except Exception as exc:
            log.warning("%s: slot not released (%s); it frees when its lease ends", what, exc)

    async def keep(self, lease: UUID, duration: float) -> None:
        """Renew ``lease`` until cancelled."""
        while True:
            await asyncio.sleep(duration * 0.5)
            try:
                await self.client.renew_concurrency_lease(lease, duration)
            except Exception as exc:  # the state's per-source lock still holds; keep trying
                log.warning("could not renew the sources' slot lease: %s", exc)


@asynccontextmanager
async def source_slots(
    sources: Sequence[str], store: Store | None = None, owner: str = ""
) -> AsyncIterator[None]:
    """Hold the slot of every named source for the length of the block. With ``store``, the
    lease is noted there for run ``owner``, and the leases of runs that died on this host are
    given back when a slot is taken."""
    names = [source_limit(s) for s in dict.fromkeys(sources)]
    if not names:
        yield
        return
    async with get_client() as client:
        slots = Slots(client)
        for name in names:
            await slots.ensure(name, 1)

        def waiting() -> None:
            log.warning("waiting for another run working on %s", ", ".join(sources))

        async def reclaim() -> bool:
            return store is not None and await _release_dead(client, store)

        lease = await slots.take(names, SOURCE_LEASE, on_wait=waiting, reclaim=reclaim)
        try:
            if store is not None:
                await asyncio.to_thread(
                    state_locks.note_lease, store.engine, str(lease), owner, SOURCE_LEASE
                )
        except BaseException:
            await slots.release(lease, ", ".join(names))
            raise
        renewal = asyncio.ensure_future(slots.keep(lease, SOURCE_LEASE))
        try:
            yield
        finally:
            renewal.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewal
            await slots.release(lease, ", ".join(names))
            if store is not None:
                await _forget(store, str(lease))


async def _forget(store: Store, lease: str) -> None:
    """The lease's note removed; a state that cannot take it only leaves a note that a later
    run clears once this process is gone."""
    try:
        await asyncio.to_thread(state_locks.forget_lease, store.engine, lease)
    except Exception as exc:
        log.warning("slot lease %s: note not removed from the state (%s)", lease, exc)


async def _release_dead(client: PrefectClient, store: Store) -> bool:
    """Give back the slot leases noted by runs whose process on this host is gone; True if
    there were any (their slots are free now, or were already: the lease had run out)."""
    dead = await asyncio.to_thread(state_locks.dead_leases, store.engine)
    for lease, row in dead:
        with contextlib.suppress(httpx.HTTPStatusError):  # 404: the lease had already ended
            await client.release_concurrency_slots_with_lease(UUID(lease))
        await _forget(store, lease)
        log.warning("source slots of %s released at once: its process is gone", row.describe())
    return bool(dead)


class HostSlots:
    """``host_slot`` for ``PoliteClient``: one slot of the host's limit per request in flight."""

    def __init__(self, client: PrefectClient, settings: HttpSettings) -> None:
        self.slots = Slots(client)
        self.limit = settings.per_host_concurrency
        self.lease = max(MIN_LEASE, settings.total_timeout + 30)

    @asynccontextmanager
    async def __call__(self, host: str) -> AsyncIterator[None]:
        name = host_limit(host)
        await self.slots.ensure(name, self.limit)
        lease = await self.slots.take([name], self.lease)
        try:
            yield
        finally:
            await self.slots.release(lease, name)

    def stats(self) -> dict[str, float]:
        return {"host_slots": self.slots.taken, "host_slot_waits": self.slots.refused}


@asynccontextmanager
async def host_slots(settings: HttpSettings) -> AsyncIterator[HostSlots]:
    """A ``HostSlots`` on its own API client for the length of the block."""
    async with get_client() as client:
        yield HostSlots(client, settings)
