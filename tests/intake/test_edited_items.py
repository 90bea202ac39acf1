"""An issue re-published with one news entry reworded: that entry is "revised" (its stored id
kept, one revision alert), not a new item next to a vanished one."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from policywatch.demo import DemoWorld, demo_world
from policywatch.intake import run_plain
from policywatch.settings import Config
from policywatch.store import Store

ISSUE = "merics.org/en/merics-briefs/battery-passports-industrial-robots-rare-earth-tracing.html"
OLD = "The MIIT asked provinces to report idle capacity in polysilicon production ahead of a consolidation plan"
NEW = "The MIIT asked provinces to report idle capacity in polysilicon production before a consolidation plan"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[DemoWorld]:
    with demo_world(tmp_path / "demo") as w:
        yield w


def test_a_reworded_news_entry_is_revised_under_its_stored_id(world: DemoWorld) -> None:
    config = Config(world.config_dir)
    first = asyncio.run(run_plain(config))
    page = world.root / "site" / ISSUE
    text = page.read_text("utf-8")
    assert OLD in text
    page.write_text(text.replace(OLD, NEW), "utf-8")
    # the feed still lists it as seen: a forced re-read of this one issue
    with Store.open(f"sqlite:///{world.state_path}") as store:
        before = {item.id for item, _, _ in store.items()}
        state = store.source_state("merics") or {}
        state["seen"] = [k for k in state.get("seen", []) if "battery-passports" not in k]
        state["etag"] = state["last_modified"] = None
        store.save_source_state("merics", state)
    second = asyncio.run(run_plain(config))
    changes = {i.item_id: i.change for i in second.items}
    assert list(changes.values()) == ["revised"]
    with Store.open(f"sqlite:///{world.state_path}") as store:
        after = {item.id for item, _, _ in store.items()}
        [revised] = list(changes)
        item = next(i for i, _, _ in store.items() if i.id == revised)
    assert after == before  # no new id: the reworded entry kept its stored one
    assert NEW in item.text
    assert first.items
