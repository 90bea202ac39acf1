"""A mailbox source is never mistaken for a MERICS web source by ``sources.discover``."""

from __future__ import annotations

from pathlib import Path

import pytest

from policywatch.devtools.loopback import LoopbackServer
from policywatch.http import PoliteClient
from policywatch.settings import HttpSettings, SourceSettings
from policywatch.sources import SourceState, discover

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_discover_leaves_an_imap_source_alone(tmp_path: Path) -> None:
    with LoopbackServer() as site:
        source = SourceSettings.model_validate(
            {
                "name": "mailbox",
                "type": "imap",
                "host": "127.0.0.1",
                "user": "reader",
                "password": "pw",
                "feed_url": site.url("/en/rss.xml"),  # would be read if taken for merics
            }
        )
        settings = HttpSettings(allowed_hosts=["127.0.0.1"], per_host_interval=0)
        async with PoliteClient(settings) as client:
            found, state = await discover(source, client, SourceState(), root=tmp_path)
        assert found == []
        assert state == SourceState()
        assert site.total_requests() == 0
