"""A run's health: which of its outcomes an operator must act on, and the verdict they add up to.

Pure functions over the run's summary (and the canaries of ``policywatch.canaries``), shared by
the flows (the named state "Completed with problems" and the ``policywatch.run.problems``
event), the artifacts and the CLI's exit code.

A *problem* is something an operator must act on: a source that could not be read while others
could, alerts that were due and did not reach their channel (a disabled channel, a failing
server, a circuit breaker, a delivery error), or a tripped canary. Outcomes that are known and
permanent (a notice blocked by a challenge page, gone, or given up on) are listed in the
summary but are no problem: they need nobody. Nor is an issue page that failed to load: it is
retried on the next run (a source down for runs in a row is a canary).

Verdicts: ``failed`` (the run failed, or alerts were due and none was delivered), ``problems``
or ``clean``; the CLI exits 2, 1 or 0 for them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from policywatch.canaries import Watch
from policywatch.delivery_report import ChannelCounts
from policywatch.summary import Problem, RunSummary, Verdict

__all__ = [
    "EXIT_CODES",
    "PROBLEMS_STATE",
    "assess",
    "classify",
    "exit_code",
    "payload",
    "verdict",
]

PROBLEMS_STATE = "Completed with problems"  # the name of the flows' Completed state
EXIT_CODES: dict[str, int] = {"clean": 0, "problems": 1, "failed": 2}


def classify(summary: RunSummary, watches: Sequence[Watch] = ()) -> list[Problem]:
    """Every problem of the run, the run's own failure first."""
    found = [Problem("run", "", summary.failure)] if summary.failure else []
    found += _sources(summary)
    found += _delivery(summary)
    found += [_canary(w) for w in watches if w.failing and w.kind != "source"]
    return found


def _sources(summary: RunSummary) -> list[Problem]:
    """A source down while another worked (all down: the run failed, its cause says so)."""
    if not any(s.ok for s in summary.sources):
        return []
    return [
        Problem("source", s.name, f"source {s.name} unreachable ({_runs(s.failures)}): {s.error}")
        for s in summary.sources
        if not s.ok
    ]


def _runs(n: int) -> str:
    return "1 failed run" if n == 1 else f"{n} failed runs in a row"


def _delivery(summary: RunSummary) -> list[Problem]:
    """Per channel, the due alerts that did not reach it and why (its note, else its last
    error); then the delivery's other errors (the ops channel, a failed delivery step)."""
    errors = list(summary.delivery_errors)
    found = []
    for name, counts in sorted(summary.delivery.items()):
        if not counts.undelivered:
            continue
        mine = [e for e in errors if e.startswith(f"{name}: ")]
        errors = [e for e in errors if e not in mine]
        why = counts.note or (mine[-1].removeprefix(f"{name}: ") if mine else "")
        text = f"channel {name}: {_undelivered(counts)}" + (f"; {why}" if why else "")
        found.append(Problem("delivery", name, text))
    return found + [Problem("delivery", "", e) for e in errors]


def _undelivered(c: ChannelCounts) -> str:
    parts = [
        f"{n} {what}"
        for what, n in (("disabled", c.disabled), ("deferred", c.deferred),
                        ("retrying", c.retrying), ("failed for good", c.failed))
        if n
    ]  # fmt: skip
    return f"{c.undelivered} of {c.due} due alert(s) not delivered ({', '.join(parts)})"


def _canary(watch: Watch) -> Problem:
    return Problem("canary", watch.subject, watch.describe())


def verdict(summary: RunSummary, problems: Sequence[Problem]) -> Verdict:
    """``failed`` when the run failed or no due alert reached anyone, else by its problems."""
    if summary.failure or summary.delivery_outcome == "none_delivered":
        return "failed"
    return "problems" if problems else "clean"


def assess(summary: RunSummary, watches: Sequence[Watch] = ()) -> Verdict:
    """Fill the summary's problems and verdict (the last step of every run)."""
    summary.problems = classify(summary, watches)
    summary.verdict = verdict(summary, summary.problems)
    return summary.verdict


def exit_code(verdict_: str) -> int:
    """0 clean, 1 completed with problems, 2 failed (README, "Exit codes")."""
    return EXIT_CODES.get(verdict_, 2)


def payload(summary: RunSummary, flow_name: str) -> dict[str, Any]:
    """The run's event payload: names, counts and masked messages only (never a channel URL)."""
    return {
        "flow": flow_name,
        "run_id": summary.run_id,
        "verdict": summary.verdict,
        "dry_run": summary.dry_run,
        "failure": summary.failure,
        "problems": [asdict(problem) for problem in summary.problems],
        "sources": [{"name": s.name, "ok": s.ok, "failures": s.failures} for s in summary.sources],
        "delivery_outcome": summary.delivery_outcome,
        "summary": problem_summary(summary),
    }


def problem_summary(summary: RunSummary) -> str:
    """One line: the failure, else the number of problems and the first of them."""
    if summary.failure:
        return f"run failed: {summary.failure}"
    problems = summary.problems
    if not problems:
        return "no problems"
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"{len(problems)} problem(s): {problems[0].message}{more}"
