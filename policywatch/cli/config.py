"""``policywatch check-config`` and ``policywatch schema``: config checked before a run needs it.

``check-config`` reads every file of the config folder, reports every problem of every file at
once (file:line each) and exits 2 when there is any, so it can guard a deploy or a CI job. A
channel that is disabled on this machine (its ``${VAR}`` is not set) is listed with the reason
and makes the exit code 1: the config is valid, but that channel would not deliver; so does a
``secret:NAME`` (a channel URL or a mailbox password) whose Prefect Secret block the configured
Prefect API does not have (with no API configured, the line says they were not checked). The checks
themselves are ``policywatch.configcheck`` (shared with ``run``); a folder without the taxonomy
files is checked against the shipped ones, and says so.
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


WARNING = "warning: "


class _Report:
    """Collects one line per file: ok, a note, a warning, or its errors; and the warnings
    (disabled channels) to list at the end."""

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
        if note and note.startswith(WARNING):
            err_console.print(f"warn {label}  ({note})", markup=False, soft_wrap=True)
            return True
        console.print(
            f"ok   {label}" + (f"  ({note})" if note else ""), markup=False, soft_wrap=True
        )
        return True


def _check_app(config: Config) -> str | None:
    from policywatch.configcheck import check_app

    app_settings = check_app(config)
    state = f"state at {_masked(config.state_url())}"
    if not (config.dir / "policywatch.yaml").exists():
        return f"not found, using the defaults; {state}"
    return f"{len(app_settings.sources)} source(s), {state}"


def _masked(url: str) -> str:
    """The state URL without its password (it may be a PostgreSQL URL with credentials)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(unparsable URL)"


def _check_bodies(config: Config) -> str | None:
    from policywatch.configcheck import check_bodies

    return f"{check_bodies(config)} bodies" + _shipped(config, "bodies.yaml")


def _shipped(config: Config, name: str) -> str:
    return "" if config.file(name).parent == config.dir else f"; shipped, not in {config.dir}"


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


def _secret_refs(config: Config) -> dict[str, list[str]]:
    """Prefect Secret block name -> what refers to it (channels, mailbox passwords). A file that
    does not load is reported on its own line; here it just refers to nothing."""
    from policywatch.channels import load_channels
    from policywatch.settings import SECRET_PREFIX

    refs: dict[str, list[str]] = {}
    path = config.dir / CHANNELS_FILE
    try:
        channels = load_channels(path, resolve_env=False) if path.exists() else {}
        sources = config.app.sources
    except ConfigError:
        return refs
    for name, channel in channels.items():
        if channel.secret:
            refs.setdefault(channel.secret, []).append(f"channel '{name}'")
    for src in sources:
        raw = src.password.get_secret_value() if src.password else ""
        if src.enabled and raw.startswith(SECRET_PREFIX):
            name = raw.removeprefix(SECRET_PREFIX).strip()
            refs.setdefault(name, []).append(f"source '{src.name}' password")
    return refs


def _check_secrets(config: Config, report: _Report) -> str | None:
    """Each ``secret:NAME`` must name a Secret block of the configured Prefect API."""
    refs = _secret_refs(config)
    if not refs:
        return "none used"
    import logging

    from flows.secret_blocks import missing_blocks

    logging.getLogger("httpx").setLevel(logging.WARNING)  # its request lines stay out
    url, problems = missing_blocks(sorted(refs))
    if url is None:
        return f"{len(refs)} not checked: no Prefect API is configured (PREFECT_API_URL)"
    report.warnings += [f"{', '.join(refs[name])}: {why}" for name, why in problems.items()]
    if problems:
        return WARNING + f"{len(problems)} of {len(refs)} cannot be used from {url}"
    return f"{len(refs)} found at {url}: {', '.join(sorted(refs))}"


def _check_watchlists(config: Config, taxonomy: Taxonomy | None) -> str | None:
    from policywatch.configcheck import check_watchlists
    from policywatch.watchlists import EMPTY_WARNING

    found = check_watchlists(config, taxonomy, warn=False)  # reported on its own line below
    if found == 0:
        return WARNING + EMPTY_WARNING
    note = f"{found} watchlist(s)"
    return (
        note
        if taxonomy is not None
        else note + "; references not checked (taxonomy or bodies have errors)"
    )


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
    bodies_ok = report.check(str(config.file("bodies.yaml")), lambda: _check_bodies(config))
    sectors, companies = taxonomy_paths(config)
    holder: list[Taxonomy] = []

    def taxonomy_step() -> str:
        holder.append(load_taxonomy_files(sectors, companies))
        found = f"{len(holder[0].sectors)} sectors, {len(holder[0].companies)} companies"
        return found + _shipped(config, "sectors.yaml")

    report.check(f"{sectors}, {companies}", taxonomy_step)
    report.check(str(config.dir / CHANNELS_FILE), lambda: _check_channels(config, env, report))
    if env:
        report.check("Prefect Secret blocks (secret:NAME)", lambda: _check_secrets(config, report))
    watchlists = config.dir / WATCHLISTS_FILE
    taxonomy = holder[0] if holder and bodies_ok else None
    report.check(str(watchlists), lambda: _check_watchlists(config, taxonomy))
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
