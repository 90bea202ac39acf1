"""A cited notice that fails is fetched again on a schedule, then given up (``gave_up``), and a
notice that answered with validators is asked for conditionally: counted at the loopback server."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from policywatch.demo import DemoWorld, demo_world
from policywatch.intake import retry_for, run_plain
from policywatch.settings import Config, NoticeSettings
from policywatch.store import Store
from policywatch.store.reads import NoticeState
from policywatch.store.schema import notices

BROKEN = "/www.cac.gov.cn/2026-03/14/c_1773456789012345.htm"
ISSUE = "merics.org/en/merics-briefs/battery-passports-industrial-robots-rare-earth-tracing.html"
OLD = "ahead of a consolidation plan"
NEW = "before a consolidation plan"
NOW = dt.datetime(2026, 11, 30, 8, 0, tzinfo=dt.UTC)


def state(status: str, attempts: int) -> NoticeState:
    return NoticeState(status, None, attempts, None, None, None, {})


def test_the_schedule_walks_the_delays_repeats_the_last_and_gives_up() -> None:
    settings = NoticeSettings(retry_delays=[60, 600], give_up_after=4)
    first = retry_for(None, settings, NOW)
    assert (first.attempts, first.next_attempt_at) == (1, NOW + dt.timedelta(seconds=60))
    second = retry_for(state("error", 1), settings, NOW)
    assert (second.attempts, second.next_attempt_at) == (2, NOW + dt.timedelta(seconds=600))
    third = retry_for(state("blocked", 2), settings, NOW)  # the last delay repeats
    assert (third.attempts, third.next_attempt_at) == (3, NOW + dt.timedelta(seconds=600))
    fourth = retry_for(state("not_found", 3), settings, NOW)
    assert (fourth.attempts, fourth.next_attempt_at) == (4, None)  # None: gave up


def test_a_notice_that_was_ok_starts_counting_again() -> None:
    settings = NoticeSettings(retry_delays=[60], give_up_after=2)
    again = retry_for(state("ok", 7), settings, NOW)
    assert (again.attempts, again.next_attempt_at) == (1, NOW + dt.timedelta(seconds=60))


@pytest.fixture
def world(tmp_path: Path) -> Iterator[DemoWorld]:
    with demo_world(tmp_path / "demo") as w:
        yield w


def _requests(world: DemoWorld, path: str) -> int:
    return sum(1 for r in world.site.log if r.path == path)


def _row(world: DemoWorld) -> dict[str, object]:
    with Store.open(f"sqlite:///{world.state_path}") as store, store.read() as conn:
        query = sa.select(notices).where(notices.c.url == "https:/" + BROKEN)
        return dict(conn.execute(query).mappings().one())


def _time_passes(world: DemoWorld) -> None:
    """The backoff's wait is over (the stored due time moved into the past)."""
    with Store.open(f"sqlite:///{world.state_path}") as store, store.write() as conn:
        past = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
        conn.execute(notices.update().where(notices.c.next_attempt_at.is_not(None)).values(
            next_attempt_at=past
        ))  # fmt: skip


def test_a_failing_notice_backs_off_then_gives_up_and_is_no_longer_fetched(
    world: DemoWorld,
) -> None:
    # a 404 (a 500 would be retried inside the run by the HTTP client, see http.retries)
    world.site.routes[BROKEN] = lambda request: (404, {"Content-Type": "text/plain"}, b"gone")
    path = world.config_dir / "policywatch.yaml"
    path.write_text(
        path.read_text("utf-8") + "\nnotices:\n  retry_delays: [0, 3600]\n  give_up_after: 3\n",
        "utf-8",
    )
    config = Config(world.config_dir)

    first = asyncio.run(run_plain(config, alert_existing=True))
    assert [n.status for n in first.notices if n.url.endswith(BROKEN)] == ["not_found"]
    assert _requests(world, BROKEN) == 1
    assert _row(world)["attempts"] == 1

    asyncio.run(run_plain(config))  # first delay 0: due at once
    assert _requests(world, BROKEN) == 2
    row = _row(world)
    assert row["attempts"] == 2
    assert row["status"] == "not_found"
    assert row["next_attempt_at"] is not None

    asyncio.run(run_plain(config))  # an hour to wait: not asked
    assert _requests(world, BROKEN) == 2

    _time_passes(world)
    third = asyncio.run(run_plain(config))
    assert _requests(world, BROKEN) == 3
    assert [n.status for n in third.notices if n.url.endswith(BROKEN)] == ["gave_up"]
    row = _row(world)
    assert (row["status"], row["attempts"], row["next_attempt_at"]) == ("gave_up", 3, None)

    _time_passes(world)
    asyncio.run(run_plain(config))
    assert _requests(world, BROKEN) == 3  # given up: never fetched again


def test_a_revised_issue_asks_for_its_known_notices_conditionally(world: DemoWorld) -> None:
    config = Config(world.config_dir)
    asyncio.run(run_plain(config, alert_existing=True))
    page = world.root / "site" / ISSUE
    page.write_text(page.read_text("utf-8").replace(OLD, NEW), "utf-8")  # a revised issue
    with Store.open(f"sqlite:///{world.state_path}") as store:
        with store.read() as conn:
            query = sa.select(notices.c.url, notices.c.etag, notices.c.last_modified)
            known = {url: bool(etag or modified) for url, etag, modified in conn.execute(query)}
        state = store.source_state("merics") or {}  # the feed lists it anew
        state["seen"] = [k for k in state.get("seen", []) if "battery-passports" not in k]
        state["etag"] = state["last_modified"] = None
        store.save_source_state("merics", state)
    before = len(world.site.log)
    summary = asyncio.run(run_plain(config))
    assert [i.change for i in summary.items] == ["revised"]
    again = [r for r in world.site.log[before:] if "https:/" + r.path in known]
    assert again, "the revised issue's notices were asked for again"
    for request in again:
        sent = {name.lower() for name in request.headers}
        assert known["https:/" + request.path] <= bool(
            sent & {"if-none-match", "if-modified-since"}
        ), f"{request.path} answered with validators but was asked unconditionally"
    assert any(known["https:/" + r.path] for r in again)
