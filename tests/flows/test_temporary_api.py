"""The temporary Prefect API ``policywatch run`` starts when none is configured: its failures.

Its working path (the demo's runs on it, a kill -9 taking it along) is in
tests/e2e/test_e2e_demo.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.temporary_api import TemporaryAPI
from policywatch.errors import PolicywatchError


def test_a_server_that_cannot_start_is_named_with_its_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "no-such-folder" / "prefect.db"
    monkeypatch.setenv("PREFECT_SERVER_DATABASE_CONNECTION_URL", f"sqlite+aiosqlite:///{missing}")
    api = TemporaryAPI().start()
    with pytest.raises(PolicywatchError) as caught:
        api.wait(60)
    message = str(caught.value)
    assert message.startswith("Prefect's temporary API exited with code ")
    assert "unable to open database file" in message  # the server's own words
    assert "PREFECT_API_URL" in (caught.value.hint or "")
    assert api.proc is None  # stopped, nothing left running
