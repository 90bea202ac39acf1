"""Which failures the fetch tasks retry (no server needed: the condition is a plain function)."""

from __future__ import annotations

import pytest
from prefect.states import Failed

from flows.check_updates import SourceUnreachable, _transient
from policywatch.errors import (
    BlockedError,
    FetchError,
    NotFoundError,
    ParseError,
    UnresolvedHostError,
)


@pytest.mark.parametrize(
    ("exc", "retry"),
    [
        (SourceUnreachable("merics: down"), True),
        (SourceUnreachable("merics: host name does not resolve", retry=False), False),
        (UnresolvedHostError("https://x", "host name does not resolve"), False),
        (FetchError("https://x", "connection failed", attempts=4), True),
        (FetchError("https://x", "server kept failing", status=503), True),
        (NotFoundError("https://x", "not found", status=404), False),
        (BlockedError("https://x", "challenge", status=521), False),
        (ParseError("https://x", "an issue"), False),
        (OSError("no such file"), False),
    ],
)
def test_only_network_trouble_is_retried(exc: Exception, retry: bool) -> None:
    assert _transient(None, None, Failed(data=exc)) is retry
