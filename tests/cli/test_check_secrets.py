"""``check-config`` and ``secret:NAME``: a channel URL or mailbox password kept in a Prefect
Secret block is checked against the configured Prefect API (the session's real server); with no
API configured, the output says they were not checked."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from prefect.blocks.system import Secret
from prefect.settings import PREFECT_API_URL, temporary_settings

from flows import testing
from policywatch.settings import SHIPPED_CONFIG

CLI = str(Path(sys.executable).with_name("policywatch"))
CHANNELS = """channels:
  team:
    url: secret:pw-check-team
  spare:
    url: secret:pw-check-missing
"""
MAILBOX = """sources:
  - name: newsletter-mail
    type: imap
    host: mail.example.org
    user: reader
    password: secret:pw-check-mailbox
"""


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "config"
    shutil.copytree(SHIPPED_CONFIG, folder)
    (folder / "channels.yaml").write_text(CHANNELS, "utf-8")
    (folder / "policywatch.yaml").write_text(MAILBOX, "utf-8")
    (folder / "watchlists.yaml").write_text(
        "watchlists:\n  - name: ev\n    channels: [team]\n    keywords: [battery]\n", "utf-8"
    )
    return folder


def check_config(config_dir: Path, api: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "POLICYWATCH_"))}
    env.update(COLUMNS="200", PREFECT_HOME=str(config_dir.parent / "prefect-home"))
    if api:
        env["PREFECT_API_URL"] = api
    return subprocess.run(
        [CLI, "--config-dir", str(config_dir), "check-config"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_a_missing_secret_block_is_reported_by_name(
    config_dir: Path, prefect_server: testing.PrefectServer
) -> None:
    with temporary_settings(updates={PREFECT_API_URL: prefect_server.api}):
        Secret(value="json://127.0.0.1:9/hook").save("pw-check-team", overwrite=True)
        Secret(value="not-a-real-password").save("pw-check-mailbox", overwrite=True)
    done = check_config(config_dir, prefect_server.api)
    assert done.returncode == 1, done.stdout + done.stderr  # valid, but one channel cannot work
    assert "warn Prefect Secret blocks (secret:NAME)  (warning: 1 of 3 cannot be used from" in (
        done.stderr
    )
    assert (
        "warning: channel 'spare': Prefect Secret block 'pw-check-missing' not found" in done.stderr
    )
    assert "pw-check-team" not in done.stderr  # found: no warning about it
    assert "not-a-real-password" not in done.stdout + done.stderr  # values are never read out


def test_every_block_present_is_ok(config_dir: Path, prefect_server: testing.PrefectServer) -> None:
    (config_dir / "channels.yaml").write_text(CHANNELS.split("  spare:")[0], "utf-8")
    with temporary_settings(updates={PREFECT_API_URL: prefect_server.api}):
        Secret(value="json://127.0.0.1:9/hook").save("pw-check-team", overwrite=True)
        Secret(value="x").save("pw-check-mailbox", overwrite=True)
    done = check_config(config_dir, prefect_server.api)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (
        f"ok   Prefect Secret blocks (secret:NAME)  (2 found at {prefect_server.api}: "
        "pw-check-mailbox, pw-check-team)" in done.stdout
    )


def test_without_a_prefect_api_the_blocks_are_said_to_be_unchecked(config_dir: Path) -> None:
    done = check_config(config_dir, None)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (
        "ok   Prefect Secret blocks (secret:NAME)  (3 not checked: no Prefect API is configured "
        "(PREFECT_API_URL))" in done.stdout
    )
