"""Sources and HTTP limits in config/policywatch.yaml: bad keys are reported with file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from policywatch.errors import ConfigError
from policywatch.settings import Config

YAML = """\
http:
  per_host_concurrency: 3
  allowed_hosts: [docs.example.net]
sources:
  - name: merics
    type: merics
  - name: inbox
    type: folder
    path: var/inbox
    feed_urll: https://example.org/rss.xml
"""


def write(tmp_path: Path, text: str) -> Config:
    folder = tmp_path / "config"
    folder.mkdir()
    (folder / "policywatch.yaml").write_text(text, "utf-8")
    return Config(folder)


def test_unknown_source_key_names_file_line_and_suggestion(tmp_path: Path) -> None:
    config = write(tmp_path, YAML)
    with pytest.raises(ConfigError) as info:
        _ = config.app
    message = str(info.value)
    assert "policywatch.yaml:10:" in message
    assert "sources[1].feed_urll" in message
    assert "did you mean 'feed_url'" in message
    assert "listing_pages" in message  # the allowed keys are listed


def test_folder_source_without_path_is_rejected(tmp_path: Path) -> None:
    config = write(tmp_path, "sources:\n  - name: inbox\n    type: folder\n")
    with pytest.raises(
        ConfigError, match=r"policywatch.yaml:2: sources\[0\]: a folder source needs 'path'"
    ):
        _ = config.app


def test_valid_sources_and_http_settings_load(tmp_path: Path) -> None:
    config = write(tmp_path, YAML.replace("    feed_urll: https://example.org/rss.xml\n", ""))
    app = config.app
    assert [s.name for s in app.sources] == ["merics", "inbox"]
    assert app.http.per_host_concurrency == 3
    assert "docs.example.net" in app.http.allow_list()
    assert "www.miit.gov.cn" in app.http.allow_list()
