"""The root of policywatch's one exception tree.

It lives in ``parsers`` because that is the lowest layer (imports go flows -> policywatch ->
parsers); ``policywatch.errors`` re-exports it and adds the errors of the upper layers::

    PolicywatchError            anything policywatch raises on purpose; the CLI prints one line
    ├── ParseError              input that is not what a parser expects (file/URL + what was expected)
    ├── ConfigError             a config file is wrong (file:line + what to fix)
    ├── FetchError              HTTP failed (URL, status, attempts); subclasses below
    ├── StateError              the state database is unusable or newer than this code
    └── DeliveryError           a channel refused a message
"""

from __future__ import annotations


class PolicywatchError(Exception):
    """Base of every error policywatch raises on purpose.

    ``hint`` is the one-line advice the CLI prints under the message.
    """

    hint: str | None = None

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint


class ParseError(PolicywatchError):
    """Input that a parser cannot read: says where it came from and what was expected."""

    def __init__(self, source: str, expected: str, *, hint: str | None = None) -> None:
        self.source = source
        self.expected = expected
        super().__init__(f"{source}: {expected}", hint=hint)
