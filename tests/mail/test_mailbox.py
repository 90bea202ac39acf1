"""policywatch.mailbox against a real Dovecot on loopback: messages are APPENDed, read with
fetch_new, settled, and the server's flags and folders are checked through IMAP."""

from __future__ import annotations

import datetime as dt
import logging
import socket
import threading
from collections.abc import Callable, Iterator
from email.message import Message
from typing import Any

import pytest
from imapclient import SEEN

from parsers.bodies import BodyIndex
from policywatch.errors import ConfigError, MailboxError, MailboxLoginError
from policywatch.mailbox import MailboxState, fetch_new, mailbox_url, settle
from policywatch.settings import SourceSettings
from tests.mail import dovecot as dc
from tests.mail.builders import (
    COLLEAGUE,
    HTML,
    PDF,
    TEXT,
    document_ids,
    eml_attached,
    fixture_ids,
    forward_attached,
    newsletter,
)

Make = Callable[..., SourceSettings]
LUNCH = newsletter(html="<p>Lunch on Friday?</p>", subject="Lunch", sender=COLLEAGUE)


def append(
    server: dc.Dovecot, folder: str, *messages: Message, when: dt.datetime | None = None
) -> None:
    with server.admin() as admin:
        for msg in messages:
            admin.append(folder, msg.as_bytes(), msg_time=when)


def flags(server: dc.Dovecot, folder: str) -> dict[int, set[bytes]]:
    with server.admin() as admin:
        admin.select_folder(folder, readonly=True)
        found = admin.fetch(admin.search(["ALL"]), ["FLAGS"])
        return {uid: set(data[b"FLAGS"]) - {b"\\Recent"} for uid, data in found.items()}


def subjects(server: dc.Dovecot, folder: str) -> list[str]:
    with server.admin() as admin:
        admin.select_folder(folder, readonly=True)
        found = admin.fetch(admin.search(["ALL"]), ["ENVELOPE"])
        return sorted(data[b"ENVELOPE"].subject.decode() for data in found.values())


def round_trip(state: MailboxState) -> MailboxState:
    return MailboxState.model_validate_json(state.model_dump_json())


# ------------------------------------------------------------------------- security and reading


@pytest.mark.parametrize("security", ["tls", "starttls", "plain"])
def test_each_security_reads_the_newsletter(
    security: str, dovecot: dc.Dovecot, folder: str, mailbox: Make, bodies: BodyIndex
) -> None:
    append(dovecot, folder, newsletter(html=HTML, pdf=PDF))
    port = dovecot.imaps_port if security == "tls" else dovecot.imap_port
    items, state = fetch_new(mailbox(security=security, port=port), MailboxState())
    (item,) = items
    assert item.key == f"imap:{state.uidvalidity}:{item.uid}"
    assert item.error is None
    assert item.message is not None
    html, pdf = item.message.documents
    assert document_ids(html, bodies) == fixture_ids("html-2025-03-05.html", bodies)
    assert pdf.content == PDF
    assert document_ids(pdf, bodies) == fixture_ids("pdf-2025-03-05.pdf", bodies)


def test_tls_checks_the_certificate(mailbox: Make) -> None:
    with pytest.raises(MailboxError, match="TLS certificate is not trusted") as info:
        fetch_new(mailbox(ca_file=None), MailboxState())
    assert info.value.hint
    assert "ca_file" in info.value.hint


def test_default_search_takes_china_industries_from_the_inbox(
    dovecot: dc.Dovecot, mailbox: Make
) -> None:
    forwarded = forward_attached(newsletter())
    append(dovecot, "INBOX", newsletter(), LUNCH, forwarded)
    try:
        settings = mailbox()
        defaults = SourceSettings(
            **{**settings.model_dump(exclude={"folder", "search"}), "password": dc.PASSWORD}
        )
        items, _ = fetch_new(defaults, MailboxState())
        assert [i.message.subject for i in items if i.message] == [
            "MERICS China Industries | March 2025",
            "Fwd: MERICS China Industries | March 2025",
        ]
    finally:
        with dovecot.admin() as admin:
            admin.select_folder("INBOX")
            admin.delete_messages(admin.search(["ALL"]))
            admin.expunge()


