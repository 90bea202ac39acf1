"""A real SMTP server on 127.0.0.1 that keeps every message it receives (tests and the demo).

``with MailSink() as sink: ... sink.messages`` gives parsed ``EmailMessage`` objects. The sink
can be stopped and started again on the same port (an SMTP outage), and ``refuse_next(n)``
answers the next ``n`` messages with a temporary failure (451). aiosmtpd is a test extra, so it
is imported only when a sink is created.
"""

from __future__ import annotations

import email
import email.policy
import socket
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from types import TracebackType
from typing import Any
from urllib.parse import quote


@dataclass
class Received:
    """One accepted message: the envelope and the parsed MIME message."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    raw: bytes = field(repr=False)


class _Handler:
    def __init__(self, sink: MailSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return self.sink._accept(envelope)


class MailSink:
    """A loopback SMTP server collecting messages; ``url()`` gives an apprise ``mailto://`` URL."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port or _free_port(host)
        self.received: list[Received] = []
        self._refuse = 0
        self._lock = threading.Lock()
        self._controller: Any = None

    @property
    def messages(self) -> list[EmailMessage]:
        with self._lock:
            return [r.message for r in self.received]

    def url(self, to: str = "analyst@example.org", sender: str = "alerts@example.org") -> str:
        """An apprise URL that sends to this sink in plain SMTP (no TLS on loopback)."""
        return f"mailto://{self.host}:{self.port}?to={quote(to)}&from={quote(sender)}&mode=insecure"

    def refuse_next(self, count: int = 1) -> None:
        with self._lock:
            self._refuse = count

    def clear(self) -> None:
        with self._lock:
            self.received.clear()

    def start(self) -> MailSink:
        from aiosmtpd.controller import Controller

        self._controller = Controller(
            _Handler(self), hostname=self.host, port=self.port, enable_SMTPUTF8=True
        )
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> MailSink:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _accept(self, envelope: Any) -> str:
        with self._lock:
            if self._refuse > 0:
                self._refuse -= 1
                return "451 4.3.0 try again later"
            raw = bytes(envelope.original_content or envelope.content)
            parsed = email.message_from_bytes(raw, policy=email.policy.default)
            assert isinstance(parsed, EmailMessage)
            self.received.append(
                Received(
                    mail_from=str(envelope.mail_from),
                    rcpt_tos=[str(r) for r in envelope.rcpt_tos],
                    message=parsed,
                    raw=raw,
                )
            )
        return "250 OK"


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])
