"""A throw-away Dovecot IMAP server on loopback for the mailbox tests.

It listens on 127.0.0.1 (IMAP with STARTTLS, and IMAPS) with a self-signed certificate made
for the run, and on 127.0.0.2 with a capability list that lacks MOVE (so moving falls back to
COPY + UID EXPUNGE). One user, a plain password in a passwd-file, maildirs in a temp folder.
Run as root (as CI does) the master stays root and mail is stored as the ``dovecot`` user;
otherwise everything runs as the current user.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from imapclient import IMAPClient

PACKAGE = "dovecot-imapd"
USER = "reader"
PASSWORD = "Pw-for-tests-only-7c1e"
NO_MOVE_HOST = "127.0.0.2"


def binary() -> str | None:
    found = shutil.which("dovecot")
    if found:
        return found
    return next(
        (p for p in ("/usr/sbin/dovecot", "/usr/local/sbin/dovecot") if Path(p).exists()), None
    )


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass
class Dovecot:
    root: Path
    imap_port: int
    imaps_port: int
    no_move_port: int
    ca_file: Path
    process: subprocess.Popen[bytes]
    stderr: IO[bytes]

    @property
    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text("utf-8", "replace") if path.exists() else ""

    @contextmanager
    def admin(self) -> Iterator[Any]:
        """A client for the tests' own reading and writing (APPEND, flags, folders)."""
        client = IMAPClient("127.0.0.1", port=self.imap_port, ssl=False, timeout=10)
        client.login(USER, PASSWORD)
        try:
            yield client
        finally:
            client.logout()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        self.stderr.close()


def _owner() -> tuple[str, str, int, int]:
    """(internal user, login user, mail uid, mail gid) for the server's processes."""
    if os.geteuid() == 0:
        mail = pwd.getpwnam("dovecot")
        return "dovecot", "dovenull", mail.pw_uid, mail.pw_gid
    me = pwd.getpwuid(os.geteuid())
    return me.pw_name, me.pw_name, me.pw_uid, me.pw_gid


CONF = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1, {no_move_host}
ssl = yes
ssl_cert = <{root}/cert.pem
ssl_key = <{root}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
first_valid_uid = {uid}
first_valid_gid = {gid}
default_internal_user = {internal}
default_login_user = {login}
mail_location = maildir:{root}/mail/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {root}/users
  default_fields = uid={uid} gid={gid} home={root}/home/%u
}}
service imap-login {{
  {chroot}
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps_port}
    ssl = yes
  }}
  inet_listener imap_no_move {{
    address = {no_move_host}
    port = {no_move_port}
  }}
}}
service anvil {{
  {chroot}
  # no growing login delay after the wrong-password test
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
local {no_move_host} {{
  protocol imap {{
    imap_capability = IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE UIDPLUS
  }}
}}
"""


def _certificate(root: Path) -> None:
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"),
            *("-keyout", str(root / "key.pem"), "-out", str(root / "cert.pem")),
            *("-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
    )


def start(executable: str) -> Dovecot:
    root = Path(tempfile.mkdtemp(prefix="policywatch-dovecot-"))
    root.chmod(0o755)  # the login processes run as another user and must reach their sockets
    internal, login, uid, gid = _owner()
    for sub in ("mail", "home"):
        (root / sub).mkdir()
        os.chown(root / sub, uid, gid)
    _certificate(root)
    (root / "users").write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::::\n", "utf-8")
    ports = {"imap_port": free_port(), "imaps_port": free_port(), "no_move_port": free_port()}
    conf = CONF.format(
        root=root,
        uid=uid,
        gid=gid,
        internal=internal,
        login=login,
        no_move_host=NO_MOVE_HOST,
        chroot="" if os.geteuid() == 0 else "chroot =",
        **ports,
    )
    (root / "dovecot.conf").write_text(conf, "utf-8")
    stderr = (root / "stderr.log").open("wb")
    process = subprocess.Popen(
        [executable, "-F", "-c", str(root / "dovecot.conf")],
        stdout=subprocess.DEVNULL,
        stderr=stderr,
    )
    server = Dovecot(root=root, ca_file=root / "cert.pem", process=process, stderr=stderr, **ports)
    _wait_ready(server)
    return server


def _wait_ready(server: Dovecot, deadline: float = 15.0) -> None:
    """Until each listener sends its greeting; a server that dies or stays silent fails."""
    until = time.monotonic() + deadline
    for host, port, greets in (
        ("127.0.0.1", server.imap_port, True),
        ("127.0.0.1", server.imaps_port, False),  # TLS first: the client speaks first
        (NO_MOVE_HOST, server.no_move_port, True),
    ):
        while not _answers(host, port, greets):
            if server.process.poll() is not None or time.monotonic() > until:
                stderr = (server.root / "stderr.log").read_text("utf-8", "replace")
                server.stop()
                raise RuntimeError(f"dovecot did not start:\n{stderr}\n{server.log}")
            time.sleep(0.05)


def _answers(host: str, port: int, greets: bool) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2) as sock:
            return not greets or sock.recv(64).startswith(b"* OK")
    except OSError:
        return False


def remove(server: Dovecot) -> None:
    server.stop()
    shutil.rmtree(server.root, ignore_errors=True)