def test_each_search_filter(dovecot: dc.Dovecot, folder: str, mailbox: Make) -> None:
    old = dt.datetime(2021, 1, 20, 9, 0, tzinfo=dt.UTC)
    append(dovecot, folder, newsletter(subject="MERICS China Industries | January 2021"), when=old)
    append(dovecot, folder, newsletter(), forward_attached(newsletter()), LUNCH)

    def found(**search: Any) -> list[str]:
        kwargs = {"since": search.pop("run_since")} if "run_since" in search else {}
        items, _ = fetch_new(mailbox(search=search), MailboxState(), **kwargs)
        return [i.message.subject for i in items if i.message]

    assert len(found()) == 3  # subject "China Industries" by default
    assert found(subject="Lunch") == ["Lunch"]
    assert found(**{"from": "merics.example"}) == [
        "MERICS China Industries | January 2021",
        "MERICS China Industries | March 2025",
    ]
    assert found(**{"from": "ana@firm.example", "subject": None}) == [
        "Fwd: MERICS China Industries | March 2025",
        "Lunch",
    ]
    assert "MERICS China Industries | January 2021" not in found(since="2025-01-01")
    assert len(found(since="2021-01-01")) == 3
    assert len(found(since="2021-01-01", run_since=dt.date(2025, 1, 1))) == 2  # the later wins


def test_each_message_is_read_once_across_runs(
    dovecot: dc.Dovecot, folder: str, mailbox: Make
) -> None:
    append(dovecot, folder, newsletter(), newsletter(html=None, text=TEXT))
    items, state = fetch_new(mailbox(), MailboxState())
    assert len(items) == 2
    state = round_trip(state.mark_done(i.uid for i in items))
    again, state = fetch_new(mailbox(), state)
    assert again == []
    append(dovecot, folder, forward_attached(newsletter()))
    third, state = fetch_new(mailbox(), round_trip(state))
    assert [i.message.subject for i in third if i.message] == [
        "Fwd: MERICS China Industries | March 2025"
    ]
    assert third[0].uid not in state.done  # done only once the caller says so


def test_a_message_that_cannot_be_parsed_is_read_again(
    dovecot: dc.Dovecot, folder: str, mailbox: Make
) -> None:
    broken = newsletter(
        html=None,
        text=None,
        pdf=b"\x89PNG not a newsletter",
        pdf_name="logo.png",
        pdf_type="image/png",
    )
    append(dovecot, folder, broken, newsletter())
    settings = mailbox(mark_seen=True, move_to=None)
    items, state = fetch_new(settings, MailboxState())
    bad, good = items
    assert bad.message is None
    assert bad.error
    assert "found image/png" in bad.error
    assert state.failed == {bad.uid: bad.error}
    state = state.mark_done([good.uid])
    settle(settings, state.pending, uidvalidity=state.uidvalidity)
    again, state = fetch_new(settings, round_trip(state.mark_settled(state.pending)))
    assert [i.uid for i in again] == [bad.uid]
    assert flags(dovecot, folder) == {bad.uid: set(), good.uid: {SEEN}}


def test_forwarded_message_and_attached_eml(
    dovecot: dc.Dovecot, folder: str, mailbox: Make, bodies: BodyIndex
) -> None:
    append(
        dovecot,
        folder,
        forward_attached(newsletter(html=HTML)),
        eml_attached(newsletter(html=None, pdf=PDF)),
    )
    forwarded, eml = fetch_new(mailbox(search={"subject": None}), MailboxState())[0]
    assert forwarded.message
    assert eml.message
    assert forwarded.message.sender == COLLEAGUE
    assert document_ids(forwarded.message.documents[0], bodies) == fixture_ids(
        "html-2025-03-05.html", bodies
    )
    assert eml.message.documents[0].name == "newsletter.eml/China-Industries-2025-03.pdf"
    assert document_ids(eml.message.documents[0], bodies) == fixture_ids(
        "pdf-2025-03-05.pdf", bodies
    )


def test_a_message_over_the_size_cap_is_reported_not_parsed(
    dovecot: dc.Dovecot, folder: str, mailbox: Make
) -> None:
    append(dovecot, folder, newsletter(pdf=PDF))
    (item,), state = fetch_new(mailbox(max_message_bytes=5000), MailboxState())
    assert item.message is None
    assert item.error
    assert "over max_message_bytes (5000)" in item.error
    assert item.uid in state.failed
    assert item.uid not in state.done


# -------------------------------------------------------------------------- changes on the server


