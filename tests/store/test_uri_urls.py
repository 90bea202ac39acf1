"""A SQLite URI-form state URL (``sqlite:///file:/path?mode=rwc&uri=true``) reaches SQLite
untouched: the same file every time, so nothing recorded is forgotten and re-alerted."""

from __future__ import annotations

from pathlib import Path

import pytest
from store_helpers import make_alert, make_item, record

from policywatch.settings import Config
from policywatch.store import Store


def test_a_uri_url_opens_the_same_file_every_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "state.db"
    url = f"sqlite:///file:{db}?mode=rwc&uri=true"
    monkeypatch.setenv("POLICYWATCH_STATE_URL", url)
    config = Config(tmp_path)
    assert config.state_url() == url  # not rewritten into a path under the project folder
    with Store.open(config.state_url()) as store:
        assert record(store, [make_item()], alerts=[make_alert()]).alerts_enqueued == 1
    assert db.is_file()
    with Store.open(config.state_url()) as store:  # again: the alert is known, not new
        assert record(store, [make_item()], alerts=[make_alert()]).alerts_enqueued == 0


def test_a_read_only_uri_url_reads_without_writing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "state.db"
    with Store.open(f"sqlite:///{db}") as store:
        record(store, [make_item()], alerts=[make_alert()])
    before = db.read_bytes()
    with Store.open(f"sqlite:///file:{db}?mode=ro&uri=true", create=False) as store:
        assert [item.id for item, _, _ in store.items()] == [make_item().id]
    assert db.read_bytes() == before
