"""Read channel URLs from Prefect Secret blocks at delivery time (``url: secret:NAME``).

The only place policywatch touches Prefect's secrets: the value is returned to the channel
that sends, never logged, never passed as a flow parameter.
"""

from __future__ import annotations

from typing import Any, cast

from prefect.blocks.system import Secret

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
