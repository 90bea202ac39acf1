"""The check-updates run as plain, typed steps: what the Prefect flows wrap and unit tests call.

discover -> fetch + parse issue -> follow notices -> diff -> match -> build alerts -> record
(alerts enqueued in the same transaction) -> deliver -> summarise. Each step is a small
function with no Prefect import, so ``flows/`` stays a thin layer of verb-named tasks and the
logic is testable in milliseconds. One failing source, issue or notice is caught by the caller
(the flow), recorded in the :class:`RunSummary` and retried next run; only an unusable state
database or no reachable source fails a run (:func:`check_reachable`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa

from parsers.documents import load_document
from parsers.merics import parse_issue
from parsers.records import Issue, Notice
from policywatch.alerting import build_alerts
from policywatch.channels import SecretResolver
from policywatch.errors import PolicywatchError, StateError
from policywatch.http import PoliteClient
from policywatch.match import Matcher, tag_item
from policywatch.models import Alert, Change, Match
from policywatch.notices import fetch_notices, notice_links
from policywatch.outbox import DeliveryReport, deliver_run
from policywatch.settings import Config, HttpSettings, SourceSettings
from policywatch.sources import Candidate, SourceState, discover
from policywatch.store import RecordResult, Store
from policywatch.summary import (
    IssueOutcome,
    IssueStatus,
    ItemChange,
    MatchRow,
    NoticeRow,
    RunSummary,
    SourceOutcome,
    reason_text,
)
from policywatch.taxonomy import Taxonomy, load_taxonomy
from policywatch.transport import HOST_MAP_ENV, host_map_transport
from policywatch.watchlists import Watchlist, load_watchlists

__all__ = [
    "HOST_MAP_ENV",
    "FetchedIssue",
    "IssueOutcome",
    "ItemChange",
    "MatchRow",
    "NoticeRow",
    "RunSummary",
    "Runtime",
    "SourceOutcome",
    "build_alerts",
    "check_reachable",
    "diff_issue",
    "make_client",
    "match_items",
    "open_runtime",
    "parse_issue_bytes",
    "record_issue",
]


# -- run context ---------------------------------------------------------------------------------


@dataclass
class Runtime:
    """What every step of one run shares: configuration, state, compiled watchlists."""

    config: Config
    store: Store
    taxonomy: Taxonomy
    watchlists: dict[str, Watchlist]
    matcher: Matcher
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def close(self) -> None:
        self.store.close()


def open_runtime(config: Config, *, run_id: str | None = None) -> Runtime:
    """Load and check the config, open (and migrate) the state; raise before any fetching."""
    taxonomy = load_taxonomy(config)
    watchlists = load_watchlists(config, taxonomy=taxonomy)
    matcher = Matcher.build(watchlists, taxonomy, config.bodies)
    store = open_store(config.state_url())
    return Runtime(
        config=config,
        store=store,
        taxonomy=taxonomy,
        watchlists={w.name: w for w in watchlists},
        matcher=matcher,
        run_id=run_id or uuid.uuid4().hex,
    )


def open_store(url: str) -> Store:
    """The state database, or a StateError naming it (password hidden) and what to check."""
    try:
        return Store.open(url)
    except (OSError, sa.exc.SQLAlchemyError) as exc:
        where = sa.engine.make_url(url).render_as_string(hide_password=True)
        raise StateError(
            f"cannot open the state database {where}: {exc}",
            hint="check POLICYWATCH_STATE_URL / state_url in config/policywatch.yaml",
        ) from exc


def make_client(settings: HttpSettings) -> PoliteClient:
    """The run's one HTTP client; honours the loopback host map when ``HOST_MAP_ENV`` is set."""
    return PoliteClient(settings, transport=host_map_transport())


# -- steps ----------------------------------------------------------------------------------------


