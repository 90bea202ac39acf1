"""A small threaded HTTP server on 127.0.0.1 for tests, the demo and benchmarks.

Serves a folder of static files (with ETag/Last-Modified/304) plus custom routes, counts and
logs every request, and can inject latency. Dependency-free on purpose: ``http.server`` and
``threading`` only, so it behaves like a real remote site (real sockets, real keep-alive).

Static files:
- ``/a/b`` is looked up as ``a/b``, ``a/b.html`` then ``a/b/index.html``;
- ``x.html`` is served as ``text/html; charset=utf-8``; ``x.gbk.html`` (any ``.<label>.html``)
  as plain ``text/html`` with its bytes untouched, so the client has to detect the charset;
- ``x.headers.json`` next to ``x`` overrides headers (``{"Content-Type": ...}``) and may set
  ``"status"``;
- in text files ``{{base}}`` is replaced by the server's base URL (``http://127.0.0.1:PORT``).

Routes: ``server.routes["/path"] = handler`` (GET, HEAD and POST, whose body is
``request.body``); a handler takes a :class:`Request` and returns a
:class:`Reply` (or ``(status, headers, body)``); ``body`` may be bytes or an iterable of bytes
(streamed, connection closed afterwards). Raise :class:`ResetConnection` to send a TCP reset.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from urllib.parse import parse_qs, unquote, urlsplit

__all__ = ["LoopbackServer", "Reply", "Request", "ResetConnection"]

Body = bytes | Iterable[bytes]
Handler = Callable[["Request"], "Reply | tuple[int, dict[str, str], Body]"]

_TEXT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".xml": "application/rss+xml; charset=utf-8",
    ".rss": "application/rss+xml; charset=utf-8",
    ".json": "application/json",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/markdown; charset=utf-8",
}


class ResetConnection(Exception):
    """Raised by a route handler to abort the connection with a TCP RST."""


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    client_port: int
    started: float = field(default_factory=time.monotonic)
    body: bytes = b""
    finished: float | None = None  # when its last byte was written

    @property
    def host(self) -> str:
        """The mapped host: the first path segment under the host map (``/www.gov.cn/...``)."""
        return self.path.lstrip("/").split("/", 1)[0]


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: Body = b""
    delay: float = 0.0


class LoopbackServer:
    """``with LoopbackServer(root) as site: httpx.get(site.url("/x"))``."""

    def __init__(
        self,
        root: Path | str | None = None,
        *,
        routes: dict[str, Handler] | None = None,
        latency: float = 0.0,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.root = Path(root) if root is not None else None
        self.routes: dict[str, Handler] = dict(routes or {})
        self.latency = latency
        self.counts: Counter[str] = Counter()
        self.log: list[Request] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.in_flight_by: Counter[str] = Counter()  # per mapped host (Request.host)
        self.max_in_flight_by: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._httpd = _Server((host, port), _make_handler(self))
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def host(self) -> str:
        return str(self._httpd.server_address[0])

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, path: str = "/") -> str:
        return self.base + (path if path.startswith("/") else "/" + path)

    def start(self) -> LoopbackServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- run-time changes and inspection ----------------------------------------------------
    def set_root(self, root: Path | str | None) -> None:
        self.root = Path(root) if root is not None else None

    def route(self, path: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.routes[path] = handler
            return handler

        return register

    def reset_counts(self) -> None:
        with self._lock:
            self.counts.clear()
            self.log.clear()
            self.max_in_flight = 0
            self.max_in_flight_by.clear()

    def total_requests(self) -> int:
        with self._lock:
            return sum(self.counts.values())

    def _enter(self, request: Request) -> None:
        with self._lock:
            self.counts[request.path] += 1
            self.log.append(request)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            host = request.host
            self.in_flight_by[host] += 1
            self.max_in_flight_by[host] = max(self.max_in_flight_by[host], self.in_flight_by[host])

    def _leave(self, request: Request) -> None:
        with self._lock:
            self.in_flight -= 1
            self.in_flight_by[request.host] -= 1
            request.finished = time.monotonic()

    def span(self) -> float:
        """Seconds from the first request's start to the last one's last byte (0 if none)."""
        with self._lock:
            done = [r.finished for r in self.log if r.finished is not None]
            return max(done) - min(r.started for r in self.log) if done else 0.0

    # -- answering --------------------------------------------------------------------------
    def answer(self, request: Request) -> Reply:
        handler = self.routes.get(request.path)
        if handler is not None:
            result = handler(request)
            return result if isinstance(result, Reply) else Reply(*result)
        return self._static(request)

    def _static(self, request: Request) -> Reply:
        path = self._find(request.path)
        if path is None:
            return Reply(404, {"Content-Type": "text/plain"}, b"not found")
        body = path.read_bytes()
        headers = {"Content-Type": _content_type(path)}
        status = 200
        extra = path.with_name(path.name + ".headers.json")
        if extra.is_file():
            overrides = json.loads(extra.read_text("utf-8"))
            status = int(overrides.pop("status", 200))
            headers.update({str(k): str(v) for k, v in overrides.items()})
        if headers["Content-Type"].startswith(("text/", "application/rss", "application/json")):
            body = body.replace(b"{{base}}", self.base.encode())
        return _conditional(request, status, headers, body, path.stat().st_mtime)

    def _find(self, url_path: str) -> Path | None:
        if self.root is None:
            return None
        root = self.root.resolve()
        rel = unquote(url_path).lstrip("/")
        for candidate in (rel, rel + ".html", rel.rstrip("/") + "/index.html"):
            path = (root / candidate).resolve()
            if path.is_file() and path.is_relative_to(root) and not path.name.endswith(".json"):
                return path
        return None


def _content_type(path: Path) -> str:
    suffixes = path.suffixes
    if len(suffixes) >= 2 and suffixes[-1] in (".html", ".htm"):
        return "text/html"  # e.g. page.gbk.html: bytes as given, no charset promised
    return (
        _TEXT_TYPES.get(path.suffix.lower())
        or mimetypes.guess_type(path.name)[0]
        or "application/octet-stream"
    )


def _conditional(
    request: Request, status: int, headers: dict[str, str], body: bytes, mtime: float
) -> Reply:
    etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
    headers.setdefault("ETag", etag)
    headers.setdefault("Last-Modified", formatdate(mtime, usegmt=True))
    if status != 200:
        return Reply(status, headers, body)
    if request.headers.get("if-none-match") == headers["ETag"]:
        return Reply(304, {"ETag": headers["ETag"]}, b"")
    since = request.headers.get("if-modified-since")
    if since and "if-none-match" not in request.headers:
        try:
            if parsedate_to_datetime(since).timestamp() >= int(mtime):
                return Reply(304, {"Last-Modified": headers["Last-Modified"]}, b"")
        except (TypeError, ValueError):
            pass
    return Reply(status, headers, body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def _make_handler(server: LoopbackServer) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body are separate writes: no 40 ms stalls

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the server keeps its own request log."""

        def do_GET(self) -> None:
            split = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            request = Request(
                method=self.command,
                path=split.path,
                query=parse_qs(split.query),
                headers={k.lower(): v for k, v in self.headers.items()},
                client_port=int(self.client_address[1]),
                body=self.rfile.read(length) if length else b"",
            )
            server._enter(request)
            try:
                self._respond(request)
            finally:
                server._leave(request)

        do_HEAD = do_GET
        do_POST = do_GET  # a webhook route reads request.body

        def _respond(self, request: Request) -> None:
            if server.latency:
                time.sleep(server.latency)
            try:
                reply = server.answer(request)
            except ResetConnection:
                self._reset()
                return
            if reply.delay:
                time.sleep(reply.delay)
            try:
                self._write(reply)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

        def _write(self, reply: Reply) -> None:
            self.send_response(reply.status)
            streamed = not isinstance(reply.body, bytes)
            headers = {k.lower(): v for k, v in reply.headers.items()}
            for name, value in reply.headers.items():
                self.send_header(name, value)
            if isinstance(reply.body, bytes) and "content-length" not in headers:
                self.send_header("Content-Length", str(len(reply.body)))
            declared = headers.get("content-length")
            mismatch = isinstance(reply.body, bytes) and declared not in (
                None,
                str(len(reply.body)),
            )
            if streamed or mismatch or headers.get("connection") == "close":
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            if self.command == "HEAD":
                return
            chunks = [reply.body] if isinstance(reply.body, bytes) else reply.body
            for chunk in chunks:
                self.wfile.write(chunk)
                self.wfile.flush()

        def _reset(self) -> None:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()

    return _Handler
