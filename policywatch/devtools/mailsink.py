"""A real SMTP server on 127.0.0.1 that keeps every message it receives (tests and the demo).

``with MailSink() as sink: ... sink.messages`` gives parsed ``EmailMessage`` objects. The sink
can be stopped and started again on the same port (an SMTP outage). Fault modes, each for the
next ``n`` messages: ``refuse_next`` answers a temporary failure (451); ``slow_ack`` stores the
message, then answers 250 only after a delay (a slow server: a client that gives up too early
sends it twice); ``drop_next`` closes the connection after the message's data, without storing
it and without answering. ``SilentServer`` accepts TCP connections and never says a word (a
black-holed server). aiosmtpd is a test extra, so it is imported only when a sink is created.
"""

from __future__ import annotations

import asyncio
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
        if self.sink._take("drop"):
            server.transport.close()  # mid-DATA: the data was sent, no reply will ever come
            return "421 4.4.2 connection dropped"
        delay = self.sink.ack_delay if self.sink._take("slow") else 0.0
        reply = self.sink._accept(envelope)
        if delay:
            await asyncio.sleep(delay)
        return reply


class MailSink:
    """A loopback SMTP server collecting messages; ``url()`` gives an apprise ``mailto://`` URL."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port or _free_port(host)
        self.received: list[Received] = []
        self.ack_delay = 0.0
        self._faults = {"refuse": 0, "slow": 0, "drop": 0}
        self._lock = threading.Lock()
        self._controller: Any = None

    @property
    def messages(self) -> list[EmailMessage]:
        with self._lock:
            return [r.message for r in self.received]

    def url(self, to: str = "analyst@example.org", sender: str = "alerts@example.org") -> str:
        """An apprise URL that sends to this sink in plain SMTP (no TLS on loopback)."""
        return f"mailto://{self.host}:{self.port}?to={quote(to)}&from={quote(sender)}&mode=insecure"

    @property
    def message_ids(self) -> list[str]:
        """The Message-ID of every stored message, in arrival order (duplicates kept)."""
        return [str(m["Message-ID"]) for m in self.messages]

    def refuse_next(self, count: int = 1) -> None:
        with self._lock:
            self._faults["refuse"] = count

    def slow_ack(self, delay: float, count: int = 1) -> None:
        """Store the next ``count`` messages at once, but say 250 only ``delay`` seconds later."""
        with self._lock:
            self.ack_delay, self._faults["slow"] = delay, count

    def drop_next(self, count: int = 1) -> None:
        """Close the connection after the next ``count`` messages' data, storing nothing."""
        with self._lock:
            self._faults["drop"] = count

    def _take(self, fault: str) -> bool:
        with self._lock:
            if self._faults[fault] <= 0:
                return False
            self._faults[fault] -= 1
            return True

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
        if self._take("refuse"):
            return "451 4.3.0 try again later"
        with self._lock:
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


class SilentServer:
    """Accepts TCP connections on 127.0.0.1 and never answers: a black-holed SMTP server.

    ``connections`` counts the connections accepted (each one a delivery attempt).
    """

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self._sock = socket.create_server((host, 0))
        self._sock.settimeout(0.05)
        self.port = int(self._sock.getsockname()[1])
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def connections(self) -> int:
        return len(self._held)

    def url(self, to: str = "analyst@example.org", sender: str = "alerts@example.org") -> str:
        return f"mailto://{self.host}:{self.port}?to={quote(to)}&from={quote(sender)}&mode=insecure"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            self._held.append(conn)

    def __enter__(self) -> SilentServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for conn in self._held:
            conn.close()
        self._sock.close()


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])