def test_fetch_changes_nothing_on_the_server(
    dovecot: dc.Dovecot, folder: str, mailbox: Make
) -> None:
    append(dovecot, folder, newsletter(), newsletter(html=None, text=TEXT))
    before = flags(dovecot, folder)
    settings = mailbox(mark_seen=True, move_to=f"{folder}-done")
    with dovecot.admin() as admin:
        admin.create_folder(f"{folder}-done")
    items, _state = fetch_new(settings, MailboxState())
    assert len(items) == 2
    assert before == flags(dovecot, folder) == {1: set(), 2: set()}
    assert subjects(dovecot, f"{folder}-done") == []


def test_nothing_is_changed_without_mark_seen_or_move_to(
    dovecot: dc.Dovecot, folder: str, mailbox: Make
) -> None:
    append(dovecot, folder, newsletter())
    items, state = fetch_new(mailbox(), MailboxState())
    state = state.mark_done(i.uid for i in items)
    settle(mailbox(), state.pending, uidvalidity=state.uidvalidity)
    assert flags(dovecot, folder) == {1: set()}
    # and no connection is made at all: a server that is down does not matter
    settle(mailbox(port=dc.free_port()), state.pending, uidvalidity=state.uidvalidity)


def test_mark_seen_applies_to_settled_messages_only(
    dovecot: dc.Dovecot, folder: str, mailbox: Make
) -> None:
    append(dovecot, folder, newsletter(), newsletter(), newsletter())
    settings = mailbox(mark_seen=True)
    items, state = fetch_new(settings, MailboxState())
    state = state.mark_done([items[0].uid, items[2].uid])
    settle(settings, state.pending, uidvalidity=state.uidvalidity)
    assert flags(dovecot, folder) == {1: {SEEN}, 2: set(), 3: {SEEN}}
    assert state.mark_settled(state.pending).pending == []


@pytest.mark.parametrize("server_has_move", [True, False])
def test_move_to_moves_settled_messages_only(
    server_has_move: bool,
    dovecot: dc.Dovecot,
    folder: str,
    mailbox: Make,
    caplog: pytest.LogCaptureFixture,
) -> None:
    target = f"{folder}-done"
    with dovecot.admin() as admin:
        admin.create_folder(target)
    append(
        dovecot,
        folder,
        newsletter(subject="China Industries A"),
        newsletter(subject="China Industries B"),
        LUNCH,
    )
    with dovecot.admin() as admin:  # a message the user deleted but did not expunge stays
        admin.select_folder(folder)
        admin.add_flags([3], [b"\\Deleted"])
    host = "127.0.0.1" if server_has_move else dc.NO_MOVE_HOST
    port = dovecot.imaps_port if server_has_move else dovecot.no_move_port
    security = "tls" if server_has_move else "plain"
    settings = mailbox(host=host, port=port, security=security, move_to=target, mark_seen=True)
    items, state = fetch_new(settings, MailboxState())
    state = state.mark_done([items[0].uid])
    with caplog.at_level(logging.DEBUG, logger="imapclient"):
        settle(settings, state.pending, uidvalidity=state.uidvalidity)
    assert ("UID MOVE 1" in caplog.text) is server_has_move
    assert ("UID EXPUNGE 1" in caplog.text) is not server_has_move
    assert subjects(dovecot, target) == ["China Industries A"]
    assert subjects(dovecot, folder) == ["China Industries B", "Lunch"]
    assert flags(dovecot, target) == {1: {SEEN}}
    assert flags(dovecot, folder) == {2: set(), 3: {b"\\Deleted"}}


def test_move_to_a_missing_folder_moves_nothing(
    dovecot: dc.Dovecot, folder: str, mailbox: Make
) -> None:
    append(dovecot, folder, newsletter())
    settings = mailbox(move_to=f"{folder}-nope")
    items, state = fetch_new(settings, MailboxState())
    with pytest.raises(MailboxError, match=f"move_to folder '{folder}-nope' does not exist"):
        settle(settings, [items[0].uid], uidvalidity=state.uidvalidity)
    assert subjects(dovecot, folder) == ["MERICS China Industries | March 2025"]


def test_settle_refuses_uids_of_another_uidvalidity(
    dovecot: dc.Dovecot, folder: str, mailbox: Make
) -> None:
    append(dovecot, folder, newsletter())
    settings = mailbox(mark_seen=True)
    items, state = fetch_new(settings, MailboxState())
    assert state.uidvalidity is not None
    with pytest.raises(MailboxError, match="nothing was flagged or moved"):
        settle(settings, [items[0].uid], uidvalidity=state.uidvalidity + 1)
    assert flags(dovecot, folder) == {1: set()}


