"""Conditions watched across runs, and when the ``ops`` channel hears of them (pure).

Three kinds of :class:`Watch`, one per subject:

* ``source``: a source failed ``health.source_failures`` runs in a row (default 3; the count is
  the source state's ``consecutive_failures``).
* ``issue_layout``: an issue of a source that was listed fine could not be turned into items by
  the parser (a ``ParseError`` while reading a page that is a China Industries issue: today the
  MERICS parser's "found no numbered top stories ..." or "expected top stories ..."). The signal
  is the failure's cause, not its wording: pages of other series and unlabelled pages
  (maintenance, CDN errors) never reach the parser, and a page that did not load is a fetch
  failure. One such issue trips the canary; a run of the source without one clears it.
* ``notice_layout``: notice pages of one site (its parser; the host for the generic parser) in
  a row where the parser found no title or no body ("the page layout may have changed";
  ``health.notice_layout_pages`` distinct pages, default 3). A readable notice of the site clears the streak; blocked, missing and failed
  fetches leave it as it is.

A watch that trips owes the ops channel one alert, and one more when it recovers (:attr:`owed`);
``told`` records that the first went out, so neither is repeated, and one that could not be
sent is still owed on the next run.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal
from urllib.parse import urlsplit

from policywatch.settings import HealthSettings
from policywatch.summary import IssueOutcome, NoticeRow, RunSummary, SourceOutcome

__all__ = ["LAYOUT_MARK", "Owed", "Watch", "WatchKind", "is_layout_failure", "observe", "told"]

# The end of parsers.notices.base's error for a notice page without title or body.
LAYOUT_MARK = "the page layout may have changed"
KEEP_URLS = 20

WatchKind = Literal["source", "issue_layout", "notice_layout"]
Owed = Literal["problem", "recovery"]


@dataclass
class Watch:
    """One watched condition of one source or notice site, as kept between runs."""

    kind: WatchKind
    subject: str
    failures: int = 0  # failed runs, failed issues, or notice pages in a row
    failing: bool = False
    told: bool = False  # the ops channel heard that it is failing
    since: dt.datetime | None = None  # when it began failing
    error: str | None = None  # the last error seen
    urls: list[str] = field(default_factory=list)  # the pages concerned (the last few)

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.subject}"

    @property
    def owed(self) -> Owed | None:
        """The ops alert this watch is owed now, if any."""
        if self.failing and not self.told:
            return "problem"
        if self.told and not self.failing:
            return "recovery"
        return None

    @property
    def quiet(self) -> bool:
        """Nothing to remember (no row needed)."""
        return not (self.failing or self.told or self.failures)

    def describe(self) -> str:
        """One line for the ops alert, the summary's problems and the event."""
        return _DESCRIBE[self.kind](self)


def _describe_source(w: Watch) -> str:
    if not w.failing:
        return f"source {w.subject} is readable again"
    return f"source {w.subject}: {w.failures} failed runs in a row; last error: {w.error}"


def _describe_issue(w: Watch) -> str:
    if not w.failing:
        return f"source {w.subject}: issue pages give items again"
    where = w.urls[0] if w.urls else "?"
    return (
        f"source {w.subject}: {w.failures} issue page(s) gave no items, the newsletter's layout "
        f"may have changed: {where} ({w.error})"
    )


def _describe_notice(w: Watch) -> str:
    if not w.failing:
        return f"notices of {w.subject} are read again"
    last = w.urls[-1] if w.urls else "?"
    return (
        f"notices of {w.subject}: {w.failures} pages in a row with no title or body found, the "
        f"site's layout may have changed (last: {last})"
    )


_DESCRIBE = {
    "source": _describe_source,
    "issue_layout": _describe_issue,
    "notice_layout": _describe_notice,
}


def observe(
    previous: Mapping[str, Watch], summary: RunSummary, settings: HealthSettings, now: dt.datetime
) -> list[Watch]:
    """The watches this run's outcomes touch, updated (the others stay as they were)."""
    found = [_source(previous, s, settings) for s in summary.sources]
    found += [_issues(previous, s.name, summary.issues) for s in summary.sources if s.ok]
    found += [_notices(previous, site, rows, settings) for site, rows in _by_site(summary.notices)]
    return [_dated(previous.get(w.key), w, now) for w in found]


def _start(previous: Mapping[str, Watch], kind: WatchKind, subject: str) -> Watch:
    old = previous.get(f"{kind}:{subject}")
    return replace(old, urls=list(old.urls)) if old else Watch(kind, subject)


def _source(previous: Mapping[str, Watch], s: SourceOutcome, settings: HealthSettings) -> Watch:
    watch = _start(previous, "source", s.name)
    watch.failures = s.failures
    watch.failing = s.failures >= settings.source_failures
    watch.error = s.error or watch.error
    return watch


def _issues(previous: Mapping[str, Watch], source: str, issues: Sequence[IssueOutcome]) -> Watch:
    watch = _start(previous, "issue_layout", source)
    bad = [i for i in issues if i.source == source and i.status == "failed" and i.cause == "parse"]
    watch.failures, watch.failing = len(bad), bool(bad)
    if bad:
        watch.urls, watch.error = [i.url for i in bad][:KEEP_URLS], bad[0].error
    return watch


def is_layout_failure(notice: NoticeRow) -> bool:
    return notice.status == "error" and LAYOUT_MARK in (notice.error or "")


def _notices(
    previous: Mapping[str, Watch], site: str, rows: Sequence[NoticeRow], settings: HealthSettings
) -> Watch:
    """Distinct layout failures in a row; a readable notice of the site ends the streak."""
    watch = _start(previous, "notice_layout", site)
    for row in rows:
        if is_layout_failure(row) and row.url not in watch.urls:
            watch.failures += 1
            watch.urls = [*watch.urls, row.url][-KEEP_URLS:]
            watch.error = row.error
        elif row.status == "ok":
            watch.failures, watch.urls = 0, []
    watch.failing = watch.failures >= settings.notice_layout_pages
    return watch


def _by_site(rows: Iterable[NoticeRow]) -> list[tuple[str, list[NoticeRow]]]:
    """The run's notices per site, each URL once (its last outcome, in that order)."""
    latest: dict[str, NoticeRow] = {}
    for row in rows:
        latest.pop(row.url, None)
        latest[row.url] = row
    sites: dict[str, list[NoticeRow]] = {}
    for row in latest.values():
        sites.setdefault(_site(row), []).append(row)
    return list(sites.items())


def _site(row: NoticeRow) -> str:
    """The site's parser name; the host for the generic parser (it reads many sites)."""
    if row.site != "generic":
        return row.site
    return urlsplit(row.url).hostname or row.url


def _dated(old: Watch | None, watch: Watch, now: dt.datetime) -> Watch:
    """``since`` is when the current problem began; kept until its recovery is told."""
    if watch.failing and not (old and old.failing):
        watch.since = now
    elif not watch.failing and not watch.told:
        watch.since = None
    return watch


def told(watch: Watch) -> Watch:
    """The watch after its owed alert went out: a problem is told, a recovery closes it."""
    if watch.failing:
        return replace(watch, told=True)
    return replace(watch, told=False, since=None)
