"""The operator commands: deliver, alerts, test-alert (typer runner, real store and SMTP)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from policywatch.cli import app
from policywatch.cli._app import _state
from policywatch.devtools.mailsink import MailSink
from policywatch.store import Store

from .conftest import Hook, alert_for, make_item, record

SECRET = "CliSecret-55aa"


@pytest.fixture
def config_dir(tmp_path: Path, repo_root: Path, sink: MailSink, hook: Hook,
               monkeypatch: pytest.MonkeyPatch) -> Path:  # fmt: skip
    cfg = tmp_path / "config"
    cfg.mkdir()
    shutil.copy(repo_root / "config" / "bodies.yaml", cfg / "bodies.yaml")
    (cfg / "policywatch.yaml").write_text(
        f"state_url: sqlite:///{tmp_path / 'state.db'}\ndelivery:\n  max_attempts: 2\n",
        encoding="utf-8",
    )
    (cfg / "channels.yaml").write_text(
        "channels:\n  mail:\n    url: ${T_MAIL}\n  team:\n    url: ${T_HOOK}\n"
        "  dead:\n    url: json://127.0.0.1:1/x\n  spare:\n    url: ${T_UNSET}\n",
        encoding="utf-8",
    )
    (cfg / "watchlists.yaml").write_text(
        "watchlists:\n  - name: ev\n    keywords: [solid-state]\n    channels: [mail, team, dead]\n"
        "  - name: chips\n    companies: [SMIC]\n    keywords: [光刻机]\n    channels: [mail]\n"
        "  - name: quiet\n    keywords: [x]\n    channels: [spare]\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("T_MAIL", sink.url())
    monkeypatch.setenv("T_HOOK", hook.url("json", f"/{SECRET}"))
    monkeypatch.delenv("T_UNSET", raising=False)
    monkeypatch.delenv("POLICYWATCH_STATE_URL", raising=False)
    _state.clear()
    return cfg


def _run(cfg: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["--config-dir", str(cfg), *args])
    _state.clear()
    return result.exit_code, result.output


def test_deliver_then_list(config_dir: Path, sink: MailSink, hook: Hook) -> None:
    with Store.open(f"sqlite:///{config_dir.parent / 'state.db'}") as store:
        item = make_item(1)
        record(store, [item], [alert_for(item, "ev", c) for c in ("mail", "team", "dead")])
    code, out = _run(config_dir, "deliver")
    assert code == 1  # one channel failed: the exit code says so
    assert "sent 2 message(s) with 2 alert(s), skipped 0 (already delivered), pending 1" in out
    assert len(sink.messages) == 1
    assert len(hook.posts) == 1
    code, out = _run(config_dir, "alerts", "--status", "pending")
    assert code == 0
    assert "dead" in out
    assert "1 alert(s) shown" in out
    code, out = _run(config_dir, "alerts")
    assert code == 0
    assert "3 alert(s) shown; in the outbox: 2 sent in 2 message(s)" in out
    assert "MIIT sets new" in out  # the headline, not the item id
    assert "item-0001" not in out
    assert SECRET not in out


def test_test_alert_prints_result_per_channel(config_dir: Path, sink: MailSink, hook: Hook) -> None:
    code, out = _run(config_dir, "test-alert", "ev")
    assert code == 1
    assert "mail: ok" in out
    assert "team: ok" in out
    assert "dead: error:" in out
    assert SECRET not in out
    assert "Test alert for ev" in sink.messages[0]["Subject"]
    assert "solid-state" in sink.messages[0]["Subject"]  # built from the watchlist's own terms
    assert hook.posts[0]["path"] == f"/{SECRET}"


def test_test_alert_is_made_of_the_watchlists_terms_and_ignores_other_channels(
    config_dir: Path, sink: MailSink
) -> None:
    """'spare' is disabled ($T_UNSET): 'chips' only uses 'mail', so its test alert goes out."""
    code, out = _run(config_dir, "test-alert", "chips")
    assert (code, out.strip()) == (0, "mail: ok")
    mail = sink.messages[0]
    plain = str(mail.get_body(("plain",)).get_content())  # type: ignore[union-attr]
    assert "SMIC" in mail["Subject"]
    assert '- company "SMIC" in headline: ' in plain  # the matcher's own reasons
    assert '- keyword "光刻机"' in plain
    assert "测试〔2024〕1号" in plain
    code, out = _run(config_dir, "test-alert", "quiet")
    assert code == 1
    assert "spare: disabled: environment variable T_UNSET is not set" in out


def test_check_config_lists_disabled_channels_and_why(config_dir: Path) -> None:
    result = CliRunner().invoke(app, ["--config-dir", str(config_dir), "check-config"])
    _state.clear()
    assert result.exit_code == 1  # valid, but a channel would not deliver
    assert "3 channel(s) ready" in result.stdout
    assert "1 disabled: spare" in result.stdout
    assert "channel 'spare' is disabled: environment variable T_UNSET is not set" in result.stderr
    assert "channels.yaml:9: channels.spare.url" in result.stderr


def test_test_alert_unknown_watchlist_suggests(config_dir: Path) -> None:
    code, out = _run(config_dir, "test-alert", "evv")
    assert code == 2
    assert "did you mean 'ev'" in out
