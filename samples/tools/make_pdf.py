"""Render the February demo issue as the PDF edition the page links to.

Run from the project root after editing the HTML page:
    .venv/bin/python samples/tools/make_pdf.py
The PDF is committed, so the demo and the tests never need reportlab at run time.
"""

from __future__ import annotations

from pathlib import Path

from bs4 import BeautifulSoup
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

SITE = Path(__file__).resolve().parent.parent / "site" / "merics.org"
PAGE = SITE / "en/merics-briefs/battery-passports-industrial-robots-rare-earth-tracing.html"
PDF = SITE / "sites/default/files/2026-02/merics-china-industries-2026-02-04.pdf"


def blocks(html: str) -> list[tuple[str, str]]:
    """(style, text) for the PDF edition: series label, title, then the body's blocks in order."""
    soup = BeautifulSoup(html, "lxml")
    out = [("Title", "MERICS China Industries"), ("Heading1", soup.h1.get_text(" ", strip=True))]
    body = soup.select_one(".field--name-body")
    assert body is not None
    for el in body.find_all(["h2", "h3", "p", "li"]):
        text = el.get_text(" ", strip=True)
        style = {"h2": "Heading2", "h3": "Heading3"}.get(el.name, "BodyText")
        out.append((style, ("- " + text) if el.name == "li" else text))
    return out


def main() -> None:
    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    styles = getSampleStyleSheet()
    for style in styles.byName.values():
        style.fontName = "STSong-Light"  # one font with CJK glyphs for the Chinese titles
    story = []
    for style, text in blocks(PAGE.read_text(encoding="utf-8")):
        story += [
            Paragraph(text.replace("&", "&amp;").replace("<", "&lt;"), styles[style]),
            Spacer(1, 4),
        ]
    PDF.parent.mkdir(parents=True, exist_ok=True)
    doc = SimpleDocTemplate(str(PDF), pagesize=A4, title="MERICS China Industries", author="MERICS")
    doc.build(story)


if __name__ == "__main__":
    main()
