"""What one delivery did, per channel, in numbers that match what the channels received.

Plain data (no database, no network), shared by the outbox that fills it, the run summary, the
CLI and the flows. Two units, never mixed: *messages* (what a channel accepted: one instant
alert, or one digest of N items) and *alerts* (outbox rows, one per item and channel).

For every channel: ``due == items + skipped + disabled + deferred + retrying + failed``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = ["ChannelCounts", "DeliveryReport", "Outcome"]

Outcome = Literal["nothing_due", "clean", "partial", "none_delivered"]


@dataclass
class ChannelCounts:
    """One channel's delivery. ``sent`` counts messages, every other field alerts."""

    due: int = 0  # alerts due when the delivery started
    sent: int = 0  # messages the channel accepted
    items: int = 0  # alerts those messages carried (a digest: 1 message, N items)
    skipped: int = 0  # not sent: the channel already had the item (already delivered)
    disabled: int = 0  # left pending: the channel is disabled (its ${VAR} is not set)
    deferred: int = 0  # left pending for the next run: circuit breaker, Retry-After, time budget
    retrying: int = 0  # failed this time; retried after a backoff
    failed: int = 0  # failed for good (max_attempts); the ops channel is told
    note: str = ""  # why the channel was disabled or stopped early

    @property
    def undelivered(self) -> int:
        """Alerts that were due and did not reach the channel."""
        return self.disabled + self.deferred + self.retrying + self.failed


@dataclass
class DeliveryReport:
    """What one delivery did, per channel; errors are masked (never a channel URL)."""

    worker_id: str
    channels: dict[str, ChannelCounts] = field(default_factory=dict)
    ops_notices: int = 0
    errors: list[str] = field(default_factory=list)

    def counts(self, channel: str) -> ChannelCounts:
        return self.channels.setdefault(channel, ChannelCounts())

    def _sum(self, name: str) -> int:
        return sum(int(getattr(c, name)) for c in self.channels.values())

    @property
    def due(self) -> int:
        return self._sum("due")

    @property
    def sent(self) -> int:
        """Messages accepted, over all channels (what the servers received)."""
        return self._sum("sent")

    @property
    def items(self) -> int:
        return self._sum("items")

    @property
    def skipped(self) -> int:
        return self._sum("skipped")

    @property
    def disabled(self) -> int:
        return self._sum("disabled")

    @property
    def deferred(self) -> int:
        return self._sum("deferred")

    @property
    def retrying(self) -> int:
        return self._sum("retrying")

    @property
    def pending(self) -> int:
        """Alerts still pending after this delivery (disabled, deferred or retrying)."""
        return self._sum("disabled") + self._sum("deferred") + self._sum("retrying")

    @property
    def failed(self) -> int:
        return self._sum("failed")

    @property
    def undelivered(self) -> int:
        return self._sum("undelivered")

    @property
    def outcome(self) -> Outcome:
        """``none_delivered``: alerts were due and none reached its channel; ``partial``: some
        did, some did not (either is a problem); ``clean``: every due alert was delivered or
        had been already; ``nothing_due``."""
        if self.undelivered == 0:
            return "clean" if self.due else "nothing_due"
        return "partial" if self.items else "none_delivered"

    def summary(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "due": self.due,
            "sent": self.sent,
            "items": self.items,
            "skipped": self.skipped,
            "pending": self.pending,
            "failed": self.failed,
            "ops_notices": self.ops_notices,
            "channels": {k: asdict(v) for k, v in sorted(self.channels.items())},
            "errors": list(self.errors),
        }
