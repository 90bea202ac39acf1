"""Matching fixtures: the shipped taxonomy and bodies, and small builders for items and lists."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from parsers.bodies import BodyIndex
from policywatch.match import Matcher
from policywatch.models import Match, Notice, PolicyItem
from policywatch.settings import Config
from policywatch.taxonomy import Taxonomy, load_taxonomy
from policywatch.watchlists import Watchlist

CONFIG_FILES = (
    "policywatch.yaml",
    "bodies.yaml",
    "sectors.yaml",
    "companies.yaml",
    "channels.yaml",
    "watchlists.yaml",
)


@pytest.fixture(scope="session")
def config(repo_root: Path) -> Config:
    return Config(repo_root / "config")


@pytest.fixture(scope="session")
def taxonomy(config: Config) -> Taxonomy:
    return load_taxonomy(config)


@pytest.fixture(scope="session")
def bodies(config: Config) -> BodyIndex:
    return config.bodies


@pytest.fixture
def config_copy(repo_root: Path, tmp_path: Path) -> Path:
    """A writable copy of the shipped config folder."""
    target = tmp_path / "config"
    target.mkdir()
    for name in CONFIG_FILES:
        source = repo_root / "config" / name
        if source.exists():
            (target / name).write_bytes(source.read_bytes())
    return target


MatchFn = Callable[..., list[Match]]


@pytest.fixture
def match_with(taxonomy: Taxonomy, bodies: BodyIndex) -> MatchFn:
    """``match_with(watchlist_dicts, item, notices=())``: build a matcher and match one item."""

    def run(
        lists: Sequence[dict[str, Any]], one: PolicyItem, notices: Sequence[Notice] = ()
    ) -> list[Match]:
        watchlists = [Watchlist.model_validate({"channels": [], **d}) for d in lists]
        return Matcher.build(watchlists, taxonomy, bodies).match(one, notices)

    return run
