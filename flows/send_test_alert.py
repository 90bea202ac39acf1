"""``send-test-alert``: a sample alert to every channel of one watchlist, to check the wiring.

The sample is built from the watchlist's own terms. The result per channel (ok, disabled, or
the error with the URL masked) is the run's artifact; the run fails if any of the watchlist's
channels did not take it, so the UI shows it red. Other channels do not matter.
"""

from __future__ import annotations

import asyncio
import uuid

from prefect import flow, get_run_logger
from prefect.artifacts import acreate_markdown_artifact

from flows.common import artifact_base, secret_resolver
from flows.report import artifact_key
from policywatch.alerting import sample_entry
from policywatch.channels import load_channels
from policywatch.errors import ConfigError, DeliveryError
from policywatch.ops import send_test
from policywatch.settings import Config
from policywatch.taxonomy import load_taxonomy
from policywatch.watchlists import load_watchlists
from policywatch.yamlconf import closest


@flow(name="send-test-alert", log_prints=False)
async def send_test_alert(watchlist: str) -> dict[str, str]:
    """Send a sample alert to each channel of one watchlist.

    Args:
        watchlist: The watchlist's name, as in config/watchlists.yaml.
    """
    config = Config()
    taxonomy = load_taxonomy(config)
    lists = {w.name: w for w in load_watchlists(config, taxonomy=taxonomy)}
    if watchlist not in lists:
        hint = closest(watchlist, list(lists))
        raise ConfigError(
            f"no watchlist named '{watchlist}'" + (f" (did you mean '{hint}'?)" if hint else ""),
            hint=f"watchlists: {', '.join(lists) or '(none)'}",
        )
    channels = load_channels(config.dir / "channels.yaml")
    chosen = lists[watchlist]
    entry = sample_entry(chosen, taxonomy, config.bodies, nonce=uuid.uuid4().hex)
    results = await asyncio.to_thread(
        send_test, channels, entry, chosen.channels, resolver=secret_resolver(),
        settings=config.app.delivery,
    )  # fmt: skip
    rows = "\n".join(f"| {name} | {result} |" for name, result in results.items())
    await acreate_markdown_artifact(
        key=artifact_key(artifact_base("send-test-alert"), "result"),
        markdown=f"# Test alert for {watchlist}\n\n| channel | result |\n|---|---|\n{rows}\n",
        description=f"test alert for {watchlist}",
    )
    get_run_logger().info("send-test-alert: %s", results)
    failed = [n for n, r in results.items() if r != "ok"]
    if failed:
        raise DeliveryError(f"test alert for {watchlist}: failed on {', '.join(failed)}")
    return results
