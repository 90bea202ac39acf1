"""``policywatch.http.warm_up``: what the run's first request would load is loaded beforehand
(``policywatch run`` does it while Prefect's API starts)."""

from __future__ import annotations

import subprocess
import sys

from policywatch.devtools.loopback import LoopbackServer

FIRST_REQUEST = """
import asyncio, sys
from policywatch.http import PoliteClient, tls_context, warm_up
from policywatch.settings import HttpSettings

warm_up()
context = tls_context()
before = set(sys.modules)

async def main():
    async with PoliteClient(HttpSettings(allowed_hosts=["127.0.0.1"])) as client:
        return await client.get(sys.argv[1])

result = asyncio.run(main())
assert result.status == 200, result.status
assert tls_context() is context
print(sorted(m for m in set(sys.modules) - before if m.startswith(("anyio", "ssl", "certifi"))))
"""


def test_the_first_request_after_warm_up_loads_no_async_backend_or_tls(
    merics_site: LoopbackServer,
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", FIRST_REQUEST, merics_site.url("/en/rss.xml")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"
