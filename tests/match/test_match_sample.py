"""Golden matching on the real newsletter sample: watchlists that must and must not fire, and why.

Items are looked up by a phrase of their headline, so the test does not depend on item order.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from parsers.bodies import BodyIndex
from parsers.documents import load_document
from parsers.merics import parse_issue
from policywatch.match import Matcher, tag_issue
from policywatch.models import Issue, Match, PolicyItem
from policywatch.taxonomy import Taxonomy
from policywatch.watchlists import Watchlist

SAMPLE = "merics-china-industries-2024-10-02.txt"

WATCHLISTS = [
    {"name": "ev", "sectors": ["new-energy-vehicles"], "companies": ["BYD", "CATL"]},
    {"name": "miit", "bodies": ["MIIT"], "sections": ["top"]},
    {"name": "cac", "bodies": ["国家互联网信息办公室"]},
    {"name": "carbon", "keywords": ["CBAM", "碳足迹"]},
    {"name": "shipbuilding-cn", "companies": ["中国船舶集团", "中国重工"]},
    {"name": "pharma-foreign", "companies": ["阿斯利康"], "exclude": ["Sinotherapeutics"]},
    {
        "name": "ships-and-huawei",
        "sectors": ["shipbuilding"],
        "companies": ["Huawei"],
        "require_all": True,
    },
    {
        "name": "byd-evs",
        "sectors": ["new-energy-vehicles"],
        "companies": ["BYD"],
        "require_all": True,
    },
    {"name": "rare-earth", "sectors": ["rare-earths"]},
]


@pytest.fixture(scope="module")
def issue(shared_samples: Path, bodies: BodyIndex) -> Issue:
    path = shared_samples / SAMPLE
    doc = load_document(path.read_bytes(), str(path))
    return parse_issue(doc, bodies)


@pytest.fixture(scope="module")
def matches(issue: Issue, taxonomy: Taxonomy, bodies: BodyIndex) -> dict[str, list[Match]]:
    lists = [Watchlist.model_validate(d) for d in WATCHLISTS]
    matcher = Matcher.build(lists, taxonomy, bodies)
    return {it.id: matcher.match(it) for it in issue.items}


def find(issue: Issue, phrase: str) -> PolicyItem:
    [hit] = [it for it in issue.items if phrase.lower() in it.headline.lower()]
    return hit


def fired(matches: dict[str, list[Match]], one: PolicyItem) -> dict[str, Match]:
    return {m.watchlist: m for m in matches[one.id]}


def test_champions_story_fires_the_miit_watcher_from_the_issuing_body(issue, matches) -> None:
    got = fired(matches, find(issue, "flag bearers"))
    assert set(got) == {"miit"}
    reason = got["miit"].reasons[0]
    assert (reason.facet, reason.term, reason.field) == ("body", "MIIT", "policy.issuing_bodies")


def test_policy_news_by_miit_does_not_fire_a_top_only_watchlist(issue, matches) -> None:
    got = fired(matches, find(issue, "800 leading talents"))
    assert "miit" not in got


def test_cac_watchlist_in_chinese_fires_on_the_cac_stories(issue, matches) -> None:
    for phrase in ("digital and green", "safety governance framework", "personal data"):
        assert "cac" in fired(matches, find(issue, phrase)), phrase


def test_carbon_keywords_fire_with_reasons_from_comment_and_chinese_title(issue, matches) -> None:
    got = fired(matches, find(issue, "carbon footprint"))["carbon"]
    where = {(r.term, r.field) for r in got.reasons}
    assert ("CBAM", "comment") in where
    assert ("碳足迹", "policy.title_zh") in where


def test_corporate_news_companies(issue, matches) -> None:
    xpeng = fired(matches, find(issue, "Xpeng"))
    assert [(r.facet, r.term) for r in xpeng["ev"].reasons] == [("sector", "new-energy-vehicles")]
    mercedes = fired(matches, find(issue, "Mercedes-Benz"))
    assert [r.found for r in mercedes["ev"].reasons if r.facet == "company"] == ["BYD"]
    ships = fired(matches, find(issue, "shipbuilders"))
    assert {r.term for r in ships["shipbuilding-cn"].reasons} == {"中国船舶集团", "中国重工"}
    assert {r.found for r in ships["shipbuilding-cn"].reasons} == {
        "China CSSC Holdings",
        "China Shipbuilding Industry",
    }


def test_exclude_and_require_all_on_the_sample(issue, matches) -> None:
    assert "pharma-foreign" in fired(matches, find(issue, "detained"))
    assert "pharma-foreign" not in fired(matches, find(issue, "Sinotherapeutics"))
    # require_all is AND across facets (each facet still ORs its entries)
    assert all("ships-and-huawei" not in fired(matches, it) for it in issue.items)
    byd = [it.headline for it in issue.items if "byd-evs" in fired(matches, it)]
    assert len(byd) == 1
    assert "Mercedes-Benz" in byd[0]


def test_nothing_in_the_sample_is_about_rare_earths(issue, matches) -> None:
    assert all("rare-earth" not in fired(matches, it) for it in issue.items)


def test_tagging_the_sample(issue: Issue, taxonomy: Taxonomy) -> None:
    tagged = tag_issue(issue, taxonomy)
    by_phrase = {p: find(tagged, p) for p in ("digital and green", "Xpeng", "IBM", "Huawei")}
    assert by_phrase["digital and green"].companies == ["Alibaba", "Tencent", "Baidu"]
    assert "artificial-intelligence" in by_phrase["digital and green"].sectors
    assert by_phrase["Xpeng"].companies == ["Xpeng", "NIO", "Li Auto"]
    assert by_phrase["IBM"].companies == ["IBM"]
    assert by_phrase["Huawei"].companies == ["Huawei"]
    assert "new-energy-vehicles" in find(tagged, "Inovance").sectors
    assert "carbon-emissions" in find(tagged, "carbon footprint").sectors
