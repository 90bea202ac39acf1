"""The subscriber's mailbox (IMAP): newsletter messages in, nothing lost, nothing read twice.

Reading and changing the server are two separate calls, so a message that policywatch could
not process is never marked or moved:

* ``fetch_new`` selects the folder read-only (``EXAMINE``), ``SEARCH``es it per the settings,
  skips the UIDs already done and fetches each new message with ``BODY.PEEK[]``. It changes
  nothing on the server (no ``\\Seen``, no move, no ``\\Recent`` reset).
* the caller processes the messages, records the good ones with ``MailboxState.mark_done`` and
  then calls ``settle`` for ``state.pending``: only then, and only if configured, are they
  flagged ``\\Seen`` (``mark_seen``) and/or moved (``move_to``). ``mark_settled`` clears them.

A message that could not be parsed is never marked done: it is read again next run.

IMAP access goes through IMAPClient (maintained; UIDs throughout, separate connect and read
timeouts, STARTTLS, capability checks for MOVE/UIDPLUS, and it redacts ``LOGIN`` from its own
debug log). The password never appears in a log line, an error, a ``repr`` or the state.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import ssl
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from typing import Any

from imapclient import DELETED, SEEN, IMAPClient, SocketTimeout
from imapclient.exceptions import CapabilityError, IMAPClientAbortError, IMAPClientError, LoginError
from pydantic import BaseModel, ConfigDict, Field

from parsers.mail import MailMessage, mail_documents
from policywatch.errors import (
    ConfigError,
    MailboxError,
    MailboxLoginError,
    ParseError,
    PolicywatchError,
)
from policywatch.settings import SECRET_PREFIX, MailSearch, SourceSettings
from policywatch.yamlconf import ENV_REF, substitute_env

__all__ = ["MailItem", "MailboxState", "fetch_new", "mailbox_url", "settle"]

log = logging.getLogger(__name__)

SecretResolver = Callable[[str], str]


class MailItem(BaseModel):
    """One new message: ``key`` is ``imap:<uidvalidity>:<uid>``, unique for good in a mailbox.

    ``message`` holds the parsed message, or ``error`` says why it could not be read (too
    large, no usable document); such a message is read again next run.
    """

    model_config = ConfigDict(extra="forbid")

    key: str
    uid: int
    message: MailMessage | None = None
    error: str | None = None


class MailboxState(BaseModel):
    """What one mailbox source remembers between runs (JSON in the source's state).

    UIDs mean something only together with the folder's UIDVALIDITY. When the server reports
    another UIDVALIDITY (the folder was re-created or the server rebuilt its index), or the
    settings name another mailbox, the stored UIDs are void: ``done``, ``pending`` and
    ``failed`` are emptied and every matching message is read again, under new keys. The
    store's item ids (from the issue's own text) keep a re-read issue from alerting twice.
    """

    model_config = ConfigDict(extra="forbid")

    mailbox: str | None = Field(None, description="user@host:port/folder the UIDs belong to")
    uidvalidity: int | None = None
    done: list[int] = Field(default_factory=list, description="UIDs processed; never re-read")
    pending: list[int] = Field(
        default_factory=list, description="done UIDs whose \\Seen/move is still to be applied"
    )
    failed: dict[int, str] = Field(default_factory=dict, description="UID -> last read error")
    last_error: str | None = None

    def mark_done(self, uids: Iterable[int]) -> MailboxState:
        """Record processed messages: never fetched again, and due for ``settle``."""
        new = set(uids)
        return self.model_copy(
            update={
                "done": sorted(set(self.done) | new),
                "pending": sorted(set(self.pending) | new),
                "failed": {u: e for u, e in self.failed.items() if u not in new},
            }
        )

    def mark_failed(self, errors: Mapping[int, str]) -> MailboxState:
        """Record messages that were read but could not be processed (read again next run)."""
        return self.model_copy(update={"failed": {**self.failed, **errors}})

    def mark_settled(self, uids: Iterable[int]) -> MailboxState:
        gone = set(uids)
        return self.model_copy(update={"pending": [u for u in self.pending if u not in gone]})

    def with_error(self, error: str) -> MailboxState:
        return self.model_copy(update={"last_error": error})


def mailbox_url(settings: SourceSettings) -> str:
    """``imaps://user@host:port/folder``: how errors and logs name a mailbox (no password)."""
    scheme = "imaps" if settings.security == "tls" else "imap"
    return f"{scheme}://{_identity(settings)}"


def _identity(settings: SourceSettings) -> str:
    host = settings.host or ""
    host = f"[{host}]" if ":" in host else host
    return f"{settings.user}@{host}:{settings.imap_port()}/{settings.folder}"


# -------------------------------------------------------------------------------------- read


