"""A run's watches (``policywatch.canaries``) kept in the state, and the ops channel told.

Called by the flows at the end of every run, failed runs included (a source that is down fails
the run when it is the only one, and must still be counted), under the run lock. The ops
channel is the ``ops`` entry of ``channels.yaml``; when it is missing or disabled the alerts stay
owed (one warning per run) and go out with the first run that can send them.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence

from policywatch.canaries import Watch, observe, told
from policywatch.channels import Channel, SecretResolver, load_channels, send
from policywatch.errors import PolicywatchError
from policywatch.ops import OPS_CHANNEL, render_health
from policywatch.settings import Config
from policywatch.store import Store
from policywatch.store.schema import utcnow
from policywatch.store.watches import load_watches, save_watches
from policywatch.summary import RunSummary

__all__ = ["keep_watch", "tell_ops"]

log = logging.getLogger("policywatch.health")


def keep_watch(
    store: Store,
    config: Config,
    summary: RunSummary,
    *,
    save: bool = True,
    now: dt.datetime | None = None,
) -> list[Watch]:
    """The watches this run touched, updated and (with ``save``) stored."""
    watches = observe(load_watches(store.engine), summary, config.app.health, now or utcnow())
    if save:
        with store.write() as conn:
            save_watches(conn, watches)
    return watches


def tell_ops(store: Store, config: Config, resolver: SecretResolver | None = None) -> list[str]:
    """Send every ops alert a watch is owed, one message each; returns the errors (masked).

    The first failed send stops the rest (they stay owed); a watch is marked told only after
    its message was accepted, so a crash in between can repeat that one message."""
    owed = [w for w in load_watches(store.engine).values() if w.owed]
    if not owed:
        return []
    ops = _ops_channel(config)
    if isinstance(ops, str):
        log.warning("%d ops alert(s) about sources or layouts not sent: %s", len(owed), ops)
        return []
    return _send_all(store, config, ops, owed, resolver)


def _send_all(
    store: Store,
    config: Config,
    ops: Channel,
    owed: Sequence[Watch],
    resolver: SecretResolver | None,
) -> list[str]:
    for watch in owed:
        try:
            send(ops, render_health(watch), resolver=resolver, settings=config.app.delivery)
        except PolicywatchError as exc:
            log.warning("could not tell the ops channel (%s); it stays owed: %s", watch.key, exc)
            return [f"{OPS_CHANNEL}: {exc}"]
        with store.write() as conn:
            save_watches(conn, [told(watch)])
        log.info("ops told: %s", watch.describe())
    return []


def _ops_channel(config: Config) -> Channel | str:
    """The enabled ``ops`` channel, or why there is none."""
    path = config.dir / "channels.yaml"
    try:
        channel = load_channels(path).get(OPS_CHANNEL) if path.exists() else None
    except PolicywatchError as exc:
        return f"{path} could not be loaded ({exc})"
    if channel is None:
        return f"no '{OPS_CHANNEL}' channel in {path}"
    if channel.disabled is not None:
        return f"the '{OPS_CHANNEL}' channel is disabled: {channel.disabled}"
    return channel
