"""A demo world whose sources are two ministry lists (MIIT's JPAAS column, gov.cn's 最新政策) on
a synthetic site that publishes notices between runs, plus the demo's MERICS feed."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from policywatch.demo import DemoWorld, demo_world
from policywatch.devtools.ministrysite import GOVCN_LIST, MIIT_COLUMN, MinistrySite
from policywatch.intake import run_plain
from policywatch.settings import Config


@pytest.fixture
def world(tmp_path: Path) -> Iterator[DemoWorld]:
    with demo_world(tmp_path / "demo") as w:
        config = w.config_dir / "policywatch.yaml"
        data = yaml.safe_load(config.read_text("utf-8"))
        assert MIIT_COLUMN in str(data["sources"])  # the demo's own MIIT column ("miit-notices")
        data["sources"].append(
            {"name": "govcn-latest", "type": "ministry", "site": "govcn", "list_urls": [GOVCN_LIST]}
        )
        config.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
        yield w


@pytest.fixture
def ministries(world: DemoWorld) -> MinistrySite:
    return MinistrySite(world.root / "site", world.site)


@pytest.fixture
def run(world: DemoWorld) -> Any:
    """``run(*sources, alert_existing=True)``: one intake without Prefect over the world; its
    RunSummary. The synthetic notices are dated in the past: a source's first run would
    otherwise record them as a baseline without alerts (tested on its own)."""

    def go(*sources: str, alert_existing: bool = True) -> Any:
        config = Config(world.config_dir)
        names = list(sources) or None
        return asyncio.run(run_plain(config, sources=names, alert_existing=alert_existing))

    return go
