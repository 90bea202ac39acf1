"""The check-updates run as plain, typed steps: what the Prefect flows wrap and unit tests call.

discover -> fetch + parse issue -> follow notices -> diff -> match -> build alerts -> record
(alerts enqueued in the same transaction) -> deliver -> summarise. Each step is a small
function with no Prefect import, so ``flows/`` stays a thin layer of verb-named tasks and the
logic is testable in milliseconds. One failing source, issue or notice is caught by the caller
(the flow), recorded in the :class:`RunSummary` and retried next run; only an unusable state
database or no reachable source fails a run (:func:`check_reachable`).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa

from parsers.notices import canonical_url
from parsers.records import Issue, Notice, PolicyItem
from parsers.similar import pair_edited
from policywatch.alerting import build_alerts
from policywatch.channels import SecretResolver
from policywatch.errors import PolicywatchError, StateError
from policywatch.http import HostSlot, PoliteClient
from policywatch.match import Matcher
from policywatch.models import Alert, Change, Match
from policywatch.notices import notice_links
from policywatch.outbox import DeliveryReport, deliver_run
from policywatch.parsing import (
    FetchedIssue,
    issue_hash,
    parse_issue_bytes,
    tag_issue,
    tag_with_notices,
)
from policywatch.settings import Config, HttpSettings, SourceSettings
from policywatch.sources import Candidate
from policywatch.store import RecordResult, Store, item_hash
from policywatch.store.documents import Document
from policywatch.store.healing import run_worker_id
from policywatch.store.reads import Snapshot
from policywatch.store.writes import change_of
from policywatch.summary import (
    IssueOutcome,
    IssueStatus,
    ItemChange,
    MatchRow,
    NoticeRow,
    RunSummary,
    SourceOutcome,
    reason_terms,
    reason_text,
)
from policywatch.taxonomy import Taxonomy, load_taxonomy
from policywatch.transport import HOST_MAP_ENV, host_map_factory
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
    "changes_from",
    "check_reachable",
    "diff_issue",
    "issue_hash",
    "make_client",
    "match_items",
    "open_runtime",
    "parse_issue_bytes",
    "record_issue",
    "tag_issue",
    "tag_with_notices",
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


def make_client(settings: HttpSettings, host_slot: HostSlot | None = None) -> PoliteClient:
    """The run's one HTTP client; honours the loopback host map when ``HOST_MAP_ENV`` is set.
    ``host_slot``: the hosts' limits shared with other processes (see ``PoliteClient``)."""
    return PoliteClient(settings, transport_factory=host_map_factory(), host_slot=host_slot)


# -- steps ----------------------------------------------------------------------------------------


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


def is_known(store: Store, fetched: FetchedIssue) -> bool:
    """The same issue with the same content was recorded before: skip matching and alerts."""
    return store.known_issue(fetched.issue_id) == fetched.content_hash


def links_by_item(fetched: FetchedIssue, client: PoliteClient) -> dict[str, list[str]]:
    return {i.id: notice_links(i, client.is_allowed) for i in fetched.issue.items}


def diff_issue(store: Store, fetched: FetchedIssue) -> dict[str, Change]:
    return store.diff_items(fetched.issue.items)


def pair_edits(fetched: FetchedIssue, snapshot: Snapshot) -> FetchedIssue:
    """Give an edited entry the id of the stored item it revises (``parsers.similar``), so the
    diff reports it as revised rather than as a new item next to a vanished one."""
    stored = [PolicyItem.model_validate(d) for d in snapshot.issue_items.values()]
    pairs = pair_edited(fetched.issue.items, stored) if stored else {}
    if not pairs:
        return fetched
    items = [i.model_copy(update={"id": pairs.get(i.id, i.id)}) for i in fetched.issue.items]
    issue = fetched.issue.model_copy(update={"items": items})
    return FetchedIssue(fetched.source, fetched.url, issue, fetched.content_hash)


def changes_from(snapshot: Snapshot, items: Sequence[PolicyItem]) -> dict[str, Change]:
    """new / revised / unchanged per item against the hashes read before the notices."""
    stored = snapshot.item_hashes
    return {i.id: change_of(stored.get(i.id), item_hash(i), i.id in stored) for i in items}


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
    snapshot: Snapshot | None,
    notices: Sequence[Notice],
    links: dict[str, list[str]],
    alerts: Sequence[Alert],
    run_id: str,
    document: Document | None = None,
) -> RecordResult:
    """Items, links and alerts in one transaction (a crash leaves all or nothing).

    With a ``snapshot`` (the run's path) the notices are written separately, in batches; without
    one (tests, re-recording a stored issue) they are written in the same transaction.
    """
    item_links = {k: v for k, v in links.items() if v}
    if snapshot is None:
        return store.record(
            issue_id=fetched.issue_id, source=fetched.source, meta=fetched.issue.issue,
            content_hash=fetched.content_hash, items=fetched.issue.items, notices=notices,
            item_notices=item_links, alerts=alerts, run_id=run_id,
        )  # fmt: skip
    return store.record_issue(
        issue_id=fetched.issue_id, source=fetched.source, meta=fetched.issue.issue,
        content_hash=fetched.content_hash, items=fetched.issue.items, snapshot=snapshot,
        item_notices=item_links, alerts=alerts, run_id=run_id, document=document,
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
    add_matches(summary, fetched, changes, matches, notices)
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
    notices: Sequence[Notice] = (),
) -> None:
    """One row per match, with the issue's URL and the notices the item cites (the artifact
    links both)."""
    by_id = {i.id: i for i in fetched.issue.items}
    known = {n.url for n in notices}
    url = fetched.issue.issue.url or fetched.url
    for m in matches:
        item = by_id[m.item_id]
        cited = list(dict.fromkeys(c for c in map(canonical_url, _urls(item)) if c in known))
        change = changes.get(m.item_id, "new")
        row = MatchRow(m.watchlist, m.item_id, item.headline, fetched.title, change,
                       reason_text(m), url, cited, reason_terms(m))  # fmt: skip
        summary.matches.append(row)


def _urls(item: PolicyItem) -> list[str]:
    return [link.url for link in item.links if link.url.lower().startswith(("http:", "https:"))]


def unqueued(store: Store, alerts: Sequence[Alert]) -> list[Alert]:  # tests and dry runs
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
        secret_resolver=resolver, worker_id=run_worker_id(rt.run_id),
    )  # fmt: skip
    summary.add_delivery(report)
    return report


def new_run_id() -> str:
    return uuid.uuid4().hex


# -- retrying notices of issues already recorded -----------------------------------------------


def stored_issue(store: Store, issue_id: str, item_ids: Iterable[str]) -> FetchedIssue | None:
    """The recorded items of one issue, as a FetchedIssue that records back unchanged."""
    rows = store.items_by_id(list(item_ids))
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
