"""The timeliness benchmark's month: what appears when, the world that publishes it, the config.

``plan`` draws the month (seeded); ``World`` publishes it on the synthetic ministry sites and the
MERICS-like feed as the simulated clock passes; ``make_config`` writes the config the runs use.
"""

from __future__ import annotations

import calendar
import datetime as dt
import os
import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from policywatch.devtools.loopback import LoopbackServer, Request
from policywatch.devtools.ministrypages import JPAAS_PATH, NEA_SOURCE, SITES
from policywatch.devtools.ministrysite import SITE_NAMES, MinistrySite, Site, source_configs
from policywatch.devtools.sitegen import FEED_URL, Citation, write_feed, write_issue
from policywatch.settings import Config

REPO = Path(__file__).resolve().parent.parent

BEIJING = dt.timezone(dt.timedelta(hours=8))
TOPICS = (
    ("power batteries", "动力电池"), ("industrial robots", "工业机器人"), ("rare earths", "稀土"),
    ("data exchanges", "数据交易"), ("hydrogen", "氢能"), ("semiconductor equipment", "半导体设备"),
    ("shipbuilding", "船舶工业"), ("solar glass", "光伏玻璃"),
)  # fmt: skip
FORMS = (("加快", "发展", "通知"), ("规范", "管理", "办法"), ("支持", "创新", "意见"))
NUMBERS = {
    "govcn": "国发〔{y}〕{n}号", "miit": "工信部产业〔{y}〕{n}号", "ndrc": "发改产业〔{y}〕{n}号",
    "mofcom": "商务部公告{y}年第{n}号", "cac": "国家互联网信息办公室令第{n}号",
    "samr": "国市监发〔{y}〕{n}号", "mee": "环办发〔{y}〕{n}号", "mof": "财关税〔{y}〕{n}号",
    "nea": "国能发规划〔{y}〕{n}号",
}  # fmt: skip
OLD_PER_SITE = 3  # notices each list holds before the month (older than intake.baseline_days)


@dataclass
class Doc:
    """One document: where and when it first appears, and its later copies on gov.cn."""

    site: Site
    title: str
    number: str
    topic: tuple[str, str]
    appears: dt.datetime  # UTC: listed on its site
    copy_at: dt.datetime | None = None  # listed on gov.cn too
    ready_at: dt.datetime | None = None  # its page answers 503 until then (None: at once)
    urls: list[str] = field(default_factory=list)  # filled as its copies are published

    def readable(self) -> dt.datetime:
        """When a run could first read it: listed with a page that answers, on any site."""
        own = max(self.appears, self.ready_at or self.appears)
        return min(own, self.copy_at) if self.copy_at else own


@dataclass
class Month:
    start: dt.datetime
    end: dt.datetime
    old: list[Doc]
    docs: list[Doc]
    issue_at: dt.datetime
    events: list[tuple[dt.datetime, str, Doc | None]]  # (when, "doc" | "copy" | "issue", doc)


@dataclass(frozen=True)
class Options:
    notices: int
    copies: float  # share of the ministries' documents republished on gov.cn
    burst: int  # documents gov.cn lists within two hours on one day
    failing: float  # share whose page answers 503 for 1 to 8 hours after it is listed


def plan(rng: random.Random, year: int, month: int, o: Options) -> Month:
    """What appears when: the notices at random times, a burst on gov.cn, copies on gov.cn 1 to
    72 hours after the original, the month's issue on its last day."""
    days = calendar.monthrange(year, month)[1]
    start = dt.datetime(year, month, 1, tzinfo=dt.UTC)
    end = start + dt.timedelta(days=days)
    serial = iter(range(1, 100_000))
    old = [
        _doc(rng, site, next(serial), start - dt.timedelta(days=rng.randint(20, 60)))
        for site in SITE_NAMES
        for _ in range(OLD_PER_SITE)
    ]
    minute = dt.timedelta(minutes=1)
    burst = (
        start + rng.randrange(1, days - 2) * dt.timedelta(days=1) + rng.randrange(8) * 60 * minute
    )
    times: list[tuple[dt.datetime, Site]] = [
        (start + rng.randrange(1, days * 24 * 60) * minute, rng.choice(SITE_NAMES))
        for _ in range(o.notices)
    ]
    times += [(burst + rng.randrange(120) * minute, "govcn") for _ in range(o.burst)]
    docs = [_doc(rng, site, next(serial), t) for t, site in times]
    for doc in docs:
        if doc.site != "govcn" and rng.random() < o.copies:
            doc.copy_at = doc.appears + rng.randrange(60, 72 * 60) * minute
        if rng.random() < o.failing:
            doc.ready_at = doc.appears + rng.randrange(60, 8 * 60) * minute
    issue_at = end - rng.randrange(60, 23 * 60) * minute
    events: list[tuple[dt.datetime, str, Doc | None]] = [(d.appears, "doc", d) for d in docs]
    events += [(d.copy_at, "copy", d) for d in docs if d.copy_at]
    events.append((issue_at, "issue", None))
    events.sort(key=lambda e: e[0])
    return Month(start, end, old, docs, issue_at, events)


def _doc(rng: random.Random, site: Site, n: int, when: dt.datetime) -> Doc:
    topic = rng.choice(TOPICS)
    verb, noun, kind = rng.choice(FORMS)
    title = f"{SITES[site].issuer}关于{verb}{topic[1]}产业{noun}的{kind}（第{n}号文件）"
    number = NUMBERS[site].format(y=when.year, n=n)
    return Doc(site, title, number, topic, when)


# -- the world: sites, feed, issue ------------------------------------------------------------


