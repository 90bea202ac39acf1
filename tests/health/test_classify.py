"""``policywatch.health``: which outcomes of a run are problems, and the verdict and exit code."""

from __future__ import annotations

import json

import pytest

from policywatch.canaries import Watch
from policywatch.delivery_report import ChannelCounts, DeliveryReport
from policywatch.health import assess, classify, exit_code, payload, problem_summary, verdict
from policywatch.summary import IssueOutcome, NoticeRow, RunSummary, SourceOutcome


def run(*sources: SourceOutcome) -> RunSummary:
    summary = RunSummary(run_id="r1")
    summary.sources += sources
    return summary


def delivered(summary: RunSummary, **channels: ChannelCounts) -> RunSummary:
    report = DeliveryReport("w", channels=dict(channels))
    summary.add_delivery(report)
    return summary


def test_a_clean_run_has_no_problems_and_exits_0() -> None:
    summary = delivered(
        run(SourceOutcome("merics", True, 3)), mail=ChannelCounts(due=3, sent=3, items=3)
    )
    assert assess(summary) == "clean"
    assert summary.problems == []
    assert exit_code(summary.verdict) == 0
    assert problem_summary(summary) == "no problems"


def test_known_permanent_notice_outcomes_and_a_failed_fetch_are_no_problems() -> None:
    summary = run(SourceOutcome("merics", True, 2))
    summary.notices += [
        NoticeRow("https://www.mee.gov.cn/a", "mee", "blocked", error="challenge page"),
        NoticeRow("https://www.samr.gov.cn/b", "samr", "not_found", error="HTTP 404"),
        NoticeRow("https://www.miit.gov.cn/c", "miit", "gave_up", error="HTTP 503"),
        NoticeRow("https://www.miit.gov.cn/d", "miit", "error", error="HTTP 503 after 3 attempts"),
    ]
    summary.issues.append(IssueOutcome("https://merics.org/x", "merics", "failed", error="HTTP 404",
                                       cause="fetch"))  # fmt: skip
    assert classify(summary) == []
    assert verdict(summary, []) == "clean"


def test_a_source_down_while_another_worked_is_a_problem() -> None:
    summary = run(
        SourceOutcome("merics", False, error="HTTP 500", failures=2), SourceOutcome("mail", True)
    )
    (problem,) = classify(summary)
    assert (problem.kind, problem.subject) == ("source", "merics")
    assert problem.message == "source merics unreachable (2 failed runs in a row): HTTP 500"
    assert assess(summary) == "problems"
    assert exit_code(summary.verdict) == 1


def test_every_source_down_is_the_run_failure_not_a_source_problem() -> None:
    summary = run(SourceOutcome("merics", False, error="HTTP 500", failures=1))
    summary.failure = "no source was reachable (merics: HTTP 500)"
    problems = classify(summary)
    assert [(p.kind, p.message) for p in problems] == [("run", summary.failure)]
    assert assess(summary) == "failed"
    assert exit_code(summary.verdict) == 2
    assert problem_summary(summary).startswith("run failed: no source was reachable")


def test_a_partial_delivery_is_a_problem_per_channel_that_missed_alerts() -> None:
    summary = delivered(
        run(SourceOutcome("merics", True)),
        mail=ChannelCounts(due=4, sent=4, items=4),
        team=ChannelCounts(due=2, retrying=1, deferred=1, note="circuit breaker: 3 failures"),
    )
    assert summary.delivery_outcome == "partial"
    (problem,) = classify(summary)
    assert problem.subject == "team"
    assert problem.message == (
        "channel team: 2 of 2 due alert(s) not delivered (1 deferred, 1 retrying); "
        "circuit breaker: 3 failures"
    )
    assert assess(summary) == "problems"


def test_a_disabled_channel_with_alerts_waiting_is_a_problem_and_none_delivered_fails() -> None:
    summary = delivered(
        run(SourceOutcome("merics", True)),
        mail=ChannelCounts(due=3, disabled=3, note="${SMTP_URL} is not set"),
    )
    assert summary.delivery_outcome == "none_delivered"
    summary.delivery_errors.append("mail: disabled, 3 alert(s) wait: ${SMTP_URL} is not set")
    (problem,) = classify(summary)  # the channel's own error is not repeated as a problem
    assert problem.message == (
        "channel mail: 3 of 3 due alert(s) not delivered (3 disabled); ${SMTP_URL} is not set"
    )
    assert assess(summary) == "failed"  # alerts were due and none reached anyone
    assert exit_code(summary.verdict) == 2


def test_delivery_errors_are_problems() -> None:
    summary = run(SourceOutcome("merics", True))
    summary.delivery_errors.append("ops: connection refused")
    assert [p.message for p in classify(summary)] == ["ops: connection refused"]


def test_tripped_canaries_are_problems_and_quiet_ones_are_not() -> None:
    summary = run(SourceOutcome("merics", True))
    layout = Watch("notice_layout", "miit", failures=3, failing=True, urls=["u1", "u2", "u3"])
    streak = Watch("notice_layout", "ndrc", failures=2)
    down = Watch("source", "merics", failures=4, failing=True)  # said by the source problem
    problems = classify(summary, [layout, streak, down])
    assert [(p.kind, p.subject) for p in problems] == [("canary", "miit")]
    assert "3 pages in a row with no title or body found" in problems[0].message


def test_the_event_payload_names_problems_and_failure_counts() -> None:
    summary = run(
        SourceOutcome("merics", False, error="HTTP 500", failures=3), SourceOutcome("mail", True)
    )
    summary.delivery_errors.append("ops: connection refused")
    assess(summary)
    data = payload(summary, "check-updates")
    json.dumps(data)  # JSON-safe
    assert data["verdict"] == "problems"
    assert data["sources"] == [
        {"name": "merics", "ok": False, "failures": 3},
        {"name": "mail", "ok": True, "failures": 0},
    ]
    assert [p["kind"] for p in data["problems"]] == ["source", "delivery"]
    assert data["summary"].startswith("2 problem(s): source merics unreachable")


@pytest.mark.parametrize(("name", "code"), [("clean", 0), ("problems", 1), ("failed", 2)])
def test_exit_codes(name: str, code: int) -> None:
    assert exit_code(name) == code
