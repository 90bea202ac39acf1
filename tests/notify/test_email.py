"""Email through a real SMTP server on loopback (aiosmtpd)."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

from policywatch.channels import send
from policywatch.devtools.mailsink import MailSink
from policywatch.notify import render_alert
from policywatch.settings import DeliverySettings

from .conftest import HOSTILE, ISSUE, entry_of, make_item, write_channels


def _part(msg: EmailMessage, subtype: str) -> str:
    part = msg.get_body((subtype,))
    assert part is not None
    assert part.get_content_charset() == "utf-8"
    return str(part.get_content())


def test_email_headers_parts_chinese_links_and_escaping(tmp_path: Path, sink: MailSink) -> None:
    env = {"SMTP_URL": sink.url(to="analyst@example.org", sender="alerts@example.org")}
    channels = write_channels(tmp_path, "channels:\n  mail:\n    url: ${SMTP_URL}\n", env)
    item = make_item(7, headline=HOSTILE)
    msg = render_alert(entry_of(item, "mail|item-0007|instant"))
    settings = DeliverySettings(sender="policywatch <alerts@example.org>")
    sent_id = send(channels["mail"], msg, settings=settings)

    assert len(sink.received) == 1
    got = sink.received[0]
    mail = got.message
    assert got.rcpt_tos == ["analyst@example.org"]
    assert mail["From"] == "policywatch <alerts@example.org>"
    assert mail["To"] == "analyst@example.org"
    assert mail["Subject"] == msg.subject
    assert "<script>" in mail["Subject"]
    assert mail["Message-ID"] == sent_id == msg.message_id("alerts@example.org")
    assert mail.get_content_type() == "multipart/alternative"

    text, html = _part(mail, "plain"), _part(mail, "html")
    for body in (text, html):
        assert "工业和信息化部关于开展固态电池试点工作的通知（第7号）" in body
        assert "工信部电子〔2024〕107号" in body
        assert "https://www.miit.gov.cn/notice-7.html" in body
        assert ISSUE.url is not None
        assert ISSUE.url in body
    assert '<script>alert("x")</script>' in text  # plain text shows it literally, harmlessly
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "[solid-state]" in text
    assert "<mark>solid-state</mark>" in html


def test_same_alert_sent_twice_keeps_its_message_id(tmp_path: Path, sink: MailSink) -> None:
    channels = write_channels(tmp_path, "channels:\n  mail:\n    url: ${U}\n", {"U": sink.url()})
    entry = entry_of(make_item(1), "mail|i|instant")
    for _ in range(2):
        send(channels["mail"], render_alert(entry))
    ids = {m["Message-ID"] for m in sink.messages}
    assert len(sink.messages) == 2
    assert ids == {render_alert(entry).message_id("alerts@example.org")}  # the From's domain


def test_message_id_domain_is_the_configured_senders(tmp_path: Path, sink: MailSink) -> None:
    channels = write_channels(tmp_path, "channels:\n  mail:\n    url: ${U}\n", {"U": sink.url()})
    msg = render_alert(entry_of(make_item(1), "mail|item-0001|instant"))
    settings = DeliverySettings(sender="Policy desk <desk@alerts.example.net>")
    sent_id = send(channels["mail"], msg, settings=settings)
    mail = sink.messages[0]
    assert mail["Message-ID"] == sent_id
    assert sent_id.endswith("@alerts.example.net>")
    assert mail["From"] == "Policy desk <alerts@example.org>"  # the name; the URL's address
