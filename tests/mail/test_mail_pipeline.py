"""The mailbox as a source of a real run: the same issue by mail and on the web is one issue
(same item ids, no second alert), a processed message is marked done (and flagged when
configured), and a message that could not be processed stays unread and is read again."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from imapclient import SEEN

from policywatch.demo import DemoWorld, demo_world
from policywatch.intake import run_plain
from policywatch.settings import Config
from policywatch.store import Store
from policywatch.store.schema import alerts, items
from tests.mail import dovecot as dc
from tests.mail.builders import newsletter

SITE = Path(__file__).resolve().parents[2] / "samples" / "site" / "merics.org"
BATTERY_HTML = SITE / "en/merics-briefs/battery-passports-industrial-robots-rare-earth-tracing.html"
BATTERY_PDF = SITE / "sites/default/files/2026-02/merics-china-industries-2026-02-04.pdf"
PASSWORD_ENV = "POLICYWATCH_TEST_IMAP_PASSWORD"


@pytest.fixture
def world(tmp_path: Path, dovecot: dc.Dovecot, folder: str) -> Iterator[DemoWorld]:
    """The demo world plus a mailbox source on the test's folder (flagged \\Seen when done)."""
    with demo_world(tmp_path / "demo") as w:
        config = w.config_dir / "policywatch.yaml"
        data = yaml.safe_load(config.read_text("utf-8"))
        data["sources"].append({
            "name": "mailbox", "type": "imap", "host": "127.0.0.1", "port": dovecot.imaps_port,
            "user": dc.USER, "password": f"${{{PASSWORD_ENV}}}", "folder": folder,
            "ca_file": str(dovecot.ca_file), "mark_seen": True,
        })  # fmt: skip
        config.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
        os.environ[PASSWORD_ENV] = dc.PASSWORD
        try:
            yield w
        finally:
            os.environ.pop(PASSWORD_ENV, None)


def run(world: DemoWorld, *sources: str) -> Any:
    config = Config(world.config_dir)  # the fixtures' issues are old: no baseline in these tests
    return asyncio.run(run_plain(config, sources=list(sources), alert_existing=True))


def append(server: dc.Dovecot, folder: str, message: Any) -> None:
    with server.admin() as admin:
        admin.append(folder, message.as_bytes())


def flags(server: dc.Dovecot, folder: str) -> list[set[bytes]]:
    with server.admin() as admin:
        admin.select_folder(folder, readonly=True)
        found = admin.fetch(admin.search("ALL"), ["FLAGS"]).values()
        return [set(f[b"FLAGS"]) - {b"\\Recent"} for f in found]


def table(world: DemoWorld, name: sa.Table) -> list[Any]:
    with Store.open(f"sqlite:///{world.state_path}") as store, store.read() as conn:
        return list(conn.execute(sa.select(name)))


def test_the_same_issue_by_mail_and_on_the_web_alerts_once(
    world: DemoWorld, dovecot: dc.Dovecot, folder: str
) -> None:
    web = run(world, "merics")
    web_items = {r.id for r in table(world, items)}
    queued = len(table(world, alerts))
    assert web.issues
    assert queued > 0

    html = BATTERY_HTML.read_text("utf-8")
    append(dovecot, folder, newsletter(html=html, pdf=BATTERY_PDF.read_bytes()))
    mail = run(world, "mailbox")

    [outcome] = mail.issues
    assert outcome.source == "mailbox"
    assert outcome.url.startswith("imap:")
    assert outcome.status in ("new", "unchanged")  # a new issue record, items already known
    assert {i.change for i in mail.items} <= {"unchanged"}  # nothing new or revised
    assert {r.id for r in table(world, items)} == web_items
    assert len(table(world, alerts)) == queued  # no second alert
    assert flags(dovecot, folder) == [{SEEN}]  # processed: flagged as configured

    again = run(world, "mailbox")
    assert again.issues == []  # done: never read again


def test_a_message_that_fails_stays_unread_and_is_read_again(
    world: DemoWorld, dovecot: dc.Dovecot, folder: str
) -> None:
    broken = "<html><body><main><h1>MERICS China Industries</h1><p>At a glance: nothing.</p>"
    append(dovecot, folder, newsletter(html=broken + "</main></body></html>"))
    first = run(world, "mailbox")
    [outcome] = first.issues
    assert outcome.status == "failed"
    assert outcome.error
    assert flags(dovecot, folder) == [set()]  # not flagged, not moved
    second = run(world, "mailbox")
    assert [i.status for i in second.issues] == ["failed"]  # read again, reported again


def test_an_unreadable_password_setting_fails_the_source_with_one_line(
    world: DemoWorld, dovecot: dc.Dovecot, folder: str
) -> None:
    os.environ[PASSWORD_ENV] = "wrong-password"
    with pytest.raises(Exception, match="no source was reachable") as caught:
        run(world, "mailbox")
    assert "wrong-password" not in str(caught.value)
