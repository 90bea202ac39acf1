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
        data["sources"] += [
            {
                "name": "miit-notices",
                "type": "ministry",
                "site": "miit",
                "list_urls": [MIIT_COLUMN],
            },
            {
                "name": "govcn-latest",
                "type": "ministry",
                "site": "govcn",
                "list_urls": [GOVCN_LIST],
            },
        ]
        config.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
        yield w


@pytest.fixture
def ministries(world: DemoWorld) -> MinistrySite:
    return MinistrySite(world.root / "site", world.site)


@pytest.fixture
def run(world: DemoWorld) -> Any:
    """``run(*sources)``: one intake without Prefect over the world; its RunSummary."""

    def go(*sources: str) -> Any:
        return asyncio.run(run_plain(Config(world.config_dir), sources=list(sources) or None))

    return go
