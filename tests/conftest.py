"""Suite-wide test settings. Area fixtures live in each tests/<area>/conftest.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_SAMPLES = REPO.parent / "shared" / "samples"

# Keep Prefect (imported by flow tests) quiet and local, whatever the developer's profile says.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def shared_samples() -> Path:
    """The real newsletter samples next to the repo; tests that need them skip when absent."""
    if not SHARED_SAMPLES.is_dir():
        pytest.skip(
            f"real samples folder not found at {SHARED_SAMPLES} (read-only, outside the repo)"
        )
    return SHARED_SAMPLES
