"""Mailbox sources in config/policywatch.yaml: defaults, security rules, password handling."""

from __future__ import annotations

from pathlib import Path

import pytest

from policywatch.errors import ConfigError
from policywatch.settings import Config

SOURCE = """\
sources:
  - name: merics
    type: merics
  - name: mailbox
    type: imap
    host: {host}
    user: reader@firm.example
    password: {password}
{extra}"""


def load(
    tmp_path: Path,
    *,
    host: str = "mail.firm.example",
    password: str = "${IMAP_PASSWORD}",
    extra: str = "",
) -> Config:
    folder = tmp_path / "config"
    folder.mkdir(exist_ok=True)
    text = SOURCE.format(host=host, password=password, extra=extra)
    (folder / "policywatch.yaml").write_text(text, "utf-8")
    return Config(folder)


@pytest.fixture(autouse=True)
def _password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMAP_PASSWORD", "Hunter2-not-logged")


def test_defaults(tmp_path: Path) -> None:
    src = load(tmp_path).app.sources[1]
    assert (src.security, src.imap_port(), src.folder) == ("tls", 993, "INBOX")
    assert src.search.subject == "China Industries"
    assert src.search.sender is None
    assert src.search.since is None
    assert (src.mark_seen, src.move_to) == (False, None)
    assert src.max_message_bytes == 25_000_000


def test_every_key_loads(tmp_path: Path) -> None:
    extra = (
        "    port: 1143\n    security: starttls\n    folder: Newsletters/MERICS\n"
        "    search:\n      from: merics\n      subject: null\n      since: 2021-02-01\n"
        "    mark_seen: true\n    move_to: Archive\n    max_message_bytes: 1000000\n"
        "    ca_file: certs/mail-ca.pem\n    connect_timeout: 3\n    read_timeout: 20\n"
    )
    src = load(tmp_path, extra=extra).app.sources[1]
    assert src.imap_port() == 1143
    assert src.security == "starttls"
    assert src.search.sender == "merics"
    assert src.search.subject is None
    assert str(src.search.since) == "2021-02-01"
    assert src.mark_seen
    assert src.move_to == "Archive"
    assert src.ca_file == str(tmp_path / "certs" / "mail-ca.pem")  # relative to the project


def test_starttls_defaults_to_port_143(tmp_path: Path) -> None:
    src = load(tmp_path, extra="    security: starttls\n").app.sources[1]
    assert src.imap_port() == 143


def test_env_password_is_resolved_and_never_shown(tmp_path: Path) -> None:
    app = load(tmp_path).app
    src = app.sources[1]
    assert src.password is not None
    assert src.password.get_secret_value() == "Hunter2-not-logged"
    for shown in (repr(src), str(src), src.model_dump_json(), repr(app)):
        assert "Hunter2" not in shown


def test_a_missing_variable_names_file_line_and_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("IMAP_PASSWORD")
    with pytest.raises(ConfigError) as info:
        _ = load(tmp_path).app
    assert (
        "policywatch.yaml:8: sources[1].password: environment variable IMAP_PASSWORD is not set"
        in str(info.value)
    )


def test_a_disabled_mailbox_may_lack_its_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("IMAP_PASSWORD")
    assert not load(tmp_path, extra="    enabled: false\n").app.sources[1].enabled


def test_secret_reference_is_kept_for_the_resolver(tmp_path: Path) -> None:
    src = load(tmp_path, password="secret:merics-mailbox").app.sources[1]
    assert src.password is not None
    assert src.password.get_secret_value() == "secret:merics-mailbox"


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.53", "localhost", "'::1'"])
def test_plain_is_accepted_on_loopback(tmp_path: Path, host: str) -> None:
    src = load(tmp_path, host=host, extra="    security: plain\n").app.sources[1]
    assert src.security == "plain"
    assert src.imap_port() == 143


@pytest.mark.parametrize("host", ["mail.firm.example", "10.0.0.5", "localhost.firm.example"])
def test_plain_to_another_host_is_refused_at_load(tmp_path: Path, host: str) -> None:
    with pytest.raises(ConfigError) as info:
        _ = load(tmp_path, host=host, extra="    security: plain\n").app
    message = str(info.value)
    assert (
        f"policywatch.yaml:9: sources[1].security: security 'plain' would send the password unencrypted to '{host}'"
        in message
    )
    assert "use tls or starttls" in message


def test_missing_connection_keys_are_named(tmp_path: Path) -> None:
    folder = tmp_path / "config"
    folder.mkdir()
    (folder / "policywatch.yaml").write_text(
        "sources:\n  - name: mailbox\n    type: imap\n    host: mail.firm.example\n", "utf-8"
    )
    with pytest.raises(
        ConfigError,
        match=r"policywatch.yaml:2: sources\[0\]: an imap source needs 'user', 'password'",
    ):
        _ = Config(folder).app


def test_unknown_keys_are_rejected_with_the_allowed_ones(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        _ = load(tmp_path, extra="    mark_read: true\n    search:\n      subjct: x\n").app
    message = str(info.value)
    assert (
        "policywatch.yaml:9: sources[1].mark_read: unknown key (did you mean 'mark_seen'?)"
        in message
    )
    assert (
        "policywatch.yaml:11: sources[1].search.subjct: unknown key (did you mean 'subject'?)"
        in message
    )


def test_mailbox_keys_on_another_source_type_are_rejected(tmp_path: Path) -> None:
    folder = tmp_path / "config"
    folder.mkdir()
    (folder / "policywatch.yaml").write_text(
        "sources:\n  - name: merics\n    type: merics\n    host: merics.org\n", "utf-8"
    )
    with pytest.raises(ConfigError, match=r"sources\[0\]: host: only for sources of type 'imap'"):
        _ = Config(folder).app


def test_the_readme_example_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, repo_root: Path
) -> None:
    readme = (repo_root / "README.md").read_text("utf-8")
    section = readme.split("## Mailbox source", 1)[1]
    example = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    monkeypatch.setenv("MERICS_IMAP_PASSWORD", "from-the-environment")
    folder = tmp_path / "config"
    folder.mkdir()
    (folder / "policywatch.yaml").write_text(example, "utf-8")
    (src,) = Config(folder).app.sources
    assert (src.type, src.host, src.imap_port(), src.folder) == (
        "imap",
        "imap.firm.example",
        993,
        "INBOX",
    )
    assert src.password is not None
    assert src.password.get_secret_value() == "from-the-environment"
    assert src.search.subject == "China Industries"