def fetch_new(
    settings: SourceSettings,
    state: MailboxState,
    *,
    since: dt.date | None = None,
    resolver: SecretResolver | None = None,
) -> tuple[list[MailItem], MailboxState]:
    """The messages not done yet, oldest first, and the state to keep (module docstring).

    ``since`` (the run's backfill date) narrows the search further than ``search.since``.
    Raises MailboxError (MailboxLoginError for a refused login) when the mailbox cannot be
    read; the caller records it with ``state.with_error``.
    """
    url = mailbox_url(settings)
    with _session(settings, resolver) as client:
        uidvalidity = _select(client, settings, readonly=True)
        current = _current(state, settings, uidvalidity)
        found = _search(client, settings.search, since)
        done = set(current.done)
        items = _read(client, settings, uidvalidity, [u for u in found if u not in done])
    log.info("%s: %d message(s) match, %d new", url, len(found), len(items))
    failed = {item.uid: item.error for item in items if item.error}
    return items, current.model_copy(update={"failed": failed, "last_error": None})


def _current(state: MailboxState, settings: SourceSettings, uidvalidity: int) -> MailboxState:
    """``state``, or a fresh one when its UIDs belong to another UIDVALIDITY or mailbox."""
    identity = _identity(settings)
    if state.uidvalidity == uidvalidity and state.mailbox == identity:
        return state
    if state.uidvalidity is not None:
        log.warning(
            "%s: UIDVALIDITY %s -> %s (or another mailbox): %d stored UID(s) are void, "
            "matching messages are read again",
            mailbox_url(settings),
            state.uidvalidity,
            uidvalidity,
            len(state.done),
        )
    return MailboxState(mailbox=identity, uidvalidity=uidvalidity)


def _search(client: Any, search: MailSearch, since: dt.date | None) -> list[int]:
    criteria: list[Any] = []
    if search.sender:
        criteria += ["FROM", search.sender]
    if search.subject:
        criteria += ["SUBJECT", search.subject]
    day = max((d for d in (search.since, since) if d), default=None)
    if day:
        criteria += ["SINCE", day]
    texts = [c for c in criteria if isinstance(c, str)]
    charset = None if all(t.isascii() for t in texts) else "UTF-8"
    return sorted(int(uid) for uid in client.search(criteria or ["ALL"], charset=charset))


def _read(
    client: Any, settings: SourceSettings, uidvalidity: int, uids: list[int]
) -> list[MailItem]:
    """Sizes first, so a message over the cap is reported without being downloaded."""
    sizes = client.fetch(uids, ["RFC822.SIZE"]) if uids else {}
    items = []
    for uid in uids:
        if uid not in sizes:  # expunged since the SEARCH
            continue
        key, size = f"imap:{uidvalidity}:{uid}", int(sizes[uid].get(b"RFC822.SIZE", 0))
        if size > settings.max_message_bytes:
            error = f"{key}: {size} bytes, over max_message_bytes ({settings.max_message_bytes})"
            items.append(MailItem(key=key, uid=uid, error=error))
            continue
        raw = client.fetch([uid], ["BODY.PEEK[]"]).get(uid, {}).get(b"BODY[]")
        if isinstance(raw, bytes):
            items.append(_item(key, uid, raw, settings.max_message_bytes))
    return items


def _item(key: str, uid: int, raw: bytes, max_bytes: int) -> MailItem:
    try:
        message = mail_documents(raw, source=key, max_bytes=max_bytes)
    except ParseError as exc:
        log.warning("%s", exc)
        return MailItem(key=key, uid=uid, error=str(exc))
    return MailItem(key=key, uid=uid, message=message)


# ------------------------------------------------------------------------------------ change


def settle(
    settings: SourceSettings,
    done_uids: Iterable[int],
    *,
    uidvalidity: int | None,
    resolver: SecretResolver | None = None,
) -> None:
    """Apply ``mark_seen`` and ``move_to`` to processed messages; nothing when neither is set.

    ``uidvalidity`` is the one the UIDs were read under (``state.uidvalidity``): if the folder
    has another one now, the UIDs may name other messages, so nothing is touched and
    MailboxError says why. Moving uses MOVE when the server has it, else COPY + ``\\Deleted``
    + UID EXPUNGE of exactly these UIDs (without UIDPLUS the originals stay flagged
    ``\\Deleted``: a plain EXPUNGE would also remove messages the user deleted).
    """
    uids = sorted(set(done_uids))
    if not uids or not (settings.mark_seen or settings.move_to):
        return
    url = mailbox_url(settings)
    with _session(settings, resolver) as client:
        current = _select(client, settings, readonly=False)
        if current != uidvalidity:
            raise MailboxError(
                url,
                f"UIDVALIDITY is {current}, the messages were read under {uidvalidity}: "
                "nothing was flagged or moved",
                hint="the next run reads the folder again",
            )
        if settings.mark_seen:
            client.add_flags(uids, [SEEN], silent=True)
        if settings.move_to:
            _move(client, url, uids, settings.move_to)
    log.info("%s: %d message(s) settled", url, len(uids))


def _move(client: Any, url: str, uids: list[int], folder: str) -> None:
    if not client.folder_exists(folder):
        raise MailboxError(
            url,
            f"move_to folder '{folder}' does not exist; nothing was moved",
            hint="create the folder in your mail client or correct move_to",
        )
    if client.has_capability("MOVE"):
        client.move(uids, folder)
        return
    client.copy(uids, folder)
    client.add_flags(uids, [DELETED], silent=True)
    if client.has_capability("UIDPLUS"):
        client.uid_expunge(uids)
    else:
        log.warning("%s: no UIDPLUS; the moved originals stay flagged \\Deleted", url)