@dataclass
class FetchedIssue:
    """One issue read and parsed, with the hash that tells a re-published copy from a revision."""

    source: str
    url: str
    issue: Issue
    content_hash: str

    @property
    def issue_id(self) -> str:
        return self.issue.issue.url or self.url

    @property
    def title(self) -> str:
        return self.issue.issue.title or self.url


async def discover_source(
    store: Store,
    client: PoliteClient,
    source: SourceSettings,
    config: Config,
    since: dt.date | None,
) -> tuple[list[Candidate], SourceState, SourceOutcome]:
    """New candidates of one source; the new state is saved only after they are processed."""
    state = SourceState.model_validate(store.source_state(source.name) or {})
    found, new_state = await discover(source, client, state, since=since, root=config.root)
    ok = new_state.consecutive_failures == 0
    error = None if ok else new_state.last_error
    return found, new_state, SourceOutcome(source.name, ok, len(found), error)


def forget_failed(state: SourceState, failed_keys: Iterable[str]) -> SourceState:
    """Drop failed candidates from ``seen`` and the feed's validators, so the next run retries.

    Without clearing ETag/Last-Modified an unchanged feed answers 304 and the failed issue
    would never be listed again.
    """
    failed = set(failed_keys)
    if not failed:
        return state
    seen = [k for k in state.seen if k not in failed]
    return state.model_copy(update={"seen": seen, "etag": None, "last_modified": None})


def count_source_failure(store: Store, name: str, summary: RunSummary) -> None:
    """Persist one more consecutive failure of a source that stayed unreachable after retries."""
    state = SourceState.model_validate(store.source_state(name) or {})
    error = next((o.error for o in summary.sources if o.name == name), None)
    state.consecutive_failures += 1
    state.last_error = error
    store.save_source_state(name, state.model_dump(mode="json"))


async def read_candidate(client: PoliteClient, candidate: Candidate) -> bytes:
    """The candidate's bytes: already fetched by discovery, else fetched (or read) now."""
    if candidate.content is not None:
        return candidate.content
    if candidate.path is not None:
        return candidate.path.read_bytes()
    if candidate.url is None:
        raise PolicywatchError(f"candidate {candidate.key} has neither content, path nor URL")
    return (await client.get(candidate.url)).content


def candidate_location(candidate: Candidate) -> str:
    return candidate.url or (str(candidate.path) if candidate.path else candidate.key)


def selected_sources(config: Config, names: Sequence[str] | None) -> list[SourceSettings]:
    """The enabled sources, or the named subset; an unknown name is a config error to report."""
    configured = {s.name: s for s in config.app.sources}
    if not names:
        return [s for s in configured.values() if s.enabled]
    unknown = [n for n in names if n not in configured]
    if unknown:
        raise PolicywatchError(
            f"unknown source(s): {', '.join(unknown)}",
            hint=f"configured sources: {', '.join(configured) or '(none)'}",
        )
    return [configured[n] for n in names]


def check_reachable(outcomes: Sequence[SourceOutcome]) -> None:
    """Fail the run when no source could be read at all: then nothing else can be trusted."""
    if outcomes and not any(o.ok for o in outcomes):
        details = "; ".join(f"{o.name}: {o.error}" for o in outcomes)
        raise PolicywatchError(
            f"no source was reachable ({details})",
            hint="check the network and the source URLs in config/policywatch.yaml",
        )


def state_unusable(exc: BaseException) -> bool:
    """An error that no other issue would escape either: the state database is gone or broken."""
    return isinstance(exc, StateError | sa.exc.OperationalError | sa.exc.InterfaceError)


