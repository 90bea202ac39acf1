"""Matching semantics on synthetic items: boundaries, CJK, facets, exclude, require_all, reasons."""

from __future__ import annotations

import pytest
from match_helpers import item, notice

from policywatch.match import normalize, tag_item
from policywatch.models import Policy
from policywatch.taxonomy import Taxonomy

EV = {"name": "ev", "sectors": ["new-energy-vehicles"]}
CATL = {"name": "catl", "companies": ["CATL"]}


@pytest.mark.parametrize(
    ("text", "fires"),
    [
        ("CATL opens a plant in Hungary.", True),
        ("CATL's new plant opens.", True),
        ("Shares of catl rose.", False),  # all-capitals acronym: matched in its written case
        ("The CATLike prototype was shown.", False),
        ("A CATL-led consortium was formed.", True),
        ("宁德时代发布新电池。", True),
        ("ＣＡＴＬ宣布扩产。", True),  # full-width letters fold to CATL; CJK is a boundary
        ("Contemporary Amperex Technology said so.", True),
        ("Nothing to see here.", False),
    ],
)
def test_company_aliases_on_word_boundaries(match_with, text: str, fires: bool) -> None:
    assert bool(match_with([CATL], item(text))) is fires


@pytest.mark.parametrize(
    ("text", "fires"),
    [
        ("Every ministry reports.", False),
        ("The EV market grew.", True),
        ("EVs sold well.", True),  # plural s of a sector term
        ("Sales of electric vehicles rose.", True),
        ("Sales of ELECTRIC VEHICLES rose.", True),
        ("新能源汽车产销两旺。", True),
        ("The revival of the steel sector.", False),
    ],
)
def test_sector_terms(match_with, text: str, fires: bool) -> None:
    assert bool(match_with([EV], item(text))) is fires


def test_reason_names_facet_term_found_field_and_snippet(match_with) -> None:
    text = "Prices fell. " + "Filler words here. " * 10 + "Then BYD cut prices of its EVs again."
    [match] = match_with([{"name": "byd", "companies": ["比亚迪"]}], item(text))
    [reason] = match.reasons
    assert (reason.facet, reason.term, reason.found, reason.field) == (
        "company",
        "比亚迪",
        "BYD",
        "text",
    )
    assert "BYD cut prices" in reason.snippet
    assert len(reason.snippet) <= 90
    assert reason.snippet.startswith("…")


def test_first_field_wins_headline_before_text(match_with) -> None:
    one = item("Huawei ships a phone.", headline="Huawei news")
    [match] = match_with([{"name": "h", "companies": ["Huawei"]}], one)
    assert match.reasons[0].field == "headline"


def test_chinese_only_notice_fires_english_sector_watchlist(match_with) -> None:
    one = item("The MIIT released a notice on industrial upgrading.")
    cn = notice(
        "为加快推动新能源汽车动力电池回收利用，现将有关事项通知如下。",
        title="关于推进电池回收的通知",
    )
    lists = [{"name": "batteries", "sectors": ["batteries"]}]
    assert match_with(lists, one) == []
    [match] = match_with(lists, one, [cn])
    [reason] = match.reasons
    assert reason.field.startswith("notice.")
    assert reason.found in ("电池", "电池回收", "动力电池")


def test_bodies_from_policy_from_notice_and_from_text(match_with) -> None:
    lists = [{"name": "miit", "bodies": ["工信部"]}]
    structured = item("A plan.", policy=Policy(title_en="Plan", issuing_bodies=["MIIT"]))
    [m] = match_with(lists, structured)
    assert (m.reasons[0].term, m.reasons[0].field) == ("工信部", "policy.issuing_bodies")
    from_notice = item("A plan.")
    [m] = match_with(lists, from_notice, [notice("正文", issuing_body="工业和信息化部办公厅")])
    assert m.reasons[0].field == "notice.issuing_body"
    [m] = match_with(lists, item("The Ministry of Industry and Information Technology said so."))
    assert m.reasons[0].found == "Ministry of Industry and Information Technology"
    assert match_with(lists, item("The NDRC said so.")) == []


def test_acronym_body_is_case_sensitive(match_with) -> None:
    lists = [{"name": "most", "bodies": ["MOST"]}]
    assert match_with(lists, item("Most firms agree.")) == []
    assert match_with(lists, item("The MOST published a list.")) != []
    assert match_with(lists, item("科技部发布通知。")) != []


def test_exclude_drops_the_item(match_with) -> None:
    lists = [{"name": "ev", "sectors": ["new-energy-vehicles"], "exclude": ["recall"]}]
    assert match_with(lists, item("NEV makers grew.")) != []
    assert match_with(lists, item("NEV makers announce recalls.")) == []
    # exclusions read the notices too
    assert match_with(lists, item("NEV makers grew."), [notice("A recall of 1,000 cars.")]) == []


