"""CLI commands for the outbox: ``deliver``, ``alerts`` and ``test-alert``.

Nothing here prints a channel URL: channels are shown by name, errors already come masked.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from policywatch.cli._app import app, console, err_console, fail, get_config
from policywatch.errors import ConfigError, PolicywatchError

if TYPE_CHECKING:  # apprise is loaded by the commands that send, not by --help
    from policywatch.channels import Channel, SecretResolver
    from policywatch.settings import Config

CHANNELS_FILE = "channels.yaml"


class Status(StrEnum):
    pending = "pending"
    failed = "failed"
    sent = "sent"


def _channels(config: Config) -> dict[str, Channel]:
    from policywatch.channels import load_channels

    return load_channels(config.dir / CHANNELS_FILE)


def _resolver(channels: Mapping[str, Channel]) -> SecretResolver | None:
    """Prefect is imported only when a channel really keeps its URL in a Secret block."""
    if not any(c.secret for c in channels.values()):
        return None
    from flows.secret_blocks import prefect_secret

    return prefect_secret


def _worker_id() -> str:
    return f"cli@{socket.gethostname()}:{os.getpid()}"


@app.command("deliver")
def deliver(
    limit: Annotated[int | None, typer.Option(help="Send at most this many alerts.")] = None,
) -> None:
    """Send the pending alerts that are due; prints what each channel got."""
    from policywatch.outbox import deliver_pending
    from policywatch.store import Store

    config = get_config()
    try:
        channels = _channels(config)
        with Store.open(config.state_url()) as store:
            report = deliver_pending(
                store, channels, config=config.app.delivery, worker_id=_worker_id(),
                secret_resolver=_resolver(channels), limit=limit,
            )  # fmt: skip
    except PolicywatchError as exc:
        raise fail(exc) from None
    table = Table("channel", "sent", "messages", "retrying", "failed", "skipped (already sent)")
    for name, c in sorted(report.channels.items()):
        table.add_row(
            name, *(str(v) for v in (c.sent, c.messages, c.retrying, c.failed, c.skipped))
        )
    if report.channels:
        console.print(table)
    console.print(
        f"sent {report.sent}, retrying {report.pending}, failed {report.failed}, "
        f"ops notices {report.ops_notices}",
        highlight=False,
    )
    for line in report.errors:
        err_console.print(f"[yellow]warning:[/] {line}", highlight=False, soft_wrap=True)
    if report.errors:
        raise typer.Exit(code=1)


@app.command("alerts")
def alerts_cmd(
    status: Annotated[Status | None, typer.Option(help="Only alerts with this status.")] = None,
    limit: Annotated[int, typer.Option(help="Show at most this many (newest first).")] = 200,
) -> None:
    """List the outbox: what is pending, sent or failed (channel names only, never URLs)."""
    from policywatch.outbox import list_alerts
    from policywatch.store import Store

    config = get_config()
    try:
        with Store.open(config.state_url()) as store:
            rows = list_alerts(store, status=status.value if status else None, limit=limit)
    except PolicywatchError as exc:
        raise fail(exc) from None
    table = Table("id", "status", "watchlist", "channel", "item", "kind", "tries", "when", "error")
    for r in rows:
        when = r["sent_at"] or r["next_attempt_at"] or r["created_at"]
        table.add_row(
            str(r["id"]), r["status"], r["watchlist"], r["channel"], r["item_id"],
            f"{r['kind']}/{r['change']}", str(r["attempts"]),
            when.strftime("%Y-%m-%d %H:%M") if when else "", (r["last_error"] or "")[:80],
        )  # fmt: skip
    console.print(table)
    console.print(f"{len(rows)} alert(s)", highlight=False)


@app.command("test-alert")
def test_alert(
    watchlist: Annotated[str, typer.Argument(help="Watchlist whose channels get the sample.")],
) -> None:
    """Send a sample alert to WATCHLIST's channels and print the result per channel."""
    from policywatch.outbox import send_test
    from policywatch.watchlists import load_watchlists
    from policywatch.yamlconf import closest

    config = get_config()
    try:
        lists = {w.name: w for w in load_watchlists(config)}
        if watchlist not in lists:
            hint = closest(watchlist, lists)
            raise ConfigError(
                f"no watchlist named '{watchlist}'"
                + (f" (did you mean '{hint}'?)" if hint else ""),
                hint=f"known: {', '.join(sorted(lists)) or 'none'}",
            )
        channels = _channels(config)
        results = send_test(
            channels, watchlist, lists[watchlist].channels, resolver=_resolver(channels),
            sender=config.app.delivery.sender,
        )  # fmt: skip
    except PolicywatchError as exc:
        raise fail(exc) from None
    for name, result in results.items():
        colour = "green" if result == "ok" else "red"
        console.print(f"{name}: [{colour}]{result}[/]", highlight=False, soft_wrap=True)
    if any(r != "ok" for r in results.values()):
        raise typer.Exit(code=1)
