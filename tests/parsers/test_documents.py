"""Documents layer: format sniffing, page furniture, links with context, clean errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from parsers.documents import load_document, text_to_document
from parsers.errors import ParseError
from parsers.merics_lines import clean_line, heading, is_toc_entry


def test_html_page_drops_furniture_and_keeps_links(fixtures: Path) -> None:
    doc = load_document((fixtures / "html-2025-03-05.html").read_bytes(), "page.html")
    assert doc.kind == "html"
    assert doc.series == "MERICS China Industries"
    assert doc.authors == ["Jane Doe", "Li Wei"]
    assert str(doc.published) == "2025-03-05"
    for furniture in ("We use cookies", "Older issue", "Imprint", "Newsletter"):
        assert furniture not in doc.text
    assert "- Raise the recovery rate of lithium to 90 percent" in doc.text.split("\n")
    link = next(lk for lk in doc.links if lk.text == "their own funds")
    assert link.url == "https://merics.org/en/comment/humanoid-robots-local-funds"
    assert link.context.startswith("MERICS comment: Local governments")


def test_pdf_links_and_running_headers(fixtures: Path) -> None:
    doc = load_document((fixtures / "pdf-2025-03-05.pdf").read_bytes(), "issue.pdf")
    assert doc.kind == "pdf"
    assert "MERICS China Industries | March 2025" not in doc.text
    urls = [lk.url for lk in doc.links]
    assert "https://www.ndrc.gov.cn/xxgk/zcfb/tz/202501/t20250110_1395000.html" in urls
    assert any(lk.text == "Link" and "gov.cn/zhengce" in lk.url for lk in doc.links)


def test_markdown_reduced_to_text_and_links() -> None:
    doc = text_to_document(
        "**Bold** and *italic* and <u>under</u> ([Link](https://www.gov.cn/a.htm))", "a.md"
    )
    assert doc.text == "Bold and italic and under (Link)"
    assert [(lk.text, lk.url) for lk in doc.links] == [("Link", "https://www.gov.cn/a.htm")]


@pytest.mark.parametrize(
    ("data", "name", "expected"),
    [
        (b"", "empty.html", "empty"),
        (b"%PDF-1.7\nnot really a pdf", "x.pdf", "readable PDF"),
        (b"plain text", "x.pdf", "start with %PDF"),
        (b"\x00\x01\x02binary", "x.bin", "binary"),
        (b"<html><body><nav>menu</nav></body></html>", "x.html", "no article body"),
    ],
)
def test_bad_input_is_a_parse_error_naming_the_source(
    data: bytes, name: str, expected: str
) -> None:
    with pytest.raises(ParseError) as info:
        load_document(data, name)
    assert name in str(info.value)
    assert expected in str(info.value)


def test_pdf_extraction_damage_is_undone() -> None:
    assert clean_line("З. A vision for 2027").text == "3. A vision for 2027"
    bullet = clean_line("\uf0b7 Achieve a digital rate")
    assert (bullet.text, bullet.bullet) == ("Achieve a digital rate", True)
    assert heading("Poli\tcy news") == "policy_news"
    assert heading("Corp\tporate news") == "corporate_news"
    assert is_toc_entry("2.\tChina promotes more equipment renewal\t3")
    assert not is_toc_entry("A vision for 2027")


def test_wrapped_pdf_lines_join_words() -> None:
    from parsers.documents_pdf import _join

    assert _join("digital trans-", "formation of industry") == "digital transformation of industry"
    assert _join("an AI-", "driven chip") == "an AI-driven chip"
    assert _join("carbon", "footprint") == "carbon footprint"


def test_ordered_lists_keep_their_numbers_and_bullets_their_dash() -> None:
    from parsers.documents import html_to_document

    page = (
        "<html><body><article><ol start='2'><li><h3>Second story</h3></li><li>Third</li></ol>"
        "<ul><li><p>a goal</p></li><li></li></ul><p>after</p></article></body></html>"
    )
    lines = html_to_document(page, "x.html").text.split("\n\n")
    assert lines == ["2. Second story", "3. Third", "- a goal", "after"]