def test_require_all_needs_every_facet(match_with) -> None:
    wl = {
        "name": "chips-ec",
        "sectors": ["semiconductors"],
        "keywords": ["export control", "出口管制"],
        "require_all": True,
    }
    assert match_with([wl], item("A new chip fab opens.")) == []
    assert match_with([wl], item("Export controls on gallium.")) == []
    [m] = match_with([wl], item("Export controls now cover chip tools."))
    assert [r.facet for r in m.reasons] == ["sector", "keyword"]
    assert match_with([{**wl, "require_all": False}], item("A new chip fab opens.")) != []


def test_sections_filter(match_with) -> None:
    wl = {"name": "corp", "companies": ["BYD"], "sections": ["corporate_news"]}
    assert match_with([wl], item("BYD cut prices.", section="policy_news")) == []
    assert match_with([wl], item("BYD cut prices.", section="corporate_news")) != []


def test_many_watchlists_share_terms_and_keep_their_own_entries(match_with) -> None:
    lists = [
        {"name": "a", "companies": ["BYD"]},
        {"name": "b", "companies": ["比亚迪"]},
        {"name": "c", "keywords": ["solid-state"]},
        {"name": "d", "companies": ["NIO"]},
    ]
    matches = match_with(lists, item("BYD tests solid-state batteries."))
    assert [(m.watchlist, m.reasons[0].term) for m in matches] == [
        ("a", "BYD"),
        ("b", "比亚迪"),
        ("c", "solid-state"),
    ]


def test_pdf_spaces_inside_chinese_do_not_hide_terms(match_with) -> None:
    lists = [{"name": "k", "keywords": ["设备更新"]}]
    assert match_with(lists, item("关于工业重点行业领域设备 更新和技术改造指南")) != []


def test_normalize_folds_width_and_squashes_space() -> None:
    assert normalize("ＡＩ\u3000 大 模型\n\nand  5Ｇ") == "AI 大模型 and 5G"


def test_tag_item_fills_sectors_and_companies(taxonomy: Taxonomy) -> None:
    one = item("Xpeng and 蔚来 race to build autonomous driving chips.", section="corporate_news")
    tagged = tag_item(one, taxonomy)
    assert tagged.companies == ["Xpeng", "NIO"]
    assert {"new-energy-vehicles", "semiconductors"} <= set(tagged.sectors)
    assert one.companies == []  # a copy; the input is unchanged


def test_tag_item_reads_notices(taxonomy: Taxonomy) -> None:
    tagged = tag_item(item("A notice."), taxonomy, [notice("推动稀土产业高质量发展")])
    assert tagged.sectors == ["rare-earths"]


def test_hit_in_full_text_is_credited_to_the_field_that_has_it_on_a_boundary(match_with) -> None:
    headline, summary = "Every maker cut prices", "The EV market slowed."
    one = item(f"{headline}\n{summary}", headline=headline, summary=summary)
    [m] = match_with([EV], one)
    assert (m.reasons[0].found, m.reasons[0].field) == ("EV", "summary")
    two = item("Other words. The EV market slowed.", headline="Every maker cut prices")
    [m] = match_with([EV], two)
    assert m.reasons[0].field == "text"


@pytest.mark.parametrize(
    ("headline", "summary", "rest", "found", "field"),
    [
        # a two-word term broken by a line break in the field: found in the normalised field
        ("Prices fell", "Sales of electric\nvehicles rose", "", "electric vehicles", "summary"),
        # a Chinese term is never looked for in an ASCII field, found in the Chinese one
        ("Mining news", "推动稀土产业高质量发展", "", "稀土", "summary"),
        # an ASCII term after Chinese text: offsets converted from UTF-8 to characters
        ("两家公司合作", "两家公司说ＣＡＴＬ将扩产", "", "CATL", "summary"),
        # a plural that only the full text has; the fields have the word mid-word only
        ("EVolution", "Bigger EVsets", "二〇二五年 EVs。", "EVs", "text"),
    ],
)
def test_found_and_field_of_hits_in_the_full_text(
    match_with, headline: str, summary: str, rest: str, found: str, field: str
) -> None:
    lists = [EV, {"name": "re", "sectors": ["rare-earths"]}, CATL]
    one = item(f"{headline}\n{summary}\n{rest}", headline=headline, summary=summary)
    reasons = [r for m in match_with(lists, one) for r in m.reasons]
    assert (found, field) in {(r.found, r.field) for r in reasons}
    for reason in reasons:
        assert reason.found in reason.snippet
        assert reason.found in normalize(one.text)


def test_watchlists_sharing_a_sector_get_the_same_reason(match_with) -> None:
    lists = [EV, {**EV, "name": "ev-too", "keywords": ["battery swap"]}]
    first, second = match_with(lists, item("EV makers expand battery swap stations."))
    assert [r.term for r in second.reasons] == ["new-energy-vehicles", "battery swap"]
    assert first.reasons == second.reasons[:1]
