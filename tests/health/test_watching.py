"""Watches kept across real runs (``run_plain`` over the loopback demo site, real SQLite) and the
ops channel told through a real SMTP sink: one alert when a watch trips, one on recovery."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from policywatch.demo import DemoWorld, demo_world
from policywatch.intake import run_plain
from policywatch.settings import Config
from policywatch.store import Store
from policywatch.store.watches import load_watches
from policywatch.summary import RunSummary
from policywatch.watching import keep_watch, tell_ops

from .worlds import (
    FEED,
    add_folder_source,
    add_ops_channel,
    append_config,
    break_issue,
    break_miit_notices,
    fail_feed,
    heal_feed,
    merics_only,
    ops_mails,
    ops_subjects,
)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[DemoWorld]:
    with demo_world(tmp_path / "demo") as w:
        merics_only(w)
        add_ops_channel(w)
        yield w


def run(world: DemoWorld) -> tuple[RunSummary, list[str]]:
    """One run's intake, then what a flow does at its end: keep the watches, tell ops."""
    config = Config(world.config_dir)
    summary = asyncio.run(run_plain(config))
    with Store.open(f"sqlite:///{world.state_path}") as store:
        keep_watch(store, config, summary)
        errors = tell_ops(store, config)
    return summary, errors


def test_a_source_down_three_runs_in_a_row_tells_ops_once_then_once_on_recovery(
    world: DemoWorld,
) -> None:
    add_folder_source(world)
    fail_feed(world)
    for n in (1, 2):
        summary, errors = run(world)
        assert [(s.name, s.ok, s.failures) for s in summary.sources] == [
            ("merics", False, n), ("saved", True, 0)
        ]  # fmt: skip
        assert errors == []
        assert ops_mails(world) == []
    assert world.site.counts[FEED] == 2 * 2  # the client's 2 attempts, once per run

    run(world)
    assert ops_subjects(world) == ["[policywatch ops] source merics failing"]
    body = str(ops_mails(world)[0].get_body(("plain",)).get_content())  # type: ignore[union-attr]
    assert "source merics: 3 failed runs in a row; last error:" in body
    assert "HTTP 500" in body

    run(world)  # still down: told already
    assert len(ops_mails(world)) == 1

    heal_feed(world)
    summary, _ = run(world)
    assert summary.sources[0].ok
    assert ops_subjects(world)[1:] == ["[policywatch ops] source merics failing: recovered"]
    run(world)
    assert len(ops_mails(world)) == 2
    with Store.open(f"sqlite:///{world.state_path}") as store:
        assert "source:merics" not in load_watches(store.engine)  # nothing left to remember


def test_an_ops_alert_that_cannot_be_sent_stays_owed_for_the_next_run(world: DemoWorld) -> None:
    append_config(world, "health:\n  source_failures: 1\n")
    add_folder_source(world)
    fail_feed(world)
    sink_url = world.env["POLICYWATCH_DEMO_SMTP_URL"]
    dead = "mailto://127.0.0.1:9/?to=ops@example.org&from=pw@example.org"
    import os

    os.environ["POLICYWATCH_DEMO_SMTP_URL"] = dead  # the ops channel (and mail) are down
    try:
        _, errors = run(world)
    finally:
        os.environ["POLICYWATCH_DEMO_SMTP_URL"] = sink_url
    assert len(errors) == 1
    assert errors[0].startswith("ops: ")
    assert ops_mails(world) == []
    run(world)
    assert ops_subjects(world) == ["[policywatch ops] source merics failing"]


def test_an_issue_page_without_items_tells_ops_once_and_again_when_it_reads(
    world: DemoWorld,
) -> None:
    page, good = break_issue(world)
    summary, _ = run(world)
    failed = [i for i in summary.issues if i.status == "failed"]
    assert [(i.cause, "found no numbered top stories" in (i.error or "")) for i in failed] == [
        ("parse", True)
    ]
    assert ops_subjects(world) == ["[policywatch ops] source merics: an issue page gave no items"]
    run(world)  # retried, still broken: no second alert
    assert len(ops_mails(world)) == 1
    page.write_bytes(good)
    summary, _ = run(world)
    assert [i.status for i in summary.issues] == ["new"]
    assert ops_subjects(world)[1:] == [
        "[policywatch ops] source merics: an issue page gave no items: recovered"
    ]


def test_notice_pages_of_one_site_without_title_and_body_trip_the_layout_canary(
    world: DemoWorld,
) -> None:
    append_config(world, "health:\n  notice_layout_pages: 2\nnotices:\n  retry_delays: [0]\n")
    saved = break_miit_notices(world)
    summary, _ = run(world)
    miit = [n for n in summary.notices if n.site == "miit"]
    assert len(miit) == 2
    assert all(n.status == "error" for n in miit)
    assert ops_subjects(world) == ["[policywatch ops] notices of miit: no title or body found"]
    assert not [n for n in summary.notices if n.status == "blocked" and "ops" in n.site]

    for page, data in saved.items():
        page.write_bytes(data)
    world.mail.clear()
    run(world)  # the failed notices are retried at once (retry_delays: [0]) and read
    assert ops_subjects(world) == [
        "[policywatch ops] notices of miit: no title or body found: recovered"
    ]
