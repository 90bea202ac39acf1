"""Newsletter e-mails to issue documents: the bytes of one message in, what to parse out.

Since February 2021 subscribers get MERICS newsletters by e-mail: an HTML body, a PDF
attachment or both, often forwarded by a colleague (as an attached message, an attached
``.eml`` file or inline). ``mail_documents`` finds the documents that may hold the issue and
leaves the choice to the issue parser (``parsers.documents.load_document`` +
``parsers.merics.parse_issue``): the caller tries them in order and keeps the first that parses.

The order, and why:

1. documents of forwarded or attached messages, before the outer message's own: the outer body
   of a forward is the colleague's note, the inner message is the newsletter;
2. HTML bodies: the newsletter as sent, with its block structure and every link (links lead to
   the ministry notices);
3. PDF attachments: the issue as laid out for print; its text is rebuilt from positioned
   fragments, which loses more than HTML does, and a PDF next to an HTML body is usually the
   same issue;
4. plain-text bodies: the least structure (often generated from the HTML, links as footnotes
   or bare URLs), so only when nothing better parses.

HTML and text come out as UTF-8 whatever the part declared; an inline forward's note and
header block are cut off (``parsers.mail_forwards``). Nothing here touches the network.
"""

from __future__ import annotations

import codecs
import datetime as dt
import email
import email.policy
import re
from collections.abc import Iterator
from email.errors import HeaderParseError
from email.header import Header, decode_header
from email.message import Message
from email.utils import parsedate_to_datetime
from functools import cache
from pathlib import PurePosixPath
from typing import Literal

from pydantic import BaseModel, ConfigDict

from parsers.charset import decode, normalise, to_text
from parsers.errors import ParseError
from parsers.limits import MAIL_MAX_BYTES
from parsers.mail_forwards import strip_html_forward, strip_text_forward
from parsers.text import squash

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_DEPTH",
    "MailDocument",
    "MailMessage",
    "decode_mail_text",
    "mail_documents",
]

DEFAULT_MAX_BYTES = MAIL_MAX_BYTES
DEFAULT_MAX_DEPTH = 5  # forwards of forwards of ...; a deeper message is ignored

