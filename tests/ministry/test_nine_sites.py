"""Each of the nine ministry sites, through real runs: a notice published on the site's column
list is listed, read by the site's notice parser and alerted with its title, 文号, issuer, date
and link; a run with nothing new then costs one conditional request per list URL.

One world for the module (three runs in all, to keep it fast): a first run over the lists
(the sources' baseline over what they already list), one new notice published on every site, a second run, delivery, a third
run. Real loopback HTTP through the host map and a real SMTP sink.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from policywatch.demo import DemoWorld, demo_world
from policywatch.devtools.loopback import Request
from policywatch.devtools.ministrypages import JPAAS_PATH, NEA_SOURCE, SITES
from policywatch.devtools.ministrysite import (
    SITE_NAMES,
    MinistrySite,
    Published,
    Site,
    source_configs,
)
from policywatch.intake import run_plain
from policywatch.settings import Config
from policywatch.store import Store
from policywatch.store.schema import documents
from policywatch.summary import RunSummary
from tests.ministry.test_ministry_source import deliver, text_of

SOURCES = [s["name"] for s in source_configs()]
OLD = dt.timedelta(days=40)  # older than intake.baseline_days


@dataclass
class Nine:
    world: DemoWorld
    published: dict[Site, Published]
    second: RunSummary
    second_log: list[Request]
    messages: list[EmailMessage]
    third: RunSummary
    third_log: list[Request]


def _run(world: DemoWorld) -> tuple[RunSummary, list[Request]]:
    world.site.reset_counts()
    summary = asyncio.run(run_plain(Config(world.config_dir), sources=SOURCES))
    return summary, list(world.site.log)


@pytest.fixture(scope="module")
def nine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nine]:
    root: Path = tmp_path_factory.mktemp("nine") / "demo"
    with demo_world(root) as world:
        config = world.config_dir / "policywatch.yaml"
        data = yaml.safe_load(config.read_text("utf-8"))
        data["sources"] += source_configs()
        config.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
        site = MinistrySite(world.root / "site", world.site)
        today = dt.datetime.now(dt.UTC).date()
        for name in SITE_NAMES:  # what the lists held before: recorded without alerts
            site.publish(
                name, f"{SITES[name].issuer}关于开展固态电池安全检查的通知", day=today - OLD
            )
        first, _ = _run(world)
        assert [(s.ok, s.candidates) for s in first.sources] == [(True, 1)] * 9, first.sources
        assert first.baseline == dict.fromkeys(SOURCES, 1)
        published = {s: _publish(site, s, today) for s in SITE_NAMES}
        second, second_log = _run(world)
        messages = deliver(world)
        third, third_log = _run(world)
        yield Nine(world, published, second, second_log, messages, third, third_log)


def _publish(site: MinistrySite, name: Site, day: dt.date) -> Published:
    issuer = SITES[name].issuer
    title = f"{issuer}关于推进固态电池产业高质量发展的通知"  # 固态电池: ev-batteries' keyword
    return site.publish(name, title, day=day, doc_number=f"{issuer[:2]}发产业〔2026〕{len(name)}号")


def _path(url: str) -> str:
    return "/" + url.split("://", 1)[1].split("?", 1)[0]


@pytest.mark.parametrize("name", SITE_NAMES)
def test_a_notice_on_the_sites_list_is_listed_read_and_alerted(nine: Nine, name: Site) -> None:
    notice = nine.published[name]
    [outcome] = [s for s in nine.second.sources if s.name == f"{name}-list"]
    assert (outcome.ok, outcome.candidates) == (True, 1), outcome  # listed
    hosts = {r.host for r in nine.second_log if r.path == _path(notice.url)}
    assert hosts == {notice.url.split("/")[2]}  # its page was fetched from its own host
    [read] = [n for n in nine.second.notices if n.url == notice.url]
    assert (read.site, read.status, read.title) == (name, "ok", notice.title)
    with Store.open(Config(nine.world.config_dir).state_url()) as store, store.read() as conn:
        [doc] = conn.execute(sa.select(documents).where(documents.c.url == notice.url)).all()
    body = SITES[name].body
    assert (doc.doc_number, doc.published) == (notice.doc_number, notice.day)
    assert doc.identity == f"doc:{body}:{notice.doc_number}"  # the issuer read from the page
    [message] = [m for m in nine.messages if notice.title in str(m["Subject"])]
    text = text_of(message)
    for shown in (notice.doc_number or "", body, str(notice.day), notice.url):
        assert shown in text, (name, shown)


def test_a_run_with_nothing_new_costs_one_conditional_request_per_list_url(nine: Nine) -> None:
    assert (nine.third.items, nine.third.matches) == ([], [])
    log = nine.third_log
    assert all("if-none-match" in r.headers for r in log), [(r.path, r.headers) for r in log]
    # the column pages of two-step sites are not read again: their API request (or NEA's data
    # file) was remembered
    assert sorted(r.path for r in log) == sorted(_list_request_path(s) for s in SITE_NAMES)


def _list_request_path(name: Site) -> str:
    spec = SITES[name]
    if spec.kind == "jpaas":
        return "/" + spec.list_url.split("/")[2] + JPAAS_PATH
    if spec.kind == "datasource":
        return _path(spec.list_url).rsplit("/", 1)[0] + f"/ds_{NEA_SOURCE}.json"
    return _path(spec.list_url)


def test_what_the_lists_held_before_the_first_run_is_not_alerted(nine: Nine) -> None:
    subjects = sorted(str(m["Subject"]) for m in nine.messages)
    assert subjects == sorted(f"[ev-batteries] {p.title}" for p in nine.published.values())
