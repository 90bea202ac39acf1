"""Read channel URLs from Prefect Secret blocks at delivery time (``url: secret:NAME``).

The only place policywatch touches Prefect's secrets: the value is returned to the channel
that sends, never logged, never passed as a flow parameter.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import httpx
from prefect.blocks.system import Secret
from prefect.client.orchestration import get_client
from prefect.exceptions import ObjectNotFound

from policywatch.errors import DeliveryError


def prefect_secret(name: str) -> str:
    """The Secret block's value; a list of URLs is joined so apprise reads them all."""
    try:
        block = cast("Secret[Any]", Secret.load(name, _sync=True))  # type: ignore[call-arg]
        value = block.get()
    except ValueError:
        raise DeliveryError(
            f"Prefect Secret block '{name}' not found",
            hint=f"create it: Secret(value='...').save('{name}')",
        ) from None
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return " ".join(value)
    raise DeliveryError(f"Prefect Secret block '{name}' must hold a URL or a list of URLs")


def missing_blocks(names: Sequence[str]) -> tuple[str | None, dict[str, str]]:
    """For ``check-config``: the configured Prefect API's URL (None when none is configured)
    and, per Secret block name, why it cannot be used (not found, or the API does not answer).
    Only the block's existence is asked for, never its value."""
    from prefect.settings import PREFECT_API_URL

    url = str(PREFECT_API_URL.value() or "") or None
    if url is None or not names:
        return url, {}
    try:
        httpx.get(url.rstrip("/") + "/health", timeout=3).raise_for_status()
    except httpx.HTTPError as exc:
        return url, dict.fromkeys(names, f"not checked: the Prefect API does not answer ({exc})")
    problems: dict[str, str] = {}
    with get_client(sync_client=True) as client:
        for name in names:
            try:
                client.read_block_document_by_name(name, "secret", include_secrets=False)
            except ObjectNotFound:
                problems[name] = f"Prefect Secret block '{name}' not found"
    return url, problems
