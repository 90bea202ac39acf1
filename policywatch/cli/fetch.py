"""``policywatch discover`` and ``policywatch fetch``: the fetching stage on its own, for operators.

``discover`` needs no state store: it keeps source state in memory for the run, or in a JSON
file given with ``--state-file`` (so two runs in a row show the conditional request at work).
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from policywatch.cli._app import app, console, err_console, get_config
from policywatch.errors import ConfigError

if TYPE_CHECKING:  # httpx and the sources load when a command fetches, not for --help
    from policywatch.settings import AppSettings, SourceSettings
    from policywatch.sources import Candidate, SourceState


def _load_states(path: Path | None) -> dict[str, SourceState]:
    from policywatch.sources import SourceState

    if path is None or not path.exists():
        return {}
    try:
        raw = json.loads(path.read_text("utf-8"))
        return {name: SourceState.model_validate(value) for name, value in raw.items()}
    except (ValueError, AttributeError) as exc:
        raise ConfigError(
            f"{path}: not a state file ({exc})", hint="delete it to start afresh"
        ) from None


def _save_states(path: Path, states: dict[str, SourceState]) -> None:
    """Write to a temporary file, then rename: an interrupted save leaves the old state whole."""
    data = {name: state.model_dump(mode="json") for name, state in states.items()}
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", "utf-8")
    partial.replace(path)


def _pick_sources(settings: AppSettings, names: list[str] | None) -> list[SourceSettings]:
    known = {s.name: s for s in settings.sources}
    for name in names or []:
        if name not in known:
            raise ConfigError(
                f"no source named '{name}'", hint=f"configured sources: {', '.join(known)}"
            )
    return [known[n] for n in names] if names else [s for s in settings.sources if s.enabled]


async def _discover_all(
    settings: AppSettings, sources: list[SourceSettings], states: dict[str, SourceState],
    since: date | None, root: Path,
) -> list[Candidate]:  # fmt: skip
    from policywatch.http import PoliteClient
    from policywatch.sources import SourceState, discover

    found: list[Candidate] = []
    async with PoliteClient(settings.http) as client:
        for source in sources:
            before = states.get(source.name, SourceState())
            candidates, states[source.name] = await discover(
                source, client, before, since=since, root=root
            )
            found.extend(candidates)
    return found


@app.command("discover")
def discover_command(
    source: Annotated[
        list[str] | None, typer.Option("--source", "-s", help="Only this source (repeatable).")
    ] = None,
    since: Annotated[
        datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="Backfill: also read the listing, back to DATE."),
    ] = None,
    state_file: Annotated[
        Path | None,
        typer.Option(help="JSON file with the sources' state (ETag, seen issues); updated."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False,
) -> None:
    """List new issues of the configured sources (nothing is parsed or stored)."""
    config = get_config()
    sources = _pick_sources(config.app, source)
    states = _load_states(state_file)
    before = {name: state.consecutive_failures for name, state in states.items()}
    found = asyncio.run(
        _discover_all(config.app, sources, states, since.date() if since else None, config.root)
    )
    if state_file is not None:
        _save_states(state_file, states)
    _print_candidates(found, as_json)
    failed = [
        (s.name, states[s.name])
        for s in sources
        if states[s.name].consecutive_failures > before.get(s.name, 0)
    ]
    for name, state in failed:
        err_console.print(f"[bold red]source {name} failed:[/] {state.last_error}", highlight=False)
    if failed:
        raise typer.Exit(code=2)


def _print_candidates(found: list[Candidate], as_json: bool) -> None:
    if as_json:
        for c in found:
            row = {
                "source": c.source, "key": c.key, "url": c.url,
                "path": str(c.path) if c.path else None, "title": c.title,
                "published": c.published.isoformat() if c.published else None,
                "content_type": c.content_type, "bytes": len(c.content or b""),
            }  # fmt: skip
            print(json.dumps(row, ensure_ascii=False))
        return
    if not found:
        console.print("no new issues")
        return
    table = Table("source", "published", "title", "url / file")
    for c in found:
        published = c.published.isoformat() if c.published else ""
        table.add_row(c.source, published, c.title or "", c.url or str(c.path))
    console.print(table)


@app.command("fetch")
def fetch_command(
    url: Annotated[str, typer.Argument(help="An http(s) URL on an allowed host.")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Save the body here ('-' = stdout).")
    ] = None,
) -> None:
    """Fetch one URL with the polite client and report what happened (status, charset, size)."""
    from policywatch.http import fetch_url

    result = fetch_url(url, get_config().app.http)
    err_console.print(
        f"{result.status} {result.url} type={result.content_type} encoding={result.encoding} "
        f"bytes={len(result.content)} attempts={result.attempts}",
        highlight=False,
    )
    if output is None:
        return
    if str(output) == "-":
        sys.stdout.write(result.text)
    else:
        output.write_bytes(result.content)