def test_a_new_uidvalidity_voids_the_stored_uids(
    dovecot: dc.Dovecot, folder: str, mailbox: Make
) -> None:
    append(dovecot, folder, newsletter())
    items, state = fetch_new(mailbox(), MailboxState())
    state = round_trip(state.mark_done(i.uid for i in items))
    with dovecot.admin() as admin:  # the folder is re-created: same UIDs, other messages
        admin.delete_folder(folder)
        admin.create_folder(folder)
    append(dovecot, folder, newsletter(html=None, text=TEXT))
    again, fresh = fetch_new(mailbox(), state)
    assert fresh.uidvalidity != state.uidvalidity
    assert [i.uid for i in again] == [i.uid for i in items]  # UID 1 again, but a new message
    assert again[0].key != items[0].key
    assert again[0].message
    assert again[0].message.documents[0].kind == "text"
    assert fresh.done == []
    assert fresh.pending == []


# ---------------------------------------------------------------------------------- failures


def test_a_wrong_password_is_one_clear_line(
    mailbox: Make, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(MailboxLoginError) as info:
        fetch_new(mailbox(password="not-the-password"), MailboxState())
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"imaps://{dc.USER}@127.0.0.1:")
    assert "the server refused the login for user 'reader'" in message
    assert "not-the-password" not in message + caplog.text


def test_a_server_that_is_down(mailbox: Make) -> None:
    port = dc.free_port()
    with pytest.raises(MailboxError) as info:
        fetch_new(mailbox(port=port), MailboxState())
    assert str(info.value).startswith(f"imaps://{dc.USER}@127.0.0.1:{port}/t-")
    assert "connection refused" in str(info.value)
    assert dc.PASSWORD not in str(info.value)


@pytest.fixture
def silent_server() -> Iterator[int]:
    """Accepts connections and never says a word."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(4)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        sock.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(sock.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield int(sock.getsockname()[1])
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    sock.close()


def test_a_server_that_never_answers_times_out(mailbox: Make, silent_server: int) -> None:
    settings = mailbox(port=silent_server, security="plain", connect_timeout=0.3, read_timeout=0.3)
    with pytest.raises(MailboxError, match="no answer within"):
        fetch_new(settings, MailboxState())


def test_a_missing_folder_is_named(mailbox: Make) -> None:
    with pytest.raises(MailboxError, match="folder 'Nope' cannot be opened"):
        fetch_new(mailbox(folder="Nope"), MailboxState())


def test_secret_password_goes_through_the_resolver(
    dovecot: dc.Dovecot, folder: str, mailbox: Make
) -> None:
    append(dovecot, folder, newsletter())
    settings = mailbox(password="secret:merics-mailbox")
    asked: list[str] = []

    def resolver(name: str) -> str:
        asked.append(name)
        return dc.PASSWORD

    items, _ = fetch_new(settings, MailboxState(), resolver=resolver)
    assert asked == ["merics-mailbox"]
    assert len(items) == 1
    with pytest.raises(ConfigError, match="no secret resolver"):
        fetch_new(settings, MailboxState())

    def broken(name: str) -> str:
        raise RuntimeError(f"vault said {dc.PASSWORD}")

    with pytest.raises(
        MailboxError, match=r"secret 'merics-mailbox' could not be read \(RuntimeError\)"
    ):
        fetch_new(settings, MailboxState(), resolver=broken)


def test_the_password_never_reaches_logs_or_state(
    dovecot: dc.Dovecot, folder: str, mailbox: Make, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # IMAPClient logs every command at DEBUG
    append(dovecot, folder, newsletter())
    settings = mailbox(mark_seen=True)
    items, state = fetch_new(settings, MailboxState())
    state = state.mark_done(i.uid for i in items)
    settle(settings, state.pending, uidvalidity=state.uidvalidity)
    assert "LOGIN" in caplog.text  # the commands were logged ...
    assert dc.PASSWORD not in caplog.text  # ... without the password
    assert dc.PASSWORD not in state.model_dump_json() + repr(settings)


def test_mailbox_url_names_the_mailbox_without_the_password() -> None:
    values = {"name": "m", "type": "imap", "user": "reader", "password": "pw-9"}
    ipv6 = SourceSettings.model_validate({**values, "host": "::1", "security": "plain"})
    assert mailbox_url(ipv6) == "imap://reader@[::1]:143/INBOX"
    tls = SourceSettings.model_validate({**values, "host": "imap.firm.example", "folder": "News"})
    assert mailbox_url(tls) == "imaps://reader@imap.firm.example:993/News"
