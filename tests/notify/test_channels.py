"""channels.yaml: ${ENV} resolution, secret: blocks, apprise config files, masking."""

from __future__ import annotations

from pathlib import Path

import pytest

from policywatch.channels import disabled_channels, load_channels, send
from policywatch.errors import ConfigError, DeliveryError
from policywatch.notify import render_alert

from .conftest import Hook, entry_of, make_item, write_channels

SECRET = "Tok3nNeverPrinted9"


def test_unset_env_var_disables_only_its_channel_naming_the_variable_and_line(
    tmp_path: Path, hook: Hook
) -> None:
    text = "channels:\n  a:\n    url: ${A}\n  b:\n    url: ${NOT_SET_VAR}\n"
    channels = write_channels(tmp_path, text, {"A": hook.url()})
    assert channels["a"].enabled
    why = disabled_channels(channels)["b"]
    assert "environment variable NOT_SET_VAR is not set" in why
    assert f"{tmp_path / 'channels.yaml'}:5: channels.b.url" in why
    assert channels["b"].masked() == "${NOT_SET_VAR}"
    with pytest.raises(DeliveryError, match="channel 'b' is disabled"):
        send(channels["b"], render_alert(entry_of(make_item(1))))
    send(channels["a"], render_alert(entry_of(make_item(1))))
    assert len(hook.posts) == 1


def test_unparseable_url_is_reported_masked_with_line(tmp_path: Path) -> None:
    text = "channels:\n  bad:\n    url: ${BAD_URL}\n"
    with pytest.raises(ConfigError) as err:
        write_channels(tmp_path, text, {"BAD_URL": f"nosuchservice://user:{SECRET}@host/{SECRET}"})
    message = str(err.value)
    assert "channels.yaml:3: channels.bad.url: apprise cannot load" in message
    assert "nosuchservice://host/" in message
    assert SECRET not in message


def test_unknown_key_and_both_sources_are_rejected(tmp_path: Path) -> None:
    text = "channels:\n  a:\n    url: json://h/x\n    tgas: [x]\n  b:\n    url: json://h/x\n    config: f.yml\n"
    with pytest.raises(ConfigError) as err:
        write_channels(tmp_path, text, {})
    assert "channels.a.tgas: unknown key (did you mean 'tags'?)" in str(err.value)
    assert "exactly one of 'url' or 'config'" in str(err.value)


def test_masked_hides_tokens_apprise_would_show(tmp_path: Path) -> None:
    text = "channels:\n  hook:\n    url: ${HOOK}\n    tags: [team]\n    format: markdown\n"
    channels = write_channels(tmp_path, text, {"HOOK": f"json://127.0.0.1:9/hooks/{SECRET}"})
    hook = channels["hook"]
    assert hook.tags == ("team",)
    assert hook.format == "markdown"
    assert hook.masked().startswith("json://127.0.0.1:9/")
    for shown in (hook.masked(), repr(hook), str(hook)):
        assert SECRET not in shown


def test_secret_is_resolved_only_at_delivery(tmp_path: Path, hook: Hook) -> None:
    calls: list[str] = []

    def resolver(name: str) -> str:
        calls.append(name)
        return hook.url(path=f"/{SECRET}")

    channels = write_channels(tmp_path, "channels:\n  s:\n    url: secret:team-hook\n", {})
    assert calls == []
    assert channels["s"].masked() == "secret:team-hook"
    send(channels["s"], render_alert(entry_of(make_item(1))), resolver=resolver)
    assert calls == ["team-hook"]
    assert hook.posts[0]["path"] == f"/{SECRET}"


def test_secret_without_resolver_is_a_clear_delivery_error(tmp_path: Path) -> None:
    channels = write_channels(tmp_path, "channels:\n  s:\n    url: secret:x\n", {})
    with pytest.raises(DeliveryError, match="needs a secret resolver"):
        channels["s"].targets(None)


def test_apprise_config_file_channel(tmp_path: Path, hook: Hook) -> None:
    (tmp_path / "apprise.yml").write_text(
        f"urls:\n  - {hook.url(path='/a')}:\n    - tag: team\n  - {hook.url(path='/b')}:\n    - tag: other\n",
        encoding="utf-8",
    )
    text = "channels:\n  team:\n    config: apprise.yml\n    tags: [team]\n"
    channels = write_channels(tmp_path, text, {})
    targets = channels["team"].targets()
    assert len(targets) == 1
    send(channels["team"], render_alert(entry_of(make_item(1))))
    assert [p["path"] for p in hook.posts] == ["/a"]


def test_missing_apprise_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"channels.yaml:3: channels.t.config: .*not found"):
        write_channels(tmp_path, "channels:\n  t:\n    config: nope.yml\n", {})


def test_project_channels_file_loads_with_its_documented_variables(repo_root: Path) -> None:
    env = {
        "POLICYWATCH_SMTP_URL": "mailtos://alerts:pw@smtp.example.org?to=analyst@example.org",
        "POLICYWATCH_SLACK_URL": "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXX",
        "POLICYWATCH_OPS_URL": "json://ops.example.org/hooks/policywatch",
    }
    channels = load_channels(repo_root / "config" / "channels.yaml", environ=env)
    assert {"analyst-email", "ev-team-slack", "ops"} <= set(channels)
    assert load_channels(repo_root / "config" / "channels.yaml", resolve_env=False)