def issue_hash(issue: Issue) -> str:
    data = issue.model_dump(mode="json", exclude={"issue": {"url"}})
    text = json.dumps(data, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def parse_issue_bytes(
    data: bytes, url: str, config: Config, *, source: str = "", kind: str | None = None
) -> FetchedIssue | None:
    """Parse one issue; ``None`` when the page belongs to another series (China Essentials...)."""
    doc = load_document(data, url, kind=kind)
    if doc.series and "china industries" not in doc.series.lower():
        return None
    issue = parse_issue(doc, config.bodies, url=url)
    if not issue.items:
        return None
    return FetchedIssue(source=source, url=url, issue=issue, content_hash=issue_hash(issue))


def tag_issue(fetched: FetchedIssue, taxonomy: Taxonomy) -> FetchedIssue:
    """Fill each item's sectors and companies from the taxonomy (before hashing for the diff)."""
    items = [tag_item(i, taxonomy) for i in fetched.issue.items]
    issue = fetched.issue.model_copy(update={"items": items})
    return FetchedIssue(fetched.source, fetched.url, issue, issue_hash(issue))


def tag_with_notices(
    fetched: FetchedIssue,
    notices: Sequence[Notice],
    links: dict[str, list[str]],
    taxonomy: Taxonomy,
) -> FetchedIssue:
    """Add the sectors and companies named in each item's readable notices.

    The content hash stays: tags are derived data, and the hash must still say whether the
    issue itself changed (notices are fetched after that check).
    """
    readable = {n.url: n for n in notices if n.status == "ok"}
    items = [
        tag_item(item, taxonomy, [readable[u] for u in links.get(item.id, ()) if u in readable])
        for item in fetched.issue.items
    ]
    issue = fetched.issue.model_copy(update={"items": items})
    return FetchedIssue(fetched.source, fetched.url, issue, fetched.content_hash)


def is_known(store: Store, fetched: FetchedIssue) -> bool:
    """The same issue with the same content was recorded before: skip matching and alerts."""
    return store.known_issue(fetched.issue_id) == fetched.content_hash


def links_by_item(fetched: FetchedIssue, client: PoliteClient) -> dict[str, list[str]]:
    return {i.id: notice_links(i, client.is_allowed) for i in fetched.issue.items}


def notices_to_retry(store: Store, links: dict[str, list[str]]) -> dict[str, list[str]]:
    """For an unchanged issue: only links never fetched or whose last fetch failed."""
    out: dict[str, list[str]] = {}
    for item_id, urls in links.items():
        stale = [u for u in urls if (n := store.notice(u)) is None or n.status != "ok"]
        if stale:
            out[item_id] = stale
    return out


async def follow_notices(
    client: PoliteClient, links: dict[str, list[str]], config: Config
) -> list[Notice]:
    """Fetch every cited notice once, concurrently; failures come back as notice statuses."""
    urls = list(dict.fromkeys(u for urls in links.values() for u in urls))
    if not urls:
        return []
    return await fetch_notices(client, urls, config.bodies)


def diff_issue(store: Store, fetched: FetchedIssue) -> dict[str, Change]:
    return store.diff_items(fetched.issue.items)


def match_items(
    matcher: Matcher,
    fetched: FetchedIssue,
    changes: dict[str, Change],
    notices: Sequence[Notice],
    links: dict[str, list[str]],
    *,
    force: bool = False,
) -> list[Match]:
    """Match new and revised items (every item with ``force``) with their linked notices."""
    by_url = {n.url: n for n in notices}
    out: list[Match] = []
    for item in fetched.issue.items:
        if not force and changes.get(item.id, "new") == "unchanged":
            continue
        cited = [by_url[u] for u in links.get(item.id, []) if u in by_url]
        out.extend(matcher.match(item, cited))
    return out


def record_issue(
    store: Store,
    fetched: FetchedIssue,
    notices: Sequence[Notice],
    links: dict[str, list[str]],
    alerts: Sequence[Alert],
    run_id: str,
) -> RecordResult:
    """Items, notices, links and alerts in one transaction (a crash leaves all or nothing)."""
    fetched_urls = {n.url for n in notices}
    item_links = {k: [u for u in v if u in fetched_urls] for k, v in links.items()}
    return store.record(
        issue_id=fetched.issue_id, source=fetched.source, meta=fetched.issue.issue,
        content_hash=fetched.content_hash, items=fetched.issue.items, notices=notices,
        item_notices={k: v for k, v in item_links.items() if v}, alerts=alerts, run_id=run_id,
    )  # fmt: skip


# -- summary helpers ------------------------------------------------------------------------------


def summarise_issue(
    summary: RunSummary,
    fetched: FetchedIssue,
    changes: dict[str, Change],
    notices: Sequence[Notice],
    matches: Sequence[Match],
) -> IssueOutcome:
    """Add one processed issue's items, notices and matches to the run summary."""
    counts = Counter(changes.values())
    status: IssueStatus = "new" if counts["new"] == len(changes) and changes else "revised"
    if not counts["new"] and not counts["revised"]:
        status = "unchanged"
    for item in fetched.issue.items:
        change = changes.get(item.id, "new")
        if change != "unchanged":
            summary.items.append(
                ItemChange(
                    fetched.title,
                    item.id,
                    item.section,
                    item.headline,
                    change,
                    list(item.sectors),
                    list(item.companies),
                )
            )
    summary.notices.extend(NoticeRow(n.url, n.site, n.status, n.title, n.error) for n in notices)
    add_matches(summary, fetched, changes, matches)
    outcome = IssueOutcome(
        url=fetched.url, source=fetched.source, status=status, title=fetched.issue.issue.title,
        published=fetched.issue.issue.published, items={str(k): v for k, v in counts.items()},
    )  # fmt: skip
    summary.issues.append(outcome)
    return outcome


def add_matches(
    summary: RunSummary,
    fetched: FetchedIssue,
    changes: dict[str, Change],
    matches: Sequence[Match],
) -> None:
    by_id = {i.id: i for i in fetched.issue.items}
    for m in matches:
        headline = by_id[m.item_id].headline
        change = changes.get(m.item_id, "new")
        summary.matches.append(
            MatchRow(m.watchlist, m.item_id, headline, fetched.title, change, reason_text(m))
        )


def unqueued(store: Store, alerts: Sequence[Alert]) -> list[Alert]:
    """The alerts whose keys are not in the outbox yet (what ``record`` will actually add)."""
    fresh = store.new_alert_keys([a.key for a in alerts])
    return [a for a in alerts if a.key in fresh]


# -- delivery -------------------------------------------------------------------------------------


def deliver_alerts(
    rt: Runtime, summary: RunSummary, resolver: SecretResolver | None = None
) -> DeliveryReport:
    """Send what the outbox owes (this run's alerts and earlier retries); never raises on a send.

    A channels file that cannot be loaded, or a disabled channel, leaves its alerts pending;
    the report says so per channel (``DeliveryReport.outcome`` for the run's exit code).
    """
    report = deliver_run(
        rt.store, rt.config.dir / "channels.yaml", config=rt.config.app.delivery,
        secret_resolver=resolver, worker_id=f"run-{rt.run_id[:12]}",
    )  # fmt: skip
    summary.add_delivery(report)
    return report


def new_run_id() -> str:
    return uuid.uuid4().hex


# -- retrying notices of issues already recorded -----------------------------------------------


def stored_issue(store: Store, issue_id: str, item_ids: Iterable[str]) -> FetchedIssue | None:
    """The recorded items of one issue, as a FetchedIssue that records back unchanged."""
    rows = [row for i in item_ids if (row := store.item(i)) is not None]
    content_hash = store.known_issue(issue_id)
    if not rows or content_hash is None:
        return None
    meta = rows[0][1]
    issue = Issue(issue=meta, items=[item for item, _, _ in rows])
    source = meta.series or "stored"
    return FetchedIssue(source=source, url=issue_id, issue=issue, content_hash=content_hash)


def recovered(notices_: Sequence[Notice], links: dict[str, list[str]]) -> dict[str, list[str]]:
    """Items with at least one notice that is readable now: worth matching again."""
    ok = {n.url for n in notices_ if n.status == "ok"}
    return {item: urls for item, urls in links.items() if ok.intersection(urls)}
