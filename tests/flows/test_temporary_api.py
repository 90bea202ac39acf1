"""The temporary Prefect API ``policywatch run`` starts when none is configured: its failures.

Its working path (the demo's runs on it, a kill -9 taking it along) is in
tests/e2e/test_e2e_demo.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.temporary_api import TemporaryAPI, start_unless_configured
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


def test_a_configured_api_is_used_as_it_is() -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:9/api"}):
        assert start_unless_configured() is None


def test_no_api_and_the_temporary_one_turned_off_is_one_clear_error() -> None:
    from prefect.settings import (
        PREFECT_API_URL,
        PREFECT_SERVER_ALLOW_EPHEMERAL_MODE,
        temporary_settings,
    )

    off = {PREFECT_API_URL: None, PREFECT_SERVER_ALLOW_EPHEMERAL_MODE: False}
    with temporary_settings(updates=off), pytest.raises(PolicywatchError) as caught:
        start_unless_configured()
    assert "PREFECT_SERVER_ALLOW_EPHEMERAL_MODE is false" in str(caught.value)
    assert "PREFECT_API_URL" in (caught.value.hint or "")
