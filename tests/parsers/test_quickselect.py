"""The page index answers the site selectors exactly as soupsieve does (same elements, same
order), on every fixture page, on subtrees, on generated pages, and after elements are removed."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import soupsieve
from bs4 import BeautifulSoup, Tag
from hypothesis import given, settings
from hypothesis import strategies as st

from parsers.notices import PARSERS, cac, generic, govcn, mee, miit, mof, mofcom, ndrc, nea, samr
from parsers.notices.common import NOISE_SELECTORS
from parsers.notices.quickselect import Compound, PageIndex, parse_selector

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
PAGES = sorted(p for p in FIXTURES.rglob("*") if p.suffix in {".html", ".htm", ".shtml"})
SITE_SELECTORS = sorted(
    {
        selector
        for module in (cac, generic, govcn, mee, miit, mof, mofcom, ndrc, nea, samr)
        for group in module.SELECTORS.values()
        for selector in group
    }
    | set(NOISE_SELECTORS)
    | {marker for parser in PARSERS.values() for marker in parser.markers}
)
# Not simple: answered by soupsieve through the same call.
OTHERS = ["div > p", "a[href]", "p:first-child", "div, span", "*", "td + td"]


def _soup(html: str | bytes) -> BeautifulSoup:
    return BeautifulSoup(html, "lxml")


def _same(found: list[Tag], expected: list[Tag]) -> bool:
    return len(found) == len(expected) and all(a is b for a, b in zip(found, expected, strict=True))


def test_the_fixture_pages_and_the_site_selectors_exist() -> None:
    assert len(PAGES) >= 20
    assert "div.article h1" in SITE_SELECTORS
    assert "#UCAP-CONTENT" in SITE_SELECTORS


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_every_site_selector_on_every_fixture_page(page: Path) -> None:
    soup = _soup(page.read_bytes())
    index = PageIndex(soup)
    for selector in [*SITE_SELECTORS, *OTHERS]:
        expected = soupsieve.select(selector, soup)
        assert _same(list(index.select(selector)), expected), selector
    for body in soup.find_all(["div", "td"])[:12]:  # subtrees: ancestors may lie above them
        sub = PageIndex(body)
        for selector in SITE_SELECTORS:
            assert _same(list(sub.select(selector)), soupsieve.select(selector, body)), selector


def test_simple_selectors_are_parsed_and_the_rest_left_to_soupsieve() -> None:
    assert parse_selector("div.article h1") == (
        Compound("div", None, ("article",)),
        Compound("h1", None, ()),
    )
    assert parse_selector("h1#con_title.a.b") == (Compound("h1", "con_title", ("a", "b")),)
    for other in [*OTHERS, "#a#b", "DIV", "", ".1x"]:
        assert parse_selector(other) is None, other


def test_removed_elements_are_not_found() -> None:
    soup = _soup(
        "<div class='page'><header><h1>Site</h1><b class='share' id='s'>y</b></header>"
        "<div class='article'><h1>Notice</h1><p class='share'>x</p></div></div>"
    )
    index = PageIndex(soup)
    soup.header.decompose()
    soup.find("p", class_="share").extract()
    assert [t.get_text() for t in index.select("h1")] == ["Notice"]
    assert list(index.select(".share")) == []
    assert list(index.select("#s")) == []
    assert index.named(("h1", "b")) == [soup.find("h1")]
    assert [t.get_text() for t in index.select("div.page h1")] == ["Notice"]


TAGS = ["div", "p", "span", "h1", "td"]
NAMES = ["a", "b", "c"]


@st.composite
def trees(draw: st.DrawFn, depth: int = 0) -> str:
    children = draw(st.lists(st.just(None), max_size=3 if depth < 4 else 0))
    tag = draw(st.sampled_from(TAGS))
    attrs = ""
    if draw(st.booleans()):
        attrs += (
            f' class="{" ".join(draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=2)))}"'
        )
    if draw(st.booleans()):
        attrs += f' id="{draw(st.sampled_from(NAMES))}"'
    inner = "".join(draw(trees(depth + 1)) for _ in children) or "t"
    return f"<{tag}{attrs}>{inner}</{tag}>"


COMPOUNDS = [
    "".join(parts)
    for parts in itertools.product(["", *TAGS], ["", "#a", "#b"], ["", ".a", ".b", ".a.c"])
    if any(parts)
]


@settings(max_examples=150, deadline=None)
@given(
    html=st.lists(trees(), min_size=1, max_size=3).map("".join),
    chain=st.lists(st.sampled_from(COMPOUNDS), min_size=1, max_size=3).map(" ".join),
)
def test_generated_pages_agree_with_soupsieve(html: str, chain: str) -> None:
    soup = _soup(f"<html><body>{html}</body></html>")
    assert _same(list(PageIndex(soup).select(chain)), soupsieve.select(chain, soup))
    first = soup.body.find(True)
    if first is not None:
        assert _same(list(PageIndex(first).select(chain)), soupsieve.select(chain, first))
