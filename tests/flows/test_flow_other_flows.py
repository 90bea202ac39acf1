"""process-issue (by URL, by PDF path, forced re-match) and send-test-alert."""

from __future__ import annotations

from typing import Any

import pytest

from flows.process_issue import process_issue
from flows.send_test_alert import send_test_alert
from policywatch.demo import DemoWorld

pytestmark = pytest.mark.usefixtures("prefect_api")

BATTERY_ISSUE = (
    "https://merics.org/en/merics-briefs/battery-passports-industrial-robots-rare-earth-tracing"
)
PDF = "site/merics.org/sites/default/files/2026-02/merics-china-industries-2026-02-04.pdf"


def test_process_issue_by_url_then_forced_rematch_sends_nothing_twice(
    world: DemoWorld, run_flow: Any
) -> None:
    first = run_flow(process_issue, location=BATTERY_ISSUE)
    assert first.is_completed(), first.message
    summary = first.result()
    assert [i["status"] for i in summary["issues"]] == ["new"]
    sent = len(world.messages())
    assert sent == len(summary["matches"]) > 0

    plain = run_flow(process_issue, location=BATTERY_ISSUE).result()
    assert plain["matches"] == []  # known issue, same content: nothing to match

    forced = run_flow(process_issue, location=BATTERY_ISSUE, force=True).result()
    assert len(forced["matches"]) == len(summary["matches"])  # matched again...
    assert sum(forced["enqueued"].values()) == 0  # ...but the outbox already has these keys
    assert len(world.messages()) == sent


def test_process_issue_reads_a_pdf_file(world: DemoWorld, run_flow: Any) -> None:
    state = run_flow(process_issue, location=str(world.root / PDF), dry_run=True)
    assert state.is_completed(), state.message
    summary = state.result()
    assert summary["issues"][0]["title"]
    assert any("battery" in i["headline"].lower() for i in summary["items"])
    assert summary["matches"]


def test_process_issue_with_a_missing_file_fails_clearly(world: DemoWorld, run_flow: Any) -> None:
    state = run_flow(process_issue, location=str(world.root / "nope.pdf"))
    assert state.is_failed()
    assert "no such file" in state.message


def test_send_test_alert_reaches_the_watchlists_channel(world: DemoWorld, run_flow: Any) -> None:
    state = run_flow(send_test_alert, watchlist="ev-batteries")
    assert state.is_completed(), state.message
    assert state.result() == {"analyst-email": "ok"}
    assert len(world.messages()) == 1


def test_send_test_alert_names_an_unknown_watchlist(world: DemoWorld, run_flow: Any) -> None:
    state = run_flow(send_test_alert, watchlist="ev-battery")
    assert state.is_failed()
    assert "did you mean 'ev-batteries'" in state.message


def test_an_unusable_state_fails_the_run_with_a_clear_message(
    world: DemoWorld, run_flow: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.check_updates import check_updates

    blocker = world.root / "not-a-dir"
    blocker.write_text("a file where a folder should be", encoding="utf-8")
    monkeypatch.setenv("POLICYWATCH_STATE_URL", f"sqlite:///{blocker}/state.db")
    state = run_flow(check_updates)
    assert state.is_failed()
    assert "cannot open the state database" in state.message
    assert world.messages() == []
