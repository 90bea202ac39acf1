"""``policywatch.canaries``: what trips a watch, what clears it, and when the ops channel is owed
an alert (once on the trip, once on the recovery)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from parsers.bodies import BodyIndex
from parsers.notices import parse_notice
from policywatch.canaries import Watch, is_layout_failure, observe, told
from policywatch.settings import Config, HealthSettings
from policywatch.summary import IssueOutcome, NoticeRow, RunSummary, SourceOutcome

T0 = dt.datetime(2026, 3, 2, 6, 0, tzinfo=dt.UTC)
SETTINGS = HealthSettings()
LAYOUT = "miit: no title and no body found; the page layout may have changed"


def step(
    previous: dict[str, Watch],
    summary: RunSummary,
    settings: HealthSettings = SETTINGS,
    hours: int = 0,
) -> dict[str, Watch]:
    """One run: the watches it touched merged into what was stored."""
    found = observe(previous, summary, settings, T0 + dt.timedelta(hours=hours))
    return {**previous, **{w.key: w for w in found}}


def source_run(failures: int, error: str | None = "HTTP 500") -> RunSummary:
    summary = RunSummary(run_id="r")
    ok = failures == 0
    summary.sources.append(SourceOutcome("merics", ok, 0, None if ok else error, failures))
    return summary


SITES = {"www.miit.gov.cn": "miit", "www.ndrc.gov.cn": "ndrc"}


def notices_run(*rows: tuple[str, str, str | None]) -> RunSummary:
    summary = RunSummary(run_id="r")
    for url, status, error in rows:
        site = SITES.get(url.split("/")[2], "generic")
        summary.notices.append(NoticeRow(url, site, status, None, error))
    return summary


def layout(url: str) -> tuple[str, str, str | None]:
    return url, "error", LAYOUT


def owed(watches: dict[str, Watch]) -> list[tuple[str, str | None]]:
    return [(k, w.owed) for k, w in watches.items() if w.owed]


def test_a_source_trips_after_n_failed_runs_once_and_recovers_once() -> None:
    watches: dict[str, Watch] = {}
    for n in (1, 2):
        watches = step(watches, source_run(n), hours=n)
        assert owed(watches) == []
    watches = step(watches, source_run(3), hours=3)
    assert owed(watches) == [("source:merics", "problem")]
    watch = watches["source:merics"]
    assert watch.since == T0 + dt.timedelta(hours=3)
    assert "3 failed runs in a row; last error: HTTP 500" in watch.describe()
    watches["source:merics"] = told(watch)

    watches = step(watches, source_run(4), hours=4)  # still down: nothing more to say
    assert owed(watches) == []
    assert watches["source:merics"].since == T0 + dt.timedelta(hours=3)

    watches = step(watches, source_run(0), hours=5)
    assert owed(watches) == [("source:merics", "recovery")]
    assert watches["source:merics"].describe() == "source merics is readable again"
    closed = told(watches["source:merics"])
    assert closed.quiet
    assert closed.owed is None


def test_the_threshold_is_configurable_and_a_recovery_before_it_owes_nothing() -> None:
    one = HealthSettings(source_failures=1)
    watches = step({}, source_run(1), one)
    assert owed(watches) == [("source:merics", "problem")]
    watches = step({}, source_run(2))
    watches = step(watches, source_run(0))
    assert owed(watches) == []
    assert watches["source:merics"].quiet  # nothing to keep


def test_an_untold_problem_that_recovers_owes_no_recovery() -> None:
    watches = step({}, source_run(3))  # the ops channel could not be told
    watches = step(watches, source_run(0))
    assert owed(watches) == []


def issue_run(*issues: IssueOutcome, listed: bool = True) -> RunSummary:
    summary = RunSummary(run_id="r")
    summary.sources.append(SourceOutcome("merics", listed, len(issues), None, 0 if listed else 1))
    summary.issues += issues
    return summary


def failed_issue(url: str, cause: str) -> IssueOutcome:
    return IssueOutcome(url, "merics", "failed", error="found no numbered top stories", cause=cause)  # type: ignore[arg-type]


def test_an_issue_the_parser_finds_no_items_in_trips_at_once_and_clears_when_read() -> None:
    fetch = failed_issue("https://merics.org/en/a", "fetch")
    assert owed(step({}, issue_run(fetch))) == []  # a page that did not load: retried, no canary

    watches = step({}, issue_run(failed_issue("https://merics.org/en/b", "parse")))
    assert owed(watches) == [("issue_layout:merics", "problem")]
    text = watches["issue_layout:merics"].describe()
    assert "1 issue page(s) gave no items" in text
    assert "https://merics.org/en/b" in text
    watches["issue_layout:merics"] = told(watches["issue_layout:merics"])

    down = step(watches, issue_run(listed=False))  # source not read: the canary is not judged
    assert down["issue_layout:merics"].failing
    fine = IssueOutcome("https://merics.org/en/b", "merics", "new")
    watches = step(down, issue_run(fine))
    assert owed(watches) == [("issue_layout:merics", "recovery")]


def test_notice_layout_trips_on_three_distinct_pages_of_a_site_in_a_row() -> None:
    a, b, c = (f"https://www.miit.gov.cn/{x}.html" for x in "abc")
    watches = step({}, notices_run(layout(a), layout(a), layout(b)))
    assert watches["notice_layout:miit"].failures == 2  # the same page counts once
    watches = step(watches, notices_run(layout(b)))  # a retry of a page already counted
    neutral = [
        ("https://www.miit.gov.cn/x", "blocked", "challenge page"),
        ("https://www.miit.gov.cn/y", "not_found", "HTTP 404"),
        ("https://www.miit.gov.cn/z", "error", "HTTP 503 after 3 attempts"),
    ]
    watches = step(watches, notices_run(*neutral))  # neither breaks nor extends the streak
    assert owed(watches) == []
    other_site = layout("https://www.ndrc.gov.cn/q.html")
    watches = step(watches, notices_run(layout(c), other_site))
    assert owed(watches) == [("notice_layout:miit", "problem")]
    assert watches["notice_layout:ndrc"].failures == 1
    assert watches["notice_layout:miit"].urls == [a, b, c]


def test_a_readable_notice_ends_the_streak_and_recovers_a_told_site() -> None:
    a, b, c, ok = (f"https://www.miit.gov.cn/{x}.html" for x in ("a", "b", "c", "ok"))
    watches = step({}, notices_run(layout(a), layout(b), (ok, "ok", None)))
    assert watches["notice_layout:miit"].quiet  # streak broken before 3
    watches = step(watches, notices_run(layout(a), layout(b), layout(c)))
    watches["notice_layout:miit"] = told(watches["notice_layout:miit"])
    watches = step(watches, notices_run((ok, "ok", None)))
    assert owed(watches) == [("notice_layout:miit", "recovery")]


def test_the_notice_parsers_own_error_for_a_page_without_title_and_body_is_the_signal() -> None:
    bodies = BodyIndex.load(Config().file("bodies.yaml"))
    page = "<html><head><title>x</title></head><body><div id='nav'>首页</div></body></html>"
    notice = parse_notice(page.encode("utf-8"), "https://www.miit.gov.cn/a.html", bodies=bodies)
    row = NoticeRow(notice.url, notice.site, notice.status, notice.title, notice.error)
    assert is_layout_failure(row), notice.error
    blocked = NoticeRow(notice.url, notice.site, "blocked", None, "challenge page (HTTP 521)")
    assert not is_layout_failure(blocked)


def keys(watches: Sequence[Watch]) -> list[str]:
    return [w.key for w in watches]


def test_only_what_a_run_touches_is_observed() -> None:
    summary = issue_run(IssueOutcome("https://merics.org/en/b", "merics", "new"))
    summary.notices.append(NoticeRow("https://www.gov.cn/a", "generic", "ok"))
    found = observe({}, summary, SETTINGS, T0)
    assert keys(found) == ["source:merics", "issue_layout:merics", "notice_layout:www.gov.cn"]
    assert all(w.quiet for w in found)
