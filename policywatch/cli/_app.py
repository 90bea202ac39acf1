"""The typer app, its global options and the one place that turns errors into CLI messages."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from policywatch.errors import PolicywatchError

if TYPE_CHECKING:
    from policywatch.settings import Config

app = typer.Typer(
    name="policywatch",
    help="Alerts on Chinese industrial policy from the MERICS China Industries newsletter.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console()
err_console = Console(stderr=True)

_state: dict[str, Any] = {}

# Libraries whose own log lines stay out of the CLI output unless -v: apprise logs every failed
# send in its own words (policywatch reports the failure in one line of its own).
QUIET_LOGGERS = ("apprise",)
# Transport libraries that log every socket event at DEBUG (httpcore: about ten lines per request,
# 7,000 for a backfill, which cost the run a tenth of its CPU): -v shows their INFO and above.
WIRE_LOGGERS = ("httpcore", "hpack", "websockets", "graphviz", "aiosqlite", "asyncio")


class _QuietLibraries(logging.Filter):
    """Drops the records of ``QUIET_LOGGERS`` unless the CLI runs with ``-v``."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _state.get("verbose"):
            return True
        return not any(record.name.split(".")[0] == name for name in QUIET_LOGGERS)


@app.callback()
def _main(
    config_dir: Annotated[
        Path | None,
        typer.Option(
            "--config-dir",
            envvar="POLICYWATCH_CONFIG_DIR",
            help="Folder with policywatch.yaml, watchlists.yaml, ... (default: ./config).",
        ),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log debug details.")] = False,
) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    _state["verbose"] = verbose
    if verbose:
        for name in WIRE_LOGGERS:
            logging.getLogger(name).setLevel(logging.INFO)
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, _QuietLibraries) for f in handler.filters):
            handler.addFilter(_QuietLibraries())
    _state["config_dir"] = config_dir
    _state.pop("config", None)


def get_config() -> Config:
    """The run's configuration (set by the global ``--config-dir`` option)."""
    if "config" not in _state:
        # pydantic and YAML load only for commands that read the config
        from policywatch.settings import Config

        _state["config"] = Config(_state.get("config_dir"))
    config: Config = _state["config"]
    return config


def fail(exc: PolicywatchError) -> typer.Exit:
    """Print a policywatch error as one line (plus its hint) and return the exit to raise."""
    err_console.print(f"[bold red]error:[/] {exc}", markup=True, highlight=False, soft_wrap=True)
    if exc.hint:
        err_console.print(f"[dim]hint: {exc.hint}[/]", highlight=False)
    return typer.Exit(code=2)
