"""parsers.mail: newsletter e-mails in, the documents of the issue out (no server needed).

The central promise: the same issue by mail and on the web gives the same item ids, whatever
the message's structure, transfer encoding, charset or forwarding.
"""

from __future__ import annotations

import email.policy
from email.message import EmailMessage
from email.mime.image import MIMEImage
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parsers.bodies import BodyIndex
from parsers.errors import ParseError
from parsers.mail import MailMessage, mail_documents
from tests.mail.builders import (
    COLLEAGUE,
    HTML,
    PDF,
    SUBJECT,
    TEXT,
    WHEN,
    document_ids,
    eml_attached,
    fixture_ids,
    forward_attached,
    headers,
    newsletter,
    raw_part,
    single,
)

HTML_NAME, PDF_NAME, TEXT_NAME = "html-2025-03-05.html", "pdf-2025-03-05.pdf", "text-2021-01.md"


def kinds(message: MailMessage) -> list[str]:
    return [doc.kind for doc in message.documents]


def test_html_pdf_and_text_come_in_the_order_to_try_with_the_web_ids(bodies: BodyIndex) -> None:
    msg = newsletter(html=HTML, text=TEXT, pdf=PDF)
    got = mail_documents(msg.as_bytes())
    assert kinds(got) == ["html", "pdf", "text"]
    html, pdf, text = got.documents
    assert document_ids(html, bodies) == fixture_ids(HTML_NAME, bodies)
    assert document_ids(pdf, bodies) == fixture_ids(PDF_NAME, bodies)
    assert document_ids(text, bodies) == fixture_ids(TEXT_NAME, bodies)
    assert pdf.content == PDF
    assert pdf.name == "China-Industries-2025-03.pdf"


def test_headers_are_decoded() -> None:
    msg = newsletter()
    del msg["Subject"]
    msg["Subject"] = "=?gb2312?B?1tC5+g==?= MERICS China Industries"  # 中国
    got = mail_documents(msg.as_bytes())
    assert got.subject == "中国 MERICS China Industries"
    assert got.sender == "MERICS <newsletter@merics.example>"
    assert got.date == WHEN
    assert got.message_id
    assert got.message_id.endswith("@merics.example>")


@pytest.mark.parametrize(
    ("pdf_type", "pdf_name"),
    [
        ("application/pdf", "issue.pdf"),
        ("application/pdf", None),
        ("application/octet-stream", "China Industries März.pdf"),
        ("application/octet-stream", None),  # recognised by its %PDF signature
    ],
)
def test_pdf_attachment_is_found_by_type_name_or_signature(
    pdf_type: str, pdf_name: str | None, bodies: BodyIndex
) -> None:
    msg = newsletter(html=None, text="Please find the issue attached.", pdf=PDF, pdf_type=pdf_type)
    if pdf_name is None:
        del msg.get_payload()[1]["Content-Disposition"]
    else:
        msg.get_payload()[1].replace_header(
            "Content-Disposition", 'attachment; filename="placeholder"'
        )
        msg.get_payload()[1].set_param("filename", pdf_name, header="Content-Disposition")
    got = mail_documents(msg.as_bytes())
    assert kinds(got) == ["pdf", "text"]
    assert got.documents[0].content == PDF
    assert got.documents[0].name == (pdf_name or "attachment.pdf")
    assert document_ids(got.documents[0], bodies) == fixture_ids(PDF_NAME, bodies)


@pytest.mark.parametrize("cte", ["quoted-printable", "base64", "8bit"])
@pytest.mark.parametrize("subtype", ["html", "plain"])
def test_transfer_encodings_give_back_the_same_bytes(cte: str, subtype: str) -> None:
    source = HTML if subtype == "html" else TEXT
    msg = single(raw_part(subtype, source.encode("utf-8"), "utf-8", cte=cte))
    (doc,) = mail_documents(msg.as_bytes()).documents
    assert doc.content.decode("utf-8").strip("\n") == source.strip("\n")


@pytest.mark.parametrize("charset", ["gbk", "gb18030", "utf-8"])
def test_a_declared_charset_is_read_and_re_encoded_as_utf8(charset: str, bodies: BodyIndex) -> None:
    msg = single(raw_part("plain", TEXT.encode(charset), charset))
    (doc,) = mail_documents(msg.as_bytes()).documents
    assert doc.content.decode("utf-8").strip("\n") == TEXT.strip("\n")
    assert document_ids(doc, bodies) == fixture_ids(TEXT_NAME, bodies)


def test_latin1_is_believed_even_where_gb18030_would_also_decode() -> None:
    # "ö" + "r" and "ü" + "l" are valid GBK pairs: detection alone would read Chinese here
    text = "Autoren: Jörg Müller, Renée Faßbender"
    msg = single(raw_part("plain", text.encode("latin-1"), "iso-8859-1"))
    (doc,) = mail_documents(msg.as_bytes()).documents
    assert doc.content.decode("utf-8") == text


