"""Inline forwards: the colleague's note and the forward header block are cut off, so the
issue parser sees the newsletter exactly as MERICS sent it."""

from __future__ import annotations

import pytest

from parsers.bodies import BodyIndex
from parsers.mail import mail_documents
from parsers.mail_forwards import strip_html_forward, strip_text_forward
from tests.mail.builders import (
    APPLE_TEXT,
    GMAIL_TEXT,
    HTML,
    OUTLOOK_TEXT,
    TEXT,
    THUNDERBIRD_DE_TEXT,
    document_ids,
    fixture_ids,
    gmail_html_forward,
    newsletter,
)

STYLES = {
    "gmail": GMAIL_TEXT,
    "apple": APPLE_TEXT,
    "outlook": OUTLOOK_TEXT,
    "thunderbird-de": THUNDERBIRD_DE_TEXT,
}


@pytest.mark.parametrize("style", sorted(STYLES))
def test_text_forward_gives_back_the_newsletter_exactly(style: str, bodies: BodyIndex) -> None:
    msg = newsletter(html=None, text=STYLES[style] + TEXT, subject="Fwd: China Industries")
    (doc,) = mail_documents(msg.as_bytes()).documents
    assert doc.content.decode("utf-8") == TEXT.strip("\n")
    assert document_ids(doc, bodies) == fixture_ids("text-2021-01.md", bodies)


def test_a_forward_of_a_forward_is_cut_to_the_innermost_newsletter() -> None:
    text = OUTLOOK_TEXT + GMAIL_TEXT + TEXT
    assert strip_text_forward(text).strip("\n") == TEXT.strip("\n")
    assert strip_text_forward(text, max_depth=1).startswith("Have a look")  # the inner note


def test_a_marker_without_a_header_block_is_part_of_the_newsletter() -> None:
    text = "Begin forwarded message:\nsaid nobody in this issue.\n\n" + TEXT
    assert strip_text_forward(text) == text
    quoted = "Our note on -----Original Message----- habits.\nFrom: the editors\n\nBody."
    assert strip_text_forward(quoted) == "Body."  # a From: line right after it: a forward


def test_gmail_html_forward_drops_note_and_headers_keeps_head_and_body(
    bodies: BodyIndex,
) -> None:
    msg = newsletter(html=gmail_html_forward(), subject="Fwd: China Industries")
    (doc,) = mail_documents(msg.as_bytes()).documents
    html = doc.content.decode("utf-8")
    for gone in ("Have a look", "Forwarded message", "gmail_sendername", "mailto:newsletter@"):
        assert gone not in html
    assert 'rel="canonical"' in html  # the <head> stays: the URL and title
    assert "Skip to main content" in html  # the newsletter starts at its first text
    assert document_ids(doc, bodies) == fixture_ids("html-2025-03-05.html", bodies)


def test_html_header_lines_spread_over_blocks_are_recognised() -> None:
    apple = (
        "<html><body><div>See below.</div><div><br><div>Begin forwarded message:</div>"
        "<br><div><span><b>From: </b></span><span>MERICS &lt;news@merics.example&gt;</span></div>"
        "<div><span><b>Subject: </b></span><span><b>China Industries</b></span></div>"
        "<div><span><b>Date: </b></span><span>5 March 2025</span></div><br>"
        "<div><h1>Battery recycling rules</h1><p>First story.</p></div></div></body></html>"
    )
    out = strip_html_forward(apple)
    assert out is not None
    assert "See below" not in out
    assert "Begin forwarded" not in out
    assert "From:" not in out
    assert "<h1>Battery recycling rules</h1><p>First story.</p>" in out


def test_html_without_a_forward_is_left_as_it_was() -> None:
    assert strip_html_forward(HTML) is None
