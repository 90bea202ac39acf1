"""CLI commands for the outbox: ``deliver``, ``alerts`` and ``test-alert``.

Nothing here prints a channel URL: channels are shown by name, errors already come masked.
"""

from __future__ import annotations

import os
import socket
import uuid
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

if TYPE_CHECKING:
    from policywatch.delivery_report import DeliveryReport

CHANNELS_FILE = "channels.yaml"


class Status(StrEnum):
    pending = "pending"
    failed = "failed"
    sent = "sent"
    skipped = "skipped"


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
    """Send the pending alerts that are due; prints what each channel got.

    Exits 0 when every due alert was delivered (or none was due), 1 when some did not reach
    their channel (they stay queued), 2 when alerts were due and none was delivered.
    """
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
    _print_report(report)
    if report.outcome == "none_delivered":
        raise typer.Exit(code=2)
    if report.undelivered or report.errors:
        raise typer.Exit(code=1)


def _print_report(report: DeliveryReport) -> None:
    table = Table("channel", "due", "messages", "items", "skipped", "disabled", "deferred",
                  "retrying", "failed")  # fmt: skip
    for name, c in sorted(report.channels.items()):
        values = (c.due, c.sent, c.items, c.skipped, c.disabled, c.deferred, c.retrying, c.failed)
        table.add_row(name, *(str(v) for v in values))
    if report.channels:
        console.print(table)
    console.print(
        f"sent {report.sent} message(s) with {report.items} alert(s), "
        f"skipped {report.skipped} (already delivered), pending {report.pending}, "
        f"failed {report.failed}, ops notices {report.ops_notices}",
        highlight=False,
    )
    for line in report.errors:
        err_console.print(f"[yellow]warning:[/] {line}", highlight=False, soft_wrap=True)


@app.command("alerts")
def alerts_cmd(
    status: Annotated[Status | None, typer.Option(help="Only alerts with this status.")] = None,
    limit: Annotated[int, typer.Option(help="Show at most this many (newest first).")] = 200,
) -> None:
    """List the outbox: what is pending, sent, skipped or failed, by headline and watchlists
    (channel names only, never URLs)."""
    from policywatch.ops import list_alerts, outbox_totals
    from policywatch.store import Store

    config = get_config()
    try:  # read-only: never creates a state database
        with Store.open(config.state_url(), create=False) as store:
            rows = list_alerts(store, status=status.value if status else None, limit=limit)
            totals = outbox_totals(store)
    except PolicywatchError as exc:
        raise fail(exc) from None
    table = Table("id", "status", "channel", "watchlists", "headline", "when")
    for column in table.columns[3:5]:
        column.overflow = "fold"
    for r in rows:
        when = r["sent_at"] or r["next_attempt_at"] or r["created_at"]
        mark = " (revised)" if r["change"] == "revised" else ""
        table.add_row(
            str(r["id"]), f"{r['status']}\n{r['kind']}", r["channel"],
            r["watchlist"].replace(", ", "\n"),
            r["headline"] + mark, when.strftime("%Y-%m-%d %H:%M") if when else "",
        )  # fmt: skip
    console.print(table)
    for r in rows:
        if r["last_error"]:
            console.print(f"  #{r['id']} after {r['attempts']} attempt(s): {r['last_error']}",
                          highlight=False, soft_wrap=True, markup=False)  # fmt: skip
    console.print(
        f"{len(rows)} alert(s) shown; in the outbox: {totals.get('sent', 0)} sent in "
        f"{totals['messages']} message(s), {totals.get('skipped', 0)} skipped (already "
        f"delivered), {totals.get('pending', 0)} pending, {totals.get('failed', 0)} failed",
        highlight=False,
    )


@app.command("test-alert")
def test_alert(
    watchlist: Annotated[str, typer.Argument(help="Watchlist whose channels get the sample.")],
) -> None:
    """Send a sample alert, built from WATCHLIST's own terms, to its channels; prints the result
    per channel (other channels being disabled does not matter)."""
    from policywatch.alerting import sample_entry
    from policywatch.ops import send_test
    from policywatch.taxonomy import load_taxonomy
    from policywatch.watchlists import load_watchlists
    from policywatch.yamlconf import closest

    config = get_config()
    try:
        taxonomy = load_taxonomy(config)
        lists = {w.name: w for w in load_watchlists(config, taxonomy=taxonomy)}
        if watchlist not in lists:
            hint = closest(watchlist, lists)
            raise ConfigError(
                f"no watchlist named '{watchlist}'"
                + (f" (did you mean '{hint}'?)" if hint else ""),
                hint=f"known: {', '.join(sorted(lists)) or 'none'}",
            )
        chosen = lists[watchlist]
        channels = _channels(config)
        entry = sample_entry(chosen, taxonomy, config.bodies, nonce=uuid.uuid4().hex)
        results = send_test(
            channels, entry, chosen.channels, resolver=_resolver(channels),
            settings=config.app.delivery,
        )  # fmt: skip
    except PolicywatchError as exc:
        raise fail(exc) from None
    for name, result in results.items():
        colour = "green" if result == "ok" else "red"
        console.print(f"{name}: [{colour}]{result}[/]", highlight=False, soft_wrap=True)
    if any(r != "ok" for r in results.values()):
        raise typer.Exit(code=1)
