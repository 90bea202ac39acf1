"""``policywatch match``: which items of an issue fire which watchlists, and why; and
``match --backtest``, which replays the state store so a watchlist can be tuned before saving.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from policywatch.cli._app import app, console, get_config
from policywatch.errors import ConfigError

if TYPE_CHECKING:  # the matcher and the models load when the command runs, not for --help
    from policywatch.match import Matcher
    from policywatch.models import Issue, IssueMeta, Match, Notice, PolicyItem, Reason
    from policywatch.settings import Config
    from policywatch.taxonomy import Taxonomy
    from policywatch.watchlists import Watchlist


class Format(StrEnum):
    json = "json"
    table = "table"


def build_matcher(config: Config, path: Path | None) -> tuple[Matcher, Taxonomy]:
    from policywatch.match import Matcher
    from policywatch.taxonomy import load_taxonomy
    from policywatch.watchlists import load_watchlists

    taxonomy = load_taxonomy(config)
    watchlists = load_watchlists(config, path, taxonomy=taxonomy)
    return Matcher.build(watchlists, taxonomy, config.bodies), taxonomy


def read_issue(target: str) -> Issue:
    """Parse an issue from a path or URL with the same reader as ``policywatch parse``."""
    from parsers.documents import load_document
    from parsers.merics import parse_issue
    from policywatch.cli.parse import _is_url, _kind, _read

    data, source, content_type = _read(target)
    doc = load_document(data, source, kind=_kind(content_type))
    return parse_issue(doc, get_config().bodies, url=source if _is_url(source) else None)


def explain(reason: Reason) -> str:
    """``sector new-energy-vehicles: "电动汽车" in notice.body_text``."""
    found = "" if reason.found == reason.term else f' "{reason.found}"'
    return f"{reason.facet} {reason.term}:{found} in {reason.field}"


def _match_rows(
    issue: Issue,
    matcher: Matcher,
    taxonomy: Taxonomy,
    cited: dict[str, list[Notice]] | None = None,
) -> list[tuple[PolicyItem, list[Match]]]:
    from policywatch.match import tag_item

    rows = []
    for item in issue.items:
        notices = (cited or {}).get(item.id, [])
        rows.append((tag_item(item, taxonomy, notices), matcher.match(item, notices)))
    return rows


def fetch_cited(issue: Issue, config: Config) -> dict[str, list[Notice]]:
    """The notices each item links to on allow-listed hosts, fetched once each, concurrently.

    A notice that cannot be read comes back with its status (``not_found``, ``blocked``, ...)
    and an empty body, as in a run: it is listed, it just fires nothing.
    """
    import asyncio

    from policywatch.notices import fetch_notices, notice_links
    from policywatch.pipeline import make_client

    async def fetch() -> dict[str, list[Notice]]:
        async with make_client(config.app.http) as client:
            links = {item.id: notice_links(item, client.is_allowed) for item in issue.items}
            urls = list(dict.fromkeys(url for urls in links.values() for url in urls))
            notices = await fetch_notices(client, urls, config.bodies) if urls else []
        by_url = {n.url: n for n in notices}
        return {key: [by_url[u] for u in urls if u in by_url] for key, urls in links.items()}

    return asyncio.run(fetch())


def _json(
    issue: Issue,
    rows: list[tuple[PolicyItem, list[Match]]],
    lists: dict[str, Watchlist],
    cited: dict[str, list[Notice]] | None = None,
) -> str:
    items = [
        {
            "id": item.id,
            "section": item.section,
            "position": item.position,
            "headline": item.headline,
            "sectors": item.sectors,
            "companies": item.companies,
            **(
                {"notices": [_notice_row(n) for n in cited.get(item.id, [])]}
                if cited is not None
                else {}
            ),
            "matches": [
                {
                    "watchlist": m.watchlist,
                    "channels": lists[m.watchlist].channels,
                    "mode": lists[m.watchlist].mode,
                    "reasons": [r.model_dump(mode="json") for r in m.reasons],
                }
                for m in matches
            ],
        }
        for item, matches in rows
    ]
    out = {"issue": issue.issue.model_dump(mode="json"), "items": items}
    return json.dumps(out, ensure_ascii=False, indent=2)


def _notice_row(notice: Notice) -> dict[str, Any]:
    return {
        "url": notice.url,
        "status": notice.status,
        "title": notice.title,
        "issuing_body": notice.issuing_body,
    }


def _table(issue: Issue, rows: list[tuple[PolicyItem, list[Match]]]) -> Table:
    fired = sum(1 for _, matches in rows if matches)
    table = Table(
        title=f"{issue.issue.series} {issue.issue.published or ''}: watchlist matches",
        caption=f"{fired} of {len(rows)} items matched at least one watchlist",
        show_lines=True,
    )
    for name in ("item", "sectors / companies", "watchlist", "why"):
        table.add_column(name, overflow="fold")
    for item, matches in rows:
        label = f"{item.section} {item.position}: {item.headline}"
        tags = "\n".join([", ".join(item.sectors), ", ".join(item.companies)]).strip()
        names = "\n".join(m.watchlist for m in matches) or "-"
        why = "\n".join(f"[{m.watchlist}] " + "; ".join(map(explain, m.reasons)) for m in matches)
        table.add_row(escape(label), escape(tags), escape(names), escape(why))
    return table


# ----------------------------------------------------------------------------------- backtest


def _month(item: PolicyItem, meta: IssueMeta) -> str:
    day = item.date or meta.published
    return day.strftime("%Y-%m") if day else "undated"


def backtest(
    rows: Iterable[tuple[PolicyItem, IssueMeta, Sequence[Notice]]],
    matcher: Matcher,
    *,
    examples: int = 3,
) -> dict[str, dict[str, Any]]:
    """Per watchlist: alerts it would have sent per month, and the first examples."""
    months: dict[str, Counter[str]] = defaultdict(Counter)
    firsts: dict[str, list[dict[str, Any]]] = defaultdict(list)
    items = 0
    for item, meta, notices in rows:
        items += 1
        for match in matcher.match(item, notices):
            months[match.watchlist][_month(item, meta)] += 1
            if len(firsts[match.watchlist]) < examples:
                firsts[match.watchlist].append(_example(item, match))
    return {
        wl.name: {
            "items_read": items,
            "total": sum(months[wl.name].values()),
            "per_month": dict(sorted(months[wl.name].items())),
            "examples": firsts[wl.name],
        }
        for wl in matcher.watchlists
    }


def _example(item: PolicyItem, match: Match) -> dict[str, Any]:
    return {
        "item_id": item.id,
        "date": item.date.isoformat() if item.date else None,
        "headline": item.headline,
        "why": [explain(r) for r in match.reasons],
    }


def _backtest_table(result: dict[str, dict[str, Any]]) -> Table:
    read = next(iter(result.values()), {}).get("items_read", 0)
    table = Table(title=f"backtest over {read} stored items", show_lines=True)
    for name in ("watchlist", "alerts", "per month", "first examples"):
        table.add_column(name, overflow="fold")
    for name, row in result.items():
        per_month = "\n".join(f"{m}: {n}" for m, n in row["per_month"].items()) or "-"
        shown = "\n".join(
            f"{e['date'] or '?'} {e['headline']} ({'; '.join(e['why'])})" for e in row["examples"]
        )
        table.add_row(escape(name), str(row["total"]), per_month, escape(shown or "-"))
    return table


def _run_backtest(config: Config, matcher: Matcher, since: dt.date | None, fmt: Format) -> None:
    from policywatch.store import Store

    with Store.open(config.state_url(), create=False) as store:  # read only: never creates one
        result = backtest(store.items(since=since), matcher)
    if fmt is Format.json:
        typer.echo(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        console.print(_backtest_table(result))


@app.command("match")
def match(
    target: Annotated[
        str | None,
        typer.Argument(metavar="[PATH_OR_URL]", help="An issue (HTML, PDF, text) or its URL."),
    ] = None,
    watchlists: Annotated[
        Path | None,
        typer.Option("--watchlists", "-w", help="Watchlists file (default: the config's)."),
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="table or json.")] = Format.table,
    run_backtest: Annotated[
        bool,
        typer.Option("--backtest", help="Replay every item in the state store instead."),
    ] = False,
    since: Annotated[
        dt.datetime | None,
        typer.Option("--since", formats=["%Y-%m-%d"], help="Backtest items dated from this day."),
    ] = None,
    with_notices: Annotated[
        bool,
        typer.Option(
            "--notices",
            help="Also fetch the ministry notices the items link to and match their text.",
        ),
    ] = False,
) -> None:
    """Show which items match which watchlists and why (or --backtest the stored history)."""
    config = get_config()
    matcher, taxonomy = build_matcher(config, watchlists)
    if run_backtest:
        _run_backtest(config, matcher, since.date() if since else None, fmt)
        return
    if target is None:
        raise ConfigError(
            "match needs an issue (a path or URL), or --backtest",
            hint="policywatch match samples/issue.html, or policywatch match --backtest",
        )
    issue = read_issue(target)
    cited = fetch_cited(issue, config) if with_notices else None
    rows = _match_rows(issue, matcher, taxonomy, cited)
    if fmt is Format.json:
        lists = {wl.name: wl for wl in matcher.watchlists}
        typer.echo(_json(issue, rows, lists, cited))
    else:
        console.print(_table(issue, rows))
