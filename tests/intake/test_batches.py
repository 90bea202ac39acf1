"""How a run's issues are shared among Prefect tasks (``intake.issue_tasks``)."""

from __future__ import annotations

from policywatch.intake.run import batch_label, batches
from policywatch.sources import Candidate


def candidate(n: int) -> Candidate:
    url = f"https://merics.org/en/briefing/issue-{n}"
    return Candidate(source="merics", url=url, path=None, content=None, key=url)


def test_a_backfill_is_split_into_near_equal_groups_in_order() -> None:
    items = [candidate(n) for n in range(60)]
    groups = batches(items, 8)
    assert [len(g) for g in groups] == [8, 8, 8, 8, 7, 7, 7, 7]
    assert [c for g in groups for c in g] == items  # every issue once, in the listed order


def test_up_to_the_cap_each_issue_is_alone() -> None:
    items = [candidate(n) for n in range(3)]
    assert batches(items, 8) == [[items[0]], [items[1]], [items[2]]]
    assert batches([], 8) == []


def test_labels_name_the_issue_or_the_first_and_last_of_a_group() -> None:
    one, two, three = candidate(1), candidate(2), candidate(3)
    assert batch_label([one]) == "merics · issue-1"
    assert batch_label([one, two, three]) == "3 issues: merics · issue-1 … merics · issue-3"