# ------------------------------------------------------------------------------- connection


@contextmanager
def _session(settings: SourceSettings, resolver: SecretResolver | None) -> Iterator[Any]:
    """A logged-in client; every socket, TLS or IMAP failure becomes a MailboxError."""
    url = mailbox_url(settings)
    password = _password(settings, resolver, url)
    context = _tls_context(settings)
    timeout = SocketTimeout(connect=settings.connect_timeout, read=settings.read_timeout)
    client = None
    try:
        client = IMAPClient(
            settings.host,
            port=settings.imap_port(),
            ssl=settings.security == "tls",
            ssl_context=context,
            timeout=timeout,
        )
        if settings.security == "starttls":
            client.starttls(context)
        client.login(settings.user, password)
        yield client
    except LoginError as exc:
        raise MailboxLoginError(
            url,
            f"the server refused the login for user '{settings.user}' ({_said(exc, password)})",
            hint="check the user name and the password (its ${VAR} or secret: block)",
        ) from None
    except (OSError, IMAPClientError) as exc:
        raise _failure(url, settings, exc, password) from None
    finally:
        if client is not None:
            _close(client)


def _close(client: Any) -> None:
    try:
        client.logout()
    except (OSError, IMAPClientError):
        with suppress(OSError):
            client.shutdown()


def _select(client: Any, settings: SourceSettings, *, readonly: bool) -> int:
    try:
        info = client.select_folder(settings.folder, readonly=readonly)
    except IMAPClientAbortError:
        raise
    except IMAPClientError as exc:
        raise MailboxError(
            mailbox_url(settings),
            f"folder '{settings.folder}' cannot be opened ({_said(exc, '')})",
            hint="check 'folder' in the source's settings (folder names are case-sensitive)",
        ) from None
    return int(info[b"UIDVALIDITY"])


def _password(settings: SourceSettings, resolver: SecretResolver | None, url: str) -> str:
    raw = settings.password.get_secret_value() if settings.password else ""
    if raw.startswith(SECRET_PREFIX):
        return _resolve_secret(raw[len(SECRET_PREFIX) :].strip(), resolver, url)
    if ENV_REF.search(raw):  # settings built in code rather than loaded by Config
        value, errors = substitute_env(raw, os.environ, f"source '{settings.name}'", "password")
        if errors:
            raise ConfigError("\n".join(errors))
        return value
    return raw


def _resolve_secret(name: str, resolver: SecretResolver | None, url: str) -> str:
    if resolver is None:
        raise ConfigError(f"{url}: the password is secret:{name}, but no secret resolver is set")
    try:
        return resolver(name)
    except PolicywatchError:
        raise
    except Exception as exc:  # a resolver's own errors may be anything; never show a value
        raise MailboxError(
            url, f"secret '{name}' could not be read ({type(exc).__name__})"
        ) from None


def _tls_context(settings: SourceSettings) -> ssl.SSLContext | None:
    if settings.security == "plain":
        return None
    try:
        return ssl.create_default_context(cafile=settings.ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"source '{settings.name}': ca_file {settings.ca_file} cannot be read ({exc})",
            hint="point ca_file at a PEM file with the CA certificate(s) of the mail server",
        ) from None


def _failure(url: str, settings: SourceSettings, exc: BaseException, password: str) -> MailboxError:
    """One line that says what went wrong with the connection, and what to check."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return MailboxError(
            url,
            f"the server's TLS certificate is not trusted ({exc.verify_message})",
            hint="if the server uses a private CA, set ca_file to its certificate (PEM)",
        )
    if isinstance(exc, CapabilityError):
        return MailboxError(url, "the server does not offer STARTTLS", hint="use security: tls")
    reason = _reason(exc, settings, password)
    return MailboxError(url, reason)


def _reason(exc: BaseException, settings: SourceSettings, password: str) -> str:
    if isinstance(exc, TimeoutError | socket.timeout):
        return (
            f"no answer within {settings.read_timeout:g} s (connect {settings.connect_timeout:g} s)"
        )
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is the server up, is the port right?)"
    if isinstance(exc, socket.gaierror):
        return f"the host name does not resolve ({exc.strerror})"
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed ({exc.reason or exc})"
    if isinstance(exc, IMAPClientAbortError):
        return f"the server closed the connection ({_said(exc, password)})"
    if isinstance(exc, OSError):
        return f"network error ({exc.strerror or type(exc).__name__})"
    return f"the server said: {_said(exc, password)}"


def _said(exc: BaseException, password: str) -> str:
    """The server's text of an IMAP error, without the bytes repr, never the password."""
    text = str(exc)
    if text.startswith(("b'", 'b"')) and text.endswith(("'", '"')):
        text = text[2:-1]
    return text.replace(password, "****") if password else text
