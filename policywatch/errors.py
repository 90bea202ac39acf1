"""policywatch's exception tree (see ``parsers.errors`` for the diagram).

FetchError and its subclasses carry the URL, the HTTP status when there was one and how many
attempts were made, so a log line or a CLI message says what failed and how hard we tried.
"""

from __future__ import annotations

from parsers.errors import ParseError, PolicywatchError

__all__ = [
    "BlockedError",
    "ChannelThrottled",
    "ChannelUnreachable",
    "ConfigError",
    "DeliveryError",
    "DisallowedHostError",
    "FetchError",
    "MailboxError",
    "MailboxLoginError",
    "NotFoundError",
    "ParseError",
    "PolicywatchError",
    "StateError",
    "TooLargeError",
    "UnresolvedHostError",
]


class ConfigError(PolicywatchError):
    """A configuration file is wrong; the message names the file and line and what to fix."""


class StateError(PolicywatchError):
    """The state database cannot be used (unreachable, locked too long, newer schema)."""


class DeliveryError(PolicywatchError):
    """A channel did not accept a message (the message never contains a raw channel URL)."""


class ChannelUnreachable(DeliveryError):
    """No answer: connection refused or dropped, or a timeout. Counts towards the channel's
    circuit breaker (its other alerts then wait for the next run)."""


class ChannelThrottled(DeliveryError):
    """The service asked us to wait (HTTP 429/503 with ``Retry-After``, in seconds)."""

    def __init__(self, message: str, *, retry_after: float, hint: str | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message, hint=hint)


class FetchError(PolicywatchError):
    """An HTTP fetch failed for good (after retries where retrying made sense)."""

    def __init__(
        self,
        url: str,
        reason: str,
        *,
        status: int | None = None,
        attempts: int = 1,
        hint: str | None = None,
    ) -> None:
        self.url = url
        self.reason = reason
        self.status = status
        self.attempts = attempts
        where = f"HTTP {status}" if status is not None else "no response"
        super().__init__(f"{url}: {reason} ({where}, {attempts} attempt(s))", hint=hint)


class NotFoundError(FetchError):
    """404/410: the page is gone; recorded as a notice status, not retried."""


class BlockedError(FetchError):
    """A challenge page (412/521 or known marker text): recorded, never bypassed."""


class DisallowedHostError(FetchError):
    """A URL or redirect pointed outside the host allow-list; nothing was fetched there."""


class UnresolvedHostError(FetchError):
    """The host name did not resolve (no network, or a wrong name): not retried in this run."""


class TooLargeError(FetchError):
    """The response body exceeded the size cap and was cut off while streaming."""


class MailboxError(FetchError):
    """An IMAP mailbox could not be read or updated. ``url`` names user, host, port and folder
    (``imaps://reader@mail.example.org:993/INBOX``), never the password."""

    def __init__(self, url: str, reason: str, *, hint: str | None = None) -> None:
        self.url, self.reason, self.status, self.attempts = url, reason, None, 1
        PolicywatchError.__init__(self, f"{url}: {reason}", hint=hint)


class MailboxLoginError(MailboxError):
    """The server refused the user name or password: retrying within a run will not help."""
