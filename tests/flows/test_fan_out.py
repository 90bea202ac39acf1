"""The fan-out's bookkeeping without a server: which sources go first, and how the children's
outcomes become the parent's summary (the runs themselves: tests/e2e/test_e2e_workers.py)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from flows.check_updates import check_updates
from flows.fan_out import Child, merge_child, waves
from policywatch.demo import DemoWorld
from policywatch.settings import SourceSettings
from policywatch.summary import IssueOutcome, MatchRow, RunSummary, SourceOutcome


def _source(name: str, kind: str) -> SourceSettings:
    extra = {"site": "miit", "list_urls": ["https://www.miit.gov.cn/x/index.html"]}
    return SourceSettings.model_validate(
        {"name": name, "type": kind, **(extra if kind == "ministry" else {})}
    )


def test_ministry_lists_go_first_so_a_merics_story_follows_up_on_their_notices() -> None:
    merics, miit, govcn = (
        _source("merics", "merics"),
        _source("miit", "ministry"),
        _source("govcn", "ministry"),
    )
    assert [[s.name for s in w] for w in waves([merics, miit, govcn])] == [
        ["miit", "govcn"], ["merics"]
    ]  # fmt: skip
    assert [[s.name for s in w] for w in waves([merics])] == [["merics"]]


def _child_summary(source: str) -> dict[str, object]:
    part = RunSummary(run_id="c1")
    part.sources.append(SourceOutcome(source, True, 2))
    part.issues.append(
        IssueOutcome("https://x/1", source, "new", "One", dt.date(2026, 3, 2), {"new": 1})
    )
    part.matches.append(MatchRow("ev-batteries", "i1", "One", "https://x/1", "new", "kw"))
    part.enqueued["analyst-email"] += 1
    return part.to_dict()


def test_a_completed_child_adds_its_summary_to_the_parents() -> None:
    parent = RunSummary(run_id="p")
    merge_child(parent, Child("miit", "id", "run-1", "Completed", summary=_child_summary("miit")))
    assert [(s.name, s.ok) for s in parent.sources] == [("miit", True)]
    assert [i.published for i in parent.issues] == [dt.date(2026, 3, 2)]
    assert [m.watchlist for m in parent.matches] == ["ev-batteries"]
    assert parent.enqueued == {"analyst-email": 1}


def test_a_child_that_did_not_complete_fails_its_source_with_the_reason() -> None:
    parent = RunSummary(run_id="p")
    crashed = Child("miit", "id", "run-2", "Crashed", "worker lost", summary=_child_summary("miit"))
    merge_child(parent, crashed)
    merge_child(parent, Child("govcn", message="could not start check-source/x: ObjectNotFound"))
    assert [(s.name, s.ok) for s in parent.sources] == [("miit", False), ("govcn", False)]
    assert parent.sources[0].error == "check-source run run-2 crashed: worker lost"
    assert "could not start check-source/x" in (parent.sources[1].error or "")
    assert len(parent.issues) == 1  # what the crashed child recorded still counts


@pytest.mark.usefixtures("prefect_api")
def test_a_dry_run_is_checked_in_the_run_itself_even_with_fan_out(
    world: DemoWorld, run_flow: Any
) -> None:
    """Children of a dry run would record nothing the parent could read: no child is started
    (none could be: nothing serves check-source here), and the matches are reported."""
    state = run_flow(check_updates, dry_run=True, fan_out=True)
    assert state.is_completed(), state.message
    summary = state.result()
    assert "children" not in summary
    assert {s["name"] for s in summary["sources"]} == {"merics", "miit-notices"}
    assert summary["matches"]
    assert world.messages() == []
