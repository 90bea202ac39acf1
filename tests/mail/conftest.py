"""Fixtures for the mailbox tests: a real Dovecot on loopback (session-wide), one fresh folder
per test, settings that point at it, and the issue-parser vocabulary."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from parsers.bodies import BodyIndex
from policywatch.settings import SourceSettings
from tests.mail import dovecot as dc


@pytest.fixture(scope="session")
def bodies(repo_root: Any) -> BodyIndex:
    return BodyIndex.load(repo_root / "config" / "bodies.yaml")


@pytest.fixture(scope="session")
def dovecot() -> Iterator[dc.Dovecot]:
    executable = dc.binary()
    if executable is None:
        pytest.skip(
            f"dovecot not installed: the mailbox tests need a real IMAP server on loopback "
            f"(apt-get install {dc.PACKAGE}; .ci/run installs it)"
        )
    server = dc.start(executable)
    try:
        yield server
    finally:
        dc.remove(server)


@pytest.fixture
def folder(dovecot: dc.Dovecot) -> Iterator[str]:
    """A new, empty folder for one test, deleted afterwards."""
    name = f"t-{uuid.uuid4().hex[:10]}"
    with dovecot.admin() as admin:
        admin.create_folder(name)
    yield name
    with dovecot.admin() as admin:
        for existing in (f[2] for f in admin.list_folders()):
            if existing == name or existing.startswith(f"{name}-"):
                admin.delete_folder(existing)


@pytest.fixture
def mailbox(dovecot: dc.Dovecot, folder: str) -> Any:
    """``mailbox(**overrides)``: settings for the test's folder over IMAPS."""

    def make(**overrides: Any) -> SourceSettings:
        values: dict[str, Any] = {
            "name": "mailbox",
            "type": "imap",
            "host": "127.0.0.1",
            "port": dovecot.imaps_port,
            "security": "tls",
            "user": dc.USER,
            "password": dc.PASSWORD,
            "folder": folder,
            "ca_file": str(dovecot.ca_file),
            "connect_timeout": 5,
            "read_timeout": 5,
        }
        values.update(overrides)
        return SourceSettings.model_validate(values)

    return make