@pytest.mark.parametrize(
    ("actual", "declared"),
    [
        ("gbk", "utf-8"),
        ("utf-8", "gbk"),
        ("gbk", "iso-8859-1"),
        ("utf-8", "iso-8859-1"),
        ("gb18030", "us-ascii"),
        ("gbk", "x-unknown-charset"),
    ],
)
def test_a_wrong_declaration_falls_back_to_detection(
    actual: str, declared: str, bodies: BodyIndex
) -> None:
    msg = single(raw_part("plain", TEXT.encode(actual), declared))
    (doc,) = mail_documents(msg.as_bytes()).documents
    assert doc.content.decode("utf-8").strip("\n") == TEXT.strip("\n")
    assert document_ids(doc, bodies) == fixture_ids(TEXT_NAME, bodies)


def test_html_with_a_stale_meta_charset_comes_out_as_utf8(bodies: BodyIndex) -> None:
    html = HTML.replace('<meta charset="utf-8">', '<meta charset="gbk">')
    msg = single(raw_part("html", html.encode("gb18030"), "gb18030"))
    (doc,) = mail_documents(msg.as_bytes()).documents
    assert doc.content.decode("utf-8") == html
    assert document_ids(doc, bodies) == fixture_ids(HTML_NAME, bodies)


def test_forward_as_attachment_puts_the_inner_newsletter_first(bodies: BodyIndex) -> None:
    got = mail_documents(forward_attached(newsletter(html=HTML, pdf=PDF)).as_bytes())
    assert got.subject == "Fwd: " + SUBJECT
    assert got.sender == COLLEAGUE
    assert [(d.kind, d.name) for d in got.documents] == [
        ("html", "forwarded-2/body.html"),
        ("pdf", "forwarded-2/China-Industries-2025-03.pdf"),
        ("text", "body.txt"),  # the colleague's note, tried last
    ]
    assert document_ids(got.documents[0], bodies) == fixture_ids(HTML_NAME, bodies)
    assert document_ids(got.documents[1], bodies) == fixture_ids(PDF_NAME, bodies)


def test_an_attached_eml_file_is_read_as_a_message(bodies: BodyIndex) -> None:
    got = mail_documents(eml_attached(newsletter(html=None, text=TEXT)).as_bytes())
    assert got.documents[0].name == "newsletter.eml/body.txt"
    assert document_ids(got.documents[0], bodies) == fixture_ids(TEXT_NAME, bodies)


def test_a_forward_of_a_forward_is_followed_to_a_bounded_depth(bodies: BodyIndex) -> None:
    twice = forward_attached(forward_attached(newsletter(html=HTML)), note="Passing this on.")
    first = mail_documents(twice.as_bytes()).documents[0]
    assert first.name == "forwarded-2/forwarded-2/body.html"
    assert document_ids(first, bodies) == fixture_ids(HTML_NAME, bodies)
    shallow = mail_documents(twice.as_bytes(), max_depth=1)
    assert [d.name for d in shallow.documents] == ["forwarded-2/body.txt", "body.txt"]
    bare = single(MIMEMessage(newsletter()))  # the forward has no text of its own
    with pytest.raises(ParseError, match="found a message nested deeper than 0 levels"):
        mail_documents(bare.as_bytes(), max_depth=0)


def test_a_message_over_the_cap_is_refused() -> None:
    raw = newsletter(pdf=PDF).as_bytes()
    with pytest.raises(
        ParseError, match=rf"imap:7:42: expected a message of at most 1000 bytes, got {len(raw)}"
    ):
        mail_documents(raw, source="imap:7:42", max_bytes=1000)


def test_a_message_without_a_usable_document_is_a_parse_error() -> None:
    msg = MIMEMultipart("mixed")
    msg.attach(MIMEImage(b"\x89PNG\r\n\x1a\n" + b"\x00" * 32, "png"))
    msg.attach(raw_part("plain", b"  \r\n", "utf-8"))
    headers(msg)
    with pytest.raises(
        ParseError, match="expected an HTML or text body or a PDF attachment, found image/png"
    ):
        mail_documents(msg.as_bytes(), source="imap:1:9")


def test_format_flowed_text_is_joined_back_into_paragraphs() -> None:
    part = raw_part(
        "plain",
        b"The Ministry of Industry published \r\na plan for the industrial \r\ninternet.\r\n\r\nNext.",
        "utf-8",
        cte="7bit",
    )
    part.set_param("format", "flowed")
    (doc,) = mail_documents(single(part).as_bytes()).documents
    assert doc.content.decode() == (
        "The Ministry of Industry published a plan for the industrial internet.\n\nNext."
    )


def test_documents_survive_a_json_round_trip() -> None:
    got = mail_documents(newsletter(pdf=PDF).as_bytes())
    assert MailMessage.model_validate_json(got.model_dump_json()) == got


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=3000), st.integers(min_value=0, max_value=4000))
def test_any_bytes_give_a_message_or_a_parse_error(noise: bytes, cut: int) -> None:
    """Broken input never escapes as another exception (a mailbox holds anything)."""
    real = newsletter(text="Short text.", html="<p>short</p>").as_bytes()
    for raw in (noise, real[:cut] + noise):
        try:
            got = mail_documents(raw)
        except ParseError:
            continue
        assert all(doc.content for doc in got.documents)


def test_a_plain_non_multipart_html_message() -> None:
    msg = EmailMessage(policy=email.policy.SMTP)
    msg.set_content(HTML, subtype="html", charset="utf-8", cte="base64")
    headers(msg)
    assert kinds(mail_documents(msg.as_bytes())) == ["html"]
