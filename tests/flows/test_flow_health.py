"""Visible health on the session's real Prefect server: the named state "Completed with problems",
the events, the Automation of ``automation.yaml``, the artifacts that open with what went wrong,
and expected failures that log one WARNING line (no ERROR, no traceback)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from flows.check_updates import check_updates
from policywatch.demo import DemoWorld
from policywatch.devtools.loopback import LoopbackServer
from policywatch.store import Store
from policywatch.store.watches import load_watches
from tests.health.worlds import add_folder_source, merics_only

pytestmark = pytest.mark.usefixtures("prefect_api")

FEED = "/merics.org/en/rss.xml"
REPO = Path(__file__).resolve().parents[2]
PREFECT = str(Path(sys.executable).with_name("prefect"))


@pytest.fixture(autouse=True)
def _merics_only(world: DemoWorld) -> None:
    """The demo's MIIT column list switched off: the source counts below are the MERICS feed's."""
    merics_only(world)


def add_ops_channel(world: DemoWorld) -> None:
    path = world.config_dir / "channels.yaml"
    ops = "  ops:\n    url: ${POLICYWATCH_DEMO_SMTP_URL}\n"
    path.write_text(path.read_text("utf-8").rstrip("\n") + "\n" + ops, "utf-8")


def fail_feed(world: DemoWorld) -> None:
    world.site.routes[FEED] = lambda request: (500, {"Content-Type": "text/plain"}, b"down")


def events(api: str, name: str, flow_run_id: Any, timeout: float = 30) -> list[dict[str, Any]]:
    """The events ``name`` related to that flow run (the server persists them in batches)."""
    body = {
        "filter": {
            "event": {"name": [name]},
            "related": {"id": [f"prefect.flow-run.{flow_run_id}"]},
        },
        "limit": 10,
    }
    deadline = time.monotonic() + timeout
    while True:
        found: list[dict[str, Any]] = httpx.post(f"{api}/events/filter", json=body).json()["events"]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def drain_events() -> None:
    from prefect.events.worker import EventsWorker

    EventsWorker.drain_all(timeout=10, at_exit=False)


def test_a_source_down_while_another_works_completes_with_problems_and_an_event(
    world: DemoWorld, run_flow: Any, artifacts_of: Any, prefect_api: str,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    add_folder_source(world)
    fail_feed(world)
    caplog.set_level(logging.INFO)
    state = run_flow(check_updates)

    assert state.is_completed()
    assert state.name == "Completed with problems"
    assert state.message.startswith("1 problem(s): source merics unreachable (1 failed run)")
    summary = state.result()
    assert summary["verdict"] == "problems"
    assert [(s["name"], s["ok"], s["failures"]) for s in summary["sources"]] == [
        ("merics", False, 1), ("saved", True, 0)
    ]  # fmt: skip
    # a failing feed costs the client's attempts (max_attempts: 2 in the demo) once per run
    assert world.site.counts[FEED] == 2

    # one WARNING line for the expected failure; no ERROR, no traceback
    warned = [r for r in caplog.records if r.levelno == logging.WARNING and "merics" in r.message]
    assert [r.name for r in warned] == ["policywatch.sources"]
    assert "HTTP 500" in warned[0].message
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not [r for r in caplog.records if r.exc_info]

    markdown = artifacts_of(state)["check-updates-summary"].data
    assert markdown.startswith("# check-updates: completed with problems\n\n**1 problem(s)**")
    assert "- source merics unreachable (1 failed run): " in markdown
    assert "| merics | NO | 1 | 0 | " in markdown  # the failure count per source
    assert "| saved | yes | 0 | 0 |  |" in markdown

    drain_events()
    (event,) = events(prefect_api, "policywatch.run.problems", state.state_details.flow_run_id)
    assert event["resource"]["prefect.resource.id"] == f"policywatch.run.{summary['run_id']}"
    assert event["payload"]["verdict"] == "problems"
    assert event["payload"]["sources"][0] == {"name": "merics", "ok": False, "failures": 1}
    assert [p["kind"] for p in event["payload"]["problems"]] == ["source"]
    smtp = world.env["POLICYWATCH_DEMO_SMTP_URL"]
    assert smtp.split("?")[0] not in str(event)  # no channel URL in the event


def test_an_issue_page_404_and_a_notice_503_log_one_warning_line_each(
    world: DemoWorld, run_flow: Any, caplog: pytest.LogCaptureFixture
) -> None:
    issue = "/merics.org/en/merics-briefs/ai-plus-manufacturing-hydrogen-pipelines-data-exchanges"
    notice = "/www.mofcom.gov.cn/zwgk/zcfb/art/2026/art_7e6d5c4b3a2910f8e7d6c5b4a3928170.html"
    world.site.routes[issue] = lambda request: (404, {"Content-Type": "text/html"}, b"gone")
    world.site.routes[notice] = lambda request: (503, {"Content-Type": "text/html"}, b"busy")
    caplog.set_level(logging.INFO)
    state = run_flow(check_updates)
    assert state.name == "Completed"  # both are retried on later runs: nothing to act on
    statuses = {i["url"].rsplit("/", 1)[1]: i["status"] for i in state.result()["issues"]}
    assert statuses[issue.rsplit("/", 1)[1]] == "failed"
    warnings = [r.message for r in caplog.records if r.levelno == logging.WARNING]
    assert len([w for w in warnings if "ai-plus-manufacturing" in w]) == 1
    assert [w for w in warnings if "mofcom" in w] == [
        f"notice https:/{notice} failed: server kept failing (HTTP 503, 2 attempt(s)); "
        "retried later"
    ]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert world.site.counts[issue] == 1  # a 404 is not retried
    assert world.site.counts[notice] == 2  # the client's attempts, no task retries on top


def test_a_clean_run_is_plainly_completed_and_emits_no_event(
    world: DemoWorld, run_flow: Any, prefect_api: str
) -> None:
    state = run_flow(check_updates)  # blocked and missing notices are known, not problems
    assert state.is_completed()
    assert state.name == "Completed"
    assert state.result()["verdict"] == "clean"
    assert {n["status"] for n in state.result()["notices"]} >= {"blocked", "not_found"}
    drain_events()
    flow_run_id = state.state_details.flow_run_id
    assert events(prefect_api, "policywatch.run.problems", flow_run_id, timeout=3) == []


def test_the_only_source_down_fails_the_run_with_its_cause_and_no_traceback(
    world: DemoWorld, run_flow: Any, artifacts_of: Any, prefect_api: str,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    fail_feed(world)
    caplog.set_level(logging.INFO)
    state = run_flow(check_updates)
    assert state.is_failed()
    assert state.message.startswith("no source was reachable (merics: ")
    assert not [r for r in caplog.records if r.exc_info]
    errors = [r.message for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert errors[0].startswith("Finished in state Failed('no source was reachable")
    markdown = artifacts_of(state)["check-updates-summary"].data
    assert markdown.startswith(
        "# check-updates: failed\n\n**Run failed: no source was reachable (merics: "
    )
    drain_events()
    (event,) = events(prefect_api, "policywatch.run.failed", state.state_details.flow_run_id)
    assert event["payload"]["failure"].startswith("no source was reachable")


def test_three_failed_runs_tell_the_ops_channel_once_even_when_each_run_fails(
    world: DemoWorld, run_flow: Any
) -> None:
    add_ops_channel(world)
    fail_feed(world)
    for _ in range(4):
        assert run_flow(check_updates).is_failed()
    subjects = [str(m["Subject"]).strip() for m in world.messages()]
    assert subjects == ["[policywatch ops] source merics failing"]
    del world.site.routes[FEED]
    state = run_flow(check_updates)
    assert state.name == "Completed"
    ops = [s for s in (str(m["Subject"]).strip() for m in world.messages()) if "ops]" in s]
    assert ops[1:] == ["[policywatch ops] source merics failing: recovered"]
    with Store.open(f"sqlite:///{world.state_path}") as store:
        assert load_watches(store.engine) == {}


def test_the_shipped_automation_notifies_through_a_webhook_block(
    world: DemoWorld, run_flow: Any, prefect_api: str, tmp_path: Path
) -> None:
    from prefect.blocks.notifications import CustomWebhookNotificationBlock

    received: list[bytes] = []

    def hook(request: Any) -> tuple[int, dict[str, str], bytes]:
        received.append(request.body)
        return 200, {}, b"ok"

    (tmp_path / "www").mkdir()
    with LoopbackServer(tmp_path / "www") as receiver:
        receiver.routes["/hook"] = hook
        block = CustomWebhookNotificationBlock(
            name="policywatch ops", url=f"{receiver.base}/hook", method="POST",
            json_data={"subject": "{{subject}}", "body": "{{body}}"},
        )  # fmt: skip
        block_id = block.save("policywatch-ops-test", overwrite=True)
        spec = (REPO / "automation.yaml").read_text("utf-8")
        (tmp_path / "automation.yaml").write_text(spec.replace("BLOCK_DOCUMENT_ID", str(block_id)))
        env = {**os.environ, "PREFECT_API_URL": prefect_api}
        made = subprocess.run(
            [PREFECT, "automation", "create", "--from-file", str(tmp_path / "automation.yaml")],
            env=env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert made.returncode == 0, made.stdout + made.stderr
        automation_id = made.stdout.split("ID: ")[-1].split()[0] if "ID: " in made.stdout else None
        try:
            add_folder_source(world)
            fail_feed(world)
            state = run_flow(check_updates)
            assert state.name == "Completed with problems"
            drain_events()
            deadline = time.monotonic() + 45
            while not received and time.monotonic() < deadline:
                time.sleep(0.5)
        finally:
            _delete_automations(prefect_api, "policywatch run problems", automation_id)
    assert len(received) == 1
    text = received[0].decode("utf-8")
    assert "policywatch: 1 problem(s): source merics unreachable" in text
    assert "- source merics unreachable (1 failed run): " in text
    assert str(state.state_details.flow_run_id) in text


def _delete_automations(api: str, name: str, known: str | None) -> None:
    found = httpx.post(f"{api}/automations/filter", json={}).json()
    for automation in found:
        if automation["name"] == name or automation["id"] == known:
            httpx.delete(f"{api}/automations/{automation['id']}")
