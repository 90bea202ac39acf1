"""Documents layer: format sniffing, page furniture, links with context, clean errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from parsers.documents import load_document, text_to_document
from parsers.errors import ParseError
from parsers.merics_lines import clean_line, heading, is_toc_entry
from policywatch.devtools.bombs import pdf_bomb


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
    from parsers.text import join_wrapped as _join

    assert _join("digital trans-", "formation of industry") == "digital transformation of industry"
    assert _join("an AI-", "driven chip") == "an AI-driven chip"
    assert _join("carbon", "footprint") == "carbon footprint"
    assert _join("a low-", "carbon plan") == "a low-carbon plan"
    assert _join("state-", "owned firms") == "state-owned firms"
    assert _join("data-", "driven") == "data-driven"
    assert _join("the develop-", "ment plan") == "the development plan"


def test_pdf_line_break_hyphens_follow_the_document() -> None:
    """A real PDF: the document's own spelling elsewhere decides whether a hyphen at a line end
    is part of the word ("low-carbon", "cross-sectoral") or a syllable break ("transformation",
    "lowland")."""
    import io

    from reportlab.pdfgen.canvas import Canvas

    buf = io.BytesIO()
    canvas = Canvas(buf)
    lines = [
        "MERICS China Industries: low-carbon and cross-sectoral plans; lowland farms.",
        "The plan backs low-",
        "carbon steel and cross-",
        "sectoral pilots on low-",
        "land farms, with a trans-",
        "formation fund.",
    ]
    for n, line in enumerate(lines):
        canvas.drawString(72, 760 - 14 * n - (20 if n else 0), line)
    canvas.save()
    doc = load_document(buf.getvalue(), "hyphens.pdf")
    text = doc.text
    assert doc.title is None  # the producer's placeholder title is not the title
    assert "The plan backs low-carbon steel and cross-sectoral pilots on lowland farms, " in text
    assert "with a transformation fund." in text


def test_ordered_lists_keep_their_numbers_and_bullets_their_dash() -> None:
    from parsers.documents import html_to_document

    page = (
        "<html><body><article><ol start='2'><li><h3>Second story</h3></li><li>Third</li></ol>"
        "<ul><li><p>a goal</p></li><li></li></ul><p>after</p></article></body></html>"
    )
    lines = html_to_document(page, "x.html").text.split("\n\n")
    assert lines == ["2. Second story", "3. Third", "- a goal", "after"]


@pytest.mark.parametrize(
    ("meta", "title"),
    [
        ("(anonymous)", None),
        ("Microsoft Word - CI_2025_03.docx", None),
        ("MERICS China Industries March 2025", "MERICS China Industries March 2025"),
    ],
)
def test_pdf_title_skips_producer_placeholders(meta: str, title: str | None) -> None:
    import io

    from reportlab.pdfgen.canvas import Canvas

    buf = io.BytesIO()
    canvas = Canvas(buf)
    canvas.setTitle(meta)
    canvas.drawString(72, 760, "MERICS China Industries")
    canvas.save()
    assert load_document(buf.getvalue(), "t.pdf").title == title


def test_a_pdf_bomb_is_named_not_taken_for_a_scanned_page() -> None:
    """pypdf's text extraction stops at its decompression limit and returns no text; the parser
    names the cause instead of 'found no text (scanned?)'."""
    with pytest.raises(ParseError, match=r"pypdf's decompression limit \(a compression bomb\?\)"):
        load_document(pdf_bomb(200), "bomb.pdf")
