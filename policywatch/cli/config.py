"""``policywatch check-config`` and ``policywatch schema``: config checked before a run needs it.

``check-config`` reads every file of the config folder, reports every problem of every file at
once (file:line each) and exits 2 when there is any, so it can guard a deploy or a CI job. A
channel that is disabled on this machine (its ``${VAR}`` is not set) is listed with the reason
and makes the exit code 1: the config is valid, but that channel would not deliver.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from policywatch.cli._app import app, console, err_console, get_config
from policywatch.errors import ConfigError

if TYPE_CHECKING:  # pydantic models and YAML load when the command runs, not for --help
    from policywatch.settings import Config
    from policywatch.taxonomy import Taxonomy

CHANNELS_FILE = "channels.yaml"
WATCHLISTS_FILE = "watchlists.yaml"


class _Report:
    """Collects one line per file: ok, a note, or its errors; and the warnings to list."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.warnings: list[str] = []

    def check(self, label: str, step: Callable[[], str | None]) -> bool:
        try:
            note = step()
        except ConfigError as exc:
            lines = str(exc).splitlines()
            self.errors += lines
            err_console.print(
                f"FAIL {label} ({len(lines)} problem(s))", markup=False, soft_wrap=True
            )
            return False
        console.print(
            f"ok   {label}" + (f"  ({note})" if note else ""), markup=False, soft_wrap=True
        )
        return True


def _check_app(config: Config) -> str | None:
    if not (config.dir / "policywatch.yaml").exists():
        return "not found, using the defaults"
    app_settings = config.app
    return f"{len(app_settings.sources)} source(s), state at {_masked(config.state_url())}"


def _masked(url: str) -> str:
    """The state URL without its password (it may be a PostgreSQL URL with credentials)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(unparsable URL)"


def _check_bodies(config: Config) -> str | None:
    from policywatch.taxonomy import BodiesFile
    from policywatch.yamlconf import load_yaml, validate

    doc = load_yaml(config.dir / "bodies.yaml")
    data = validate(doc, BodiesFile)
    seen: dict[str, int] = {}
    dupes = []
    for i, body in enumerate(data.bodies):
        if body.id in seen:
            where = doc.where(("bodies", i, "id"))
            dupes.append(f"{where}: bodies[{i}].id: duplicate body id '{body.id}'")
        seen.setdefault(body.id, i)
    if dupes:
        raise ConfigError("\n".join(dupes))
    return f"{len(data.bodies)} bodies"


def _check_channels(config: Config, resolve_env: bool, report: _Report) -> str | None:
    path = config.dir / CHANNELS_FILE
    if not path.exists():
        return "not found: watchlists cannot name channels"
    from policywatch.channels import disabled_channels, load_channels

    channels = load_channels(path, resolve_env=resolve_env)
    if not resolve_env:
        return f"{len(channels)} channel(s)"
    disabled = disabled_channels(channels)
    report.warnings += [f"channel '{name}' is disabled: {why}" for name, why in disabled.items()]
    shown = ", ".join(f"{n}={c.masked()}" for n, c in channels.items() if n not in disabled)
    off = f"; {len(disabled)} disabled: {', '.join(disabled)}" if disabled else ""
    return f"{len(channels) - len(disabled)} channel(s) ready: {shown or '-'}{off}"


def _check_watchlists(config: Config, path: Path, taxonomy: Taxonomy | None) -> str | None:
    from policywatch.watchlists import WatchlistsFile, channel_names, read_watchlists
    from policywatch.yamlconf import load_yaml, validate

    if taxonomy is None:
        data = validate(load_yaml(path), WatchlistsFile)
        return f"{len(data.watchlists)} watchlist(s); references not checked (taxonomy has errors)"
    lists = read_watchlists(
        path,
        taxonomy=taxonomy,
        bodies=config.bodies,
        channels=channel_names(config.dir / CHANNELS_FILE),
    )
    return f"{len(lists)} watchlist(s)"


@app.command("check-config")
def check_config(
    env: Annotated[
        bool,
        typer.Option(
            "--env/--no-env",
            help="Resolve ${VAR} secrets and check channel URLs (--no-env: syntax only).",
        ),
    ] = True,
) -> None:
    """Validate every config file at once; exit 2 listing every problem (file:line)."""
    from policywatch.taxonomy import load_taxonomy_files, taxonomy_paths

    config = get_config()
    report = _Report()
    report.check(str(config.dir / "policywatch.yaml"), lambda: _check_app(config))
    report.check(str(config.dir / "bodies.yaml"), lambda: _check_bodies(config))
    sectors, companies = taxonomy_paths(config)
    holder: list[Taxonomy] = []

    def taxonomy_step() -> str:
        holder.append(load_taxonomy_files(sectors, companies))
        return f"{len(holder[0].sectors)} sectors, {len(holder[0].companies)} companies"

    report.check(f"{sectors}, {companies}", taxonomy_step)
    report.check(str(config.dir / CHANNELS_FILE), lambda: _check_channels(config, env, report))
    watchlists = config.dir / WATCHLISTS_FILE
    taxonomy = holder[0] if holder else None
    report.check(str(watchlists), lambda: _check_watchlists(config, watchlists, taxonomy))
    for line in report.warnings:
        err_console.print(f"warning: {line}", markup=False, highlight=False, soft_wrap=True)
    if report.errors:
        for line in report.errors:
            err_console.print(line, markup=False, highlight=False, soft_wrap=True)
        err_console.print(f"{len(report.errors)} problem(s)", markup=False)
        raise typer.Exit(code=2)
    if report.warnings:
        raise typer.Exit(code=1)


@app.command("schema")
def schema(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.")
    ] = None,
) -> None:
    """Print the JSON Schema of watchlists.yaml (for editor completion and checks)."""
    from policywatch.watchlists import json_schema_text

    text = json_schema_text()
    if output is None:
        typer.echo(text, nl=False)
        return
    output.write_text(text, encoding="utf-8")
    console.print(f"wrote {output}", markup=False)