Kind = Literal["html", "pdf", "text"]
_RANK: dict[Kind, int] = {"html": 0, "pdf": 1, "text": 2}
# Western single-byte text puts accented letters between ASCII ones; four bytes >= 0x80 in a row
# are two Chinese characters in GBK/GB18030 or UTF-8, so a single-byte label on them is wrong.
_MULTIBYTE_RUN = re.compile(rb"[\x80-\xff]{4}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


class MailDocument(BaseModel):
    """One candidate issue document; ``content`` is UTF-8 for html/text, the file for pdf."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, ser_json_bytes="base64", val_json_bytes="base64"
    )

    kind: Kind
    name: str
    content: bytes


class MailMessage(BaseModel):
    """The headers of the message as received (a forward's own, not the newsletter's) and the
    documents in the order to try them (module docstring)."""

    model_config = ConfigDict(extra="forbid")

    subject: str = ""
    sender: str = ""
    date: dt.datetime | None = None
    message_id: str | None = None
    documents: list[MailDocument]


def mail_documents(
    raw: bytes,
    *,
    source: str = "message",
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> MailMessage:
    """Parse one RFC 5322 message; ParseError if it is over ``max_bytes`` or holds no document.

    ``source`` names the message in errors (the mailbox passes its ``imap:...`` key).
    """
    if len(raw) > max_bytes:
        raise ParseError(
            source,
            f"expected a message of at most {max_bytes} bytes, got {len(raw)}",
            hint="raise max_message_bytes in the source's settings if this is a newsletter",
        )
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    walk = _Walk(max_depth)
    documents = walk.message(msg, prefix="", depth=0)
    if not documents:
        seen = ", ".join(dict.fromkeys(walk.skipped)) or "no parts"
        raise ParseError(source, f"expected an HTML or text body or a PDF attachment, found {seen}")
    return MailMessage(
        subject=_header_text(msg["subject"]),
        sender=_header_text(msg["from"]),
        date=_date(msg["date"]),
        message_id=squash(str(msg["message-id"] or "")) or None,
        documents=_unique_names(documents),
    )


# ------------------------------------------------------------------------------------ walking


class _Walk:
    """Collects documents through nested messages, at most ``max_depth`` levels deep."""

    def __init__(self, max_depth: int) -> None:
        self.max_depth = max_depth
        self.skipped: list[str] = []

    def message(self, msg: Message, prefix: str, depth: int) -> list[MailDocument]:
        nested: list[MailDocument] = []
        own: list[MailDocument] = []
        for number, part in enumerate(_leaves(msg), 1):
            inner = _attached_message(part)
            if inner is not None:
                if depth < self.max_depth:
                    name = _filename(part) or f"forwarded-{number}"
                    nested += self.message(inner, f"{prefix}{name}/", depth + 1)
                else:
                    self.skipped.append(f"a message nested deeper than {self.max_depth} levels")
                continue
            document = _document(part, prefix, self.max_depth)
            if document is None:
                self.skipped.append(part.get_content_type())
            else:
                own.append(document)
        return nested + sorted(own, key=lambda d: _RANK[d.kind])


def _leaves(msg: Message) -> Iterator[Message]:
    """The non-multipart parts, an attached message counting as one part (not walked into)."""
    if msg.is_multipart() and msg.get_content_type() != "message/rfc822":
        for part in msg.get_payload():
            if isinstance(part, Message):
                yield from _leaves(part)
    else:
        yield msg


def _attached_message(part: Message) -> Message | None:
    """The message inside a message/rfc822 part or an ``.eml`` attachment, else None."""
    ctype = part.get_content_type()
    if ctype != "message/rfc822" and not (_filename(part) or "").lower().endswith(".eml"):
        return None
    payload = part.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        return payload[0]
    data = part.get_payload(decode=True)  # an .eml file, or a base64-encoded message/rfc822
    if not isinstance(data, bytes) or not data.strip():
        return None
    return email.message_from_bytes(data, policy=email.policy.compat32)


def _document(part: Message, prefix: str, max_depth: int) -> MailDocument | None:
    ctype = part.get_content_type()
    name = _filename(part)
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes) or not data.strip():
        return None
    if _is_pdf(ctype, name, data):
        return MailDocument(kind="pdf", name=prefix + (name or "attachment.pdf"), content=data)
    if ctype not in ("text/html", "text/plain"):
        return None
    text = decode_mail_text(data, part.get_content_charset())
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if ctype == "text/html":
        text = strip_html_forward(text, max_depth=max_depth) or text
        kind: Kind = "html"
    else:
        text = strip_text_forward(_unflow(text, part), max_depth=max_depth).strip("\n")
        kind = "text"
    if not text.strip():
        return None
    default = "body.html" if kind == "html" else "body.txt"
    return MailDocument(kind=kind, name=prefix + (name or default), content=text.encode("utf-8"))


def _is_pdf(ctype: str, name: str | None, data: bytes) -> bool:
    if ctype == "application/pdf" or (name or "").lower().endswith(".pdf"):
        return True
    return ctype == "application/octet-stream" and data[:1024].lstrip().startswith(b"%PDF")


def _unflow(text: str, part: Message) -> str:
    """RFC 3676 format=flowed: a line ending in a space continues on the next line."""
    if str(part.get_param("format") or "").lower() != "flowed":
        return text
    delsp = str(part.get_param("delsp") or "").lower() == "yes"
    out: list[str] = []
    carry = ""
    for line in text.split("\n"):
        line = line[1:] if line.startswith(" ") else line  # space-stuffing
        if line.endswith(" ") and line.rstrip() != "--":
            carry += line[:-1] if delsp else line
            continue
        out.append(carry + line)
        carry = ""
    return "\n".join([*out, carry] if carry else out)


# ----------------------------------------------------------------------------------- charsets


def decode_mail_text(data: bytes, declared: str | None) -> str:
    """A text part's bytes as text: the declared charset when it fits, detection when it lies.

    Mail user agents usually declare the right charset, so a declared one is believed when it
    decodes the bytes, with two exceptions that ``parsers.charset`` settles instead: bytes that
    are valid UTF-8 (a stale GBK or Latin-1 label on UTF-8 text is common), and a single-byte
    label (Latin-1 decodes anything) on bytes that hold runs of multi-byte characters.
    """
    encoding = normalise(declared)
    single = bool(encoding) and _single_byte(encoding or "")
    if single and not _MULTIBYTE_RUN.search(data) and not _is_utf8(data):
        return decode(data, encoding)
    return to_text(data, declared=declared if encoding else None)


@cache
def _single_byte(encoding: str) -> bool:
    try:
        return len(bytes(range(0x80, 0x100)).decode(encoding, errors="replace")) == 0x80
    except LookupError:
        return False


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


# ------------------------------------------------------------------------------------ headers


def _header_text(value: object) -> str:
    """An RFC 2047 header as text; raw 8-bit bytes get the same charset rules as bodies."""
    if value is None:
        return ""
    try:
        chunks = decode_header(value if isinstance(value, Header) else str(value))
    except HeaderParseError:
        return squash(str(value))
    out = []
    for data, charset in chunks:
        if isinstance(data, str):
            out.append(data)
        else:
            label = charset if charset and _known(charset) else None
            out.append(decode_mail_text(data, label))
    return squash(_CONTROL.sub(" ", "".join(out)))


def _known(label: str) -> bool:
    try:
        codecs.lookup(label)
    except LookupError:
        return False
    return True


def _date(value: object) -> dt.datetime | None:
    if value is None:
        return None
    try:
        return parsedate_to_datetime(str(value))
    except (TypeError, ValueError, IndexError):
        return None


def _filename(part: Message) -> str | None:
    """The attachment's file name, decoded, without any folder part, or None."""
    try:
        raw = part.get_filename()
    except (HeaderParseError, LookupError, UnicodeError, ValueError):
        return None
    if not raw:
        return None
    name = PurePosixPath(_header_text(raw).replace("\\", "/")).name.strip()
    return name[:120] or None


def _unique_names(documents: list[MailDocument]) -> list[MailDocument]:
    """``body.html``, ``body-2.html``: a name says which document an error is about."""
    seen: set[str] = set()
    out = []
    for doc in documents:
        name, n = doc.name, 1
        while name in seen:
            n += 1
            stem, dot, ext = doc.name.rpartition(".")
            name = f"{stem}-{n}.{ext}" if dot else f"{doc.name}-{n}"
        seen.add(name)
        out.append(doc if name == doc.name else doc.model_copy(update={"name": name}))
    return out