@dataclass
class World:
    root: Path
    server: LoopbackServer
    month: Month
    rng: random.Random
    site: MinistrySite = field(init=False)
    by_url: dict[str, Doc] = field(default_factory=dict)
    cited: dict[str, Doc] = field(default_factory=dict)  # URL the issue cites -> document
    feed: list[tuple[str, str, dt.date]] = field(default_factory=list)
    failing: dict[str, dt.datetime] = field(default_factory=dict)  # page path -> answers from
    done: int = 0  # events applied

    def __post_init__(self) -> None:
        self.site = MinistrySite(self.root, self.server)
        for doc in sorted(self.month.old, key=lambda d: d.appears):
            self._publish(doc, doc.site)
        last = self.month.start - dt.timedelta(days=28)
        self._issue(last, self.month.old[:: OLD_PER_SITE * 3], [])

    def apply_until(self, when: dt.datetime) -> int:
        """Publish everything due by ``when``; how many events that was."""
        events = self.month.events
        before = self.done
        while self.done < len(events) and events[self.done][0] <= when:
            _, kind, doc = events[self.done]
            if kind == "issue":
                self._month_issue()
            elif doc is not None:
                self._publish(doc, "govcn" if kind == "copy" else doc.site)
            self.done += 1
        for path, ready in list(self.failing.items()):
            if ready <= when:  # its page answers from now on
                del self.server.routes[path], self.failing[path]
        return self.done - before

    def _publish(self, doc: Doc, where: Site) -> None:
        local = doc.appears.astimezone(BEIJING) if where == doc.site else _local(doc.copy_at)
        issuer = SITES[doc.site].issuer
        item = self.site.publish(
            where, doc.title, day=local.date(), at=local.time(), doc_number=doc.number,
            issuer=issuer,
        )  # fmt: skip
        doc.urls.append(item.url)
        self.by_url[item.url] = doc
        if where == doc.site and doc.ready_at and doc.ready_at > doc.appears:
            path = "/" + item.url.split("://", 1)[1]
            self.failing[path] = doc.ready_at
            self.server.routes[path] = _failing

    def _month_issue(self) -> None:
        at = self.month.issue_at
        ready = [d for d in self.month.docs if d.appears < at - dt.timedelta(days=2)]
        picked = self.rng.sample(ready, min(8, len(ready)))
        copied = [d for d in ready if d.copy_at and d.copy_at < at and d not in picked][:1]
        self._issue(at, picked, copied + self.month.old[:1])

    def _issue(self, at: dt.datetime, docs: list[Doc], more: list[Doc]) -> None:
        """An issue citing ``docs`` and ``more`` (a republished one by its gov.cn copy)."""
        day = _local(at).date()
        url = f"https://merics.org/en/merics-briefs/china-industries-{day:%Y-%m}"
        cites = [(d, d.urls[-1]) for d in [*docs, *more]]
        citations = [_citation(d, u) for d, u in cites]
        self.cited.update({u: d for d, u in cites})
        write_issue(self.root, url, f"China Industries {day:%B %Y}", day, citations[:5],
                    citations[5:])  # fmt: skip
        self.feed.insert(0, (url, f"China Industries {day:%B %Y}", day))
        write_feed(self.root, self.feed)


def _failing(request: Request) -> tuple[int, dict[str, str], bytes]:
    """The site lists the notice, but its page server is in trouble for a while."""
    return 503, {"Content-Type": "text/html; charset=utf-8"}, b"<html><body>503</body></html>"


def _local(when: dt.datetime | None) -> dt.datetime:
    assert when is not None
    return when.astimezone(BEIJING)


def _citation(doc: Doc, url: str) -> Citation:
    day = doc.appears.astimezone(BEIJING).date()
    return Citation(url, doc.title, doc.topic[0], SITES[doc.site].body, day)


# -- config -----------------------------------------------------------------------------------


def make_config(work: Path) -> Config:
    folder = work / "config"
    shutil.copytree(REPO / "config", folder)
    settings = {
        "state_url": f"sqlite:///{work / 'state.db'}",
        "http": {"per_host_concurrency": 4, "per_host_interval": 0, "max_attempts": 2,
                 "backoff_base": 0.05},
        "sources": [{"name": "merics", "type": "merics", "feed_url": FEED_URL,
                     "listing_url": None}, *source_configs()],
    }  # fmt: skip
    watchlists = [
        {"name": "industry-desk", "keywords": [t[1] for t in TOPICS], "channels": ["desk"]},
        {"name": "energy-climate", "bodies": ["NEA", "NDRC", "MEE"], "channels": ["desk"]},
    ]
    channels = {"desk": {"url": "json://localhost/never-delivered"}}
    for name, data in (("policywatch", settings), ("watchlists", {"watchlists": watchlists}),
                       ("channels", {"channels": channels})):  # fmt: skip
        (folder / f"{name}.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    os.environ["POLICYWATCH_STATE_URL"] = str(settings["state_url"])
    return Config(folder)


def list_paths() -> set[str]:
    """The request path of each list URL on the loopback server (a two-step site's API request
    or data file, which the source remembers), and the MERICS feed."""
    out = {"/" + FEED_URL.split("://", 1)[1]}
    for spec in SITES.values():
        rest = spec.list_url.split("://", 1)[1]
        if spec.kind == "jpaas":
            rest = rest.split("/", 1)[0] + JPAAS_PATH
        elif spec.kind == "datasource":
            rest = rest.rsplit("/", 1)[0] + f"/ds_{NEA_SOURCE}.json"
        out.add("/" + rest)
    return out
