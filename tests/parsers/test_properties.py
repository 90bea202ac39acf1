"""Property tests: only ParseError on junk, ids stable under whitespace, items keep their text."""

from __future__ import annotations

import contextlib
import re

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from parsers.bodies import BodyIndex
from parsers.documents import load_document, text_to_document
from parsers.errors import ParseError
from parsers.merics import parse_issue

BODIES = BodyIndex.load()
ISSUE = """MERICS China Industries

MERICS TOP 5

1. {headline}

At a glance: {summary}

- {goal}

MERICS comment: {comment}

Article: Notice on Things (关于事项的通知) (Link) Issuing body: MIIT Date: May 4, 2024

NOTEWORTHY

Policy news

- May 8: {news} (MIIT notice)

MERICS China Industries June 1, 2024 (Reporting period: April 20 – May 25)
"""
words = st.text(alphabet="abcdefghij klmnopqrstuvwxyz", min_size=3, max_size=40).filter(
    lambda s: len(s.split()) >= 1 and ":" not in s
)
sentence = st.builds(lambda w: "Word " + w.strip(), words)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.text(max_size=400))
def test_arbitrary_text_raises_only_parse_error(text: str) -> None:
    try:
        doc = text_to_document(text, "junk.txt")
        parse_issue(doc, BODIES)
    except ParseError:
        pass


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_parse_error(data: bytes) -> None:
    with contextlib.suppress(ParseError):
        parse_issue(load_document(data, "junk.bin"), BODIES)


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=200))
def test_broken_pdf_raises_parse_error(data: bytes) -> None:
    with contextlib.suppress(ParseError):
        load_document(b"%PDF-1.4\n" + data, "broken.pdf")


def _issue(h: str, s: str, g: str, c: str, n: str) -> str:
    return ISSUE.format(headline=h, summary=s, goal=g, comment=c, news=n)


@settings(max_examples=60, deadline=None)
@given(sentence, sentence, sentence, sentence, sentence, st.sampled_from([" ", "  ", "\t"]))
@example("Word mericsto", "Word a", "Word a", "Word a", "Word a", " ")  # near "MERICS Top 5"
def test_ids_ignore_whitespace(h: str, s: str, g: str, c: str, n: str, gap: str) -> None:
    text = _issue(h, s, g, c, n)
    spaced = re.sub(r"(?<=\w) (?=\w)", gap, text).replace("\n\n", "\n\n\n")
    ids = [i.id for i in parse_issue(text_to_document(text, "a.txt"), BODIES).items]
    again = [i.id for i in parse_issue(text_to_document(spaced, "b.txt"), BODIES).items]
    assert ids == again
    assert len(set(ids)) == len(ids) == 2
    # line breaks inside the headline and the news entry, as in text copied from a PDF
    wrapped = _issue(h.replace(" ", "\n", 1), s, g, c, n.replace(" ", "\n", 1))
    assert [i.id for i in parse_issue(text_to_document(wrapped, "c.txt"), BODIES).items] == ids


@settings(max_examples=60, deadline=None)
@given(sentence, sentence, sentence, sentence, sentence)
def test_every_item_keeps_its_text(h: str, s: str, g: str, c: str, n: str) -> None:
    issue = parse_issue(text_to_document(_issue(h, s, g, c, n), "a.txt"), BODIES)
    top, news = issue.items
    squashed = " ".join(top.text.split())
    for part in (h, s, g, c):
        assert " ".join(part.split()) in squashed
    assert " ".join(n.split()) in " ".join(news.text.split())
    assert top.goals == [" ".join(g.split())]
