"""Email over SMTP with two timeouts: a short one before the message, a long one after it.

Every wait before the message is sent (TCP connect, greeting, EHLO, STARTTLS, AUTH, MAIL, RCPT,
DATA) is bounded by ``connect_timeout``: giving up there can never duplicate a message, since
the server has not got it. Sending the message and waiting for the server's reply to its final
``.`` is bounded by ``data_timeout`` (RFC 5321 4.5.3.2.6 asks clients to wait 10 minutes):
a server that stores the message and acknowledges slowly must not be taken for a failure,
or the retry delivers it a second time. Once the server said 250 the message counts as sent,
whatever happens to QUIT.
"""

from __future__ import annotations

import contextlib
import email.policy
import re
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formataddr, formatdate, parseaddr
from typing import Any

from policywatch.errors import ChannelUnreachable, DeliveryError
from policywatch.notify import Message
from policywatch.settings import DeliverySettings

__all__ = ["build_email", "send_email"]

_LEADING_DOT = re.compile(rb"(?m)^\.")
_QUIT_TIMEOUT = 2.0


def send_email(plugin: Any, message: Message, settings: DeliverySettings) -> str:
    """One multipart/alternative email to all of the URL's recipients; returns its Message-ID.

    Raises ChannelUnreachable (no connection, dropped, timed out) or DeliveryError (refused).
    """
    mail = build_email(plugin, message, settings.sender)
    rcpts = [addr for _, addr in plugin.targets] + sorted(plugin.cc) + sorted(plugin.bcc)
    if not rcpts:
        raise DeliveryError("no email recipient in the URL (add ?to=someone@example.org)")
    try:
        smtp = _connect(plugin, settings.connect_timeout)
    except smtplib.SMTPServerDisconnected as exc:
        raise ChannelUnreachable(f"cannot reach the SMTP server: {_why(exc)}") from None
    except smtplib.SMTPException as exc:  # e.g. a 421 greeting (SMTPException is an OSError)
        raise DeliveryError(f"the SMTP server turned us away: {_why(exc)}") from None
    except OSError as exc:
        raise ChannelUnreachable(f"cannot reach the SMTP server: {_why(exc)}") from None
    try:
        refused = _transmit(smtp, plugin, rcpts, mail, settings.data_timeout)
    except smtplib.SMTPServerDisconnected as exc:
        raise ChannelUnreachable(f"SMTP connection lost or timed out: {_why(exc)}") from None
    except smtplib.SMTPException as exc:
        raise DeliveryError(f"the SMTP server refused the message: {_why(exc)}") from None
    except OSError as exc:
        raise ChannelUnreachable(f"SMTP connection lost or timed out: {_why(exc)}") from None
    finally:
        _close(smtp)
    if refused:
        raise DeliveryError(f"the SMTP server refused {len(refused)} recipient(s)")
    return str(mail["Message-ID"])


def _why(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _connect(plugin: Any, timeout: float) -> smtplib.SMTP:
    """Connected and greeted, under the short timeout."""
    smtp: smtplib.SMTP
    if plugin.secure_mode == "ssl":
        smtp = smtplib.SMTP_SSL(timeout=timeout, context=_tls_context(plugin))
    else:
        smtp = smtplib.SMTP(timeout=timeout)
    smtp.connect(plugin.smtp_host, plugin.port)
    return smtp


def _transmit(
    smtp: smtplib.SMTP, plugin: Any, rcpts: list[str], mail: EmailMessage, data_timeout: float
) -> dict[str, tuple[int, bytes]]:
    """smtplib's ``sendmail`` with the socket's timeout raised just before the message goes."""
    smtp.ehlo_or_helo_if_needed()
    if plugin.secure_mode == "starttls":
        smtp.starttls(context=_tls_context(plugin))
        smtp.ehlo()
    if plugin.user and plugin.password:
        smtp.login(plugin.user, plugin.password)
    international = any(not a.isascii() for a in [plugin.from_addr[1], *rcpts])
    if international and not smtp.has_extn("smtputf8"):
        raise smtplib.SMTPNotSupportedError("non-ASCII addresses need SMTPUTF8")
    options = ["SMTPUTF8", "BODY=8BITMIME"] if international else []
    code, reply = smtp.mail(plugin.from_addr[1], options)
    if code != 250:
        raise smtplib.SMTPSenderRefused(code, reply, plugin.from_addr[1])
    refused = {}
    for rcpt in rcpts:
        code, reply = smtp.rcpt(rcpt)
        if code not in (250, 251):
            refused[rcpt] = (code, reply)
    if len(refused) == len(rcpts):
        raise smtplib.SMTPRecipientsRefused(refused)
    _data(smtp, _flatten(mail, bool(options)), data_timeout)
    return refused


def _data(smtp: smtplib.SMTP, payload: bytes, data_timeout: float) -> None:
    """DATA under the short timeout; the message and the reply to it under the long one."""
    smtp.putcmd("data")
    code, reply = smtp.getreply()
    if code != 354:
        raise smtplib.SMTPDataError(code, reply)
    if smtp.sock is not None:
        smtp.sock.settimeout(data_timeout)
    body = _LEADING_DOT.sub(b"..", payload)
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    smtp.send(body + b".\r\n")
    code, reply = smtp.getreply()
    if code != 250:
        raise smtplib.SMTPDataError(code, reply)


def _flatten(mail: EmailMessage, utf8: bool) -> bytes:
    return mail.as_bytes(policy=email.policy.SMTPUTF8 if utf8 else email.policy.SMTP)


def _close(smtp: smtplib.SMTP) -> None:
    """QUIT politely, briefly; the message's fate is already decided."""
    with contextlib.suppress(OSError, smtplib.SMTPException):
        if smtp.sock is not None:
            smtp.sock.settimeout(_QUIT_TIMEOUT)
            smtp.quit()
    smtp.close()


def _tls_context(plugin: Any) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    if not getattr(plugin, "verify_certificate", True):
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def build_email(plugin: Any, message: Message, sender: str | None) -> EmailMessage:
    """The MIME message: From/To from the URL, our Subject and stable Message-ID, two parts.

    The Message-ID's domain is ``sender``'s (``delivery.sender``) when set, else the From
    address's, so it never says ``@localhost`` unless the sender does.
    """
    name, addr = plugin.from_addr
    default_name = parseaddr(sender or "")[0] or "policywatch"
    if not name or name == getattr(plugin, "app_id", None):
        name = default_name
    mail = EmailMessage()
    mail["From"] = formataddr((name, addr))
    mail["To"] = ", ".join(formataddr((n or "", a)) for n, a in plugin.targets)
    if plugin.cc:
        mail["Cc"] = ", ".join(sorted(plugin.cc))
    mail["Subject"] = " ".join(message.subject.split())
    mail["Message-ID"] = message.message_id(sender or addr)
    mail["Date"] = formatdate(localtime=False)
    mail["X-Policywatch-Items"] = str(message.count)
    mail.set_content(message.text, charset="utf-8")
    mail.add_alternative(message.html, subtype="html", charset="utf-8")
    return mail
