"""Newsletter e-mails built with the email package from the synthetic issue fixtures.

The bodies and attachments are the project's own synthetic fixtures (tests/fixtures/merics), so
an issue read from a message can be compared with the same file parsed directly.
"""

from __future__ import annotations

import datetime as dt
import email.policy
from email import encoders
from email.message import EmailMessage, Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.utils import format_datetime, make_msgid
from pathlib import Path

from parsers.bodies import BodyIndex
from parsers.documents import load_document
from parsers.mail import MailDocument
from parsers.merics import parse_issue

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "merics"
HTML = (FIXTURES / "html-2025-03-05.html").read_text("utf-8")
PDF = (FIXTURES / "pdf-2025-03-05.pdf").read_bytes()
TEXT = (FIXTURES / "text-2021-01.md").read_text("utf-8")
MERICS = "MERICS <newsletter@merics.example>"
COLLEAGUE = "Ana Colleague <ana@firm.example>"
SUBJECT = "MERICS China Industries | March 2025"
WHEN = dt.datetime(2025, 3, 5, 9, 30, tzinfo=dt.UTC)


def fixture_ids(name: str, bodies: BodyIndex) -> list[str]:
    path = FIXTURES / name
    return [item.id for item in parse_issue(load_document(path.read_bytes(), name), bodies).items]


def document_ids(doc: MailDocument, bodies: BodyIndex) -> list[str]:
    """What the pipeline does with a document: load it as its kind, parse the issue."""
    parsed = parse_issue(load_document(doc.content, doc.name, kind=doc.kind), bodies)
    return [item.id for item in parsed.items]


def headers(msg: Message, *, subject: str = SUBJECT, sender: str = MERICS) -> Message:
    msg["Subject"] = subject
    msg["From"] = sender
    msg["To"] = "reader@firm.example"
    msg["Date"] = format_datetime(WHEN)
    msg["Message-ID"] = make_msgid(domain="merics.example")
    return msg


def newsletter(
    *,
    html: str | None = HTML,
    text: str | None = None,
    pdf: bytes | None = None,
    pdf_name: str | None = "China-Industries-2025-03.pdf",
    pdf_type: str = "application/pdf",
    subject: str = SUBJECT,
    sender: str = MERICS,
) -> EmailMessage:
    """A newsletter as MERICS sends it: text and/or HTML alternatives, an optional PDF."""
    msg = EmailMessage(policy=email.policy.SMTP)
    if text is not None:
        msg.set_content(text, subtype="plain", cte="quoted-printable")
    if html is not None:
        if text is None:
            msg.set_content(html, subtype="html", cte="quoted-printable")
        else:
            msg.add_alternative(html, subtype="html", cte="quoted-printable")
    if pdf is not None:
        maintype, subtype = pdf_type.split("/")
        msg.add_attachment(pdf, maintype=maintype, subtype=subtype, filename=pdf_name)
    headers(msg, subject=subject, sender=sender)
    return msg


def raw_part(subtype: str, data: bytes, declared: str | None, *, cte: str = "base64") -> MIMEBase:
    """A text part whose bytes and declared charset are chosen freely (they may disagree)."""
    part = MIMEBase("text", subtype)
    if declared:
        part.set_param("charset", declared)
    part.set_payload(data)
    if cte == "base64":
        encoders.encode_base64(part)
    elif cte == "quoted-printable":
        encoders.encode_quopri(part)
    else:
        part["Content-Transfer-Encoding"] = cte
    return part


def single(part: Message, *, subject: str = SUBJECT) -> Message:
    """A message whose whole body is ``part``."""
    msg = MIMEMultipart("mixed")
    msg.attach(part)
    return headers(msg, subject=subject)


def forward_attached(inner: Message, *, note: str = "FYI, the new issue.") -> EmailMessage:
    """A colleague's forward "as attachment": a note and a message/rfc822 part."""
    msg = EmailMessage(policy=email.policy.SMTP)
    msg.set_content(note)
    msg.add_attachment(inner)  # message/rfc822
    headers(msg, subject="Fwd: " + str(inner["Subject"]), sender=COLLEAGUE)
    return msg


def eml_attached(inner: Message, name: str = "newsletter.eml") -> EmailMessage:
    """A saved ``.eml`` file attached as application/octet-stream."""
    msg = EmailMessage(policy=email.policy.SMTP)
    msg.set_content("The saved newsletter is attached.")
    msg.add_attachment(
        inner.as_bytes(), maintype="application", subtype="octet-stream", filename=name
    )
    headers(msg, subject="Saved: China Industries", sender=COLLEAGUE)
    return msg


GMAIL_TEXT = """\
Have a look at the part on batteries.

---------- Forwarded message ---------
From: MERICS <newsletter@merics.example>
Date: Wed, Mar 5, 2025 at 10:30 AM
Subject: MERICS China Industries | March 2025
To: <ana@firm.example>


"""
APPLE_TEXT = """\
See below.

Begin forwarded message:

From: MERICS <newsletter@merics.example>
Subject: MERICS China Industries | March 2025
Date: 5 March 2025 at 10:30:00 CET
To: ana@firm.example,
 team@firm.example

"""
OUTLOOK_TEXT = """\
FYI

-----Original Message-----
From: MERICS <newsletter@merics.example>
Sent: Wednesday, March 5, 2025 10:30 AM
To: Ana Colleague <ana@firm.example>
Subject: MERICS China Industries | March 2025

"""
THUNDERBIRD_DE_TEXT = """\
Zur Info, die neue Ausgabe.

-------- Weitergeleitete Nachricht --------
Betreff: MERICS China Industries | March 2025
Datum: Wed, 5 Mar 2025 10:30:00 +0100
Von: MERICS <newsletter@merics.example>
An: ana@firm.example

"""
GMAIL_HTML_HEAD = """\
<div dir="ltr">Have a look at the part on batteries.<br><br>
<div class="gmail_quote"><div dir="ltr" class="gmail_attr">---------- Forwarded message ---------<br>
From: <strong class="gmail_sendername" dir="auto">MERICS</strong> <span dir="auto">&lt;<a href="mailto:newsletter@merics.example">newsletter@merics.example</a>&gt;</span><br>
Date: Wed, Mar 5, 2025 at 10:30 AM<br>Subject: MERICS China Industries | March 2025<br>
To: &lt;<a href="mailto:ana@firm.example">ana@firm.example</a>&gt;<br></div><br><br>
"""


def gmail_html_forward(html: str = HTML) -> str:
    """The newsletter's HTML as Gmail forwards it inline: note and header block inside
    ``<body>``, the original body after them."""
    head, _, rest = html.partition("<body")
    tag_end = rest.index(">") + 1
    body = rest[tag_end:].replace("</body>", "</div></div></body>")
    return f"{head}<body{rest[:tag_end]}{GMAIL_HTML_HEAD}{body}"
