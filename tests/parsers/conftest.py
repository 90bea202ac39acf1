"""Fixtures for the document and MERICS issue parser tests."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from parsers.bodies import BodyIndex

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "merics"


@pytest.fixture(scope="session")
def bodies(repo_root: Path) -> BodyIndex:
    return BodyIndex.load(repo_root / "config" / "bodies.yaml")


@pytest.fixture(scope="session")
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture
def fixture_site() -> Iterator[str]:
    """The fixtures folder served over loopback HTTP (a real server, a real socket)."""
    handler = partial(SimpleHTTPRequestHandler, directory=str(FIXTURES))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def loopback_config(tmp_path: Path, repo_root: Path) -> Path:
    """A config folder that allows the loopback host (and nothing else changed)."""
    folder = tmp_path / "config"
    folder.mkdir()
    shutil.copy(repo_root / "config" / "bodies.yaml", folder / "bodies.yaml")
    (folder / "policywatch.yaml").write_text(
        "http:\n  allowed_hosts: [127.0.0.1]\n  per_host_interval: 0\n", encoding="utf-8"
    )
    return folder
