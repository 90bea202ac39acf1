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


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        (
            "http:\n  allowed_hosts:\n    - https://docs.example.net/path\n",
            "policywatch.yaml:3: http.allowed_hosts",
            "is not a host name; write it as 'docs.example.net'",
        ),
        (
            "http:\n  allowed_hosts: [docs.example.net, '*.']\n",
            "policywatch.yaml:2: http.allowed_hosts",
            "'*.' is not a host name (use 'example.org' or '*.example.org')",
        ),
        (
            "sources:\n  - name: m\n    type: merics\n    feed_url: merics.org/en/rss.xml\n",
            "policywatch.yaml:4: sources[0].feed_url",
            "'merics.org/en/rss.xml' is not an http(s) URL",
        ),
        (
            "sources:\n  - name: m\n    type: merics\n    feed_url: null\n    listing_url: null\n",
            "policywatch.yaml:2: sources[0]",
            "a merics source needs 'feed_url' or 'listing_url'",
        ),
    ],
)
def test_unusable_hosts_and_urls_are_rejected_at_load(
    tmp_path: Path, text: str, where: str, message: str
) -> None:
    config = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        _ = config.app
    assert where in str(info.value)
    assert message in str(info.value)


def test_allowed_hosts_are_matched_case_insensitively(tmp_path: Path) -> None:
    app = write(
        tmp_path, "http:\n  allowed_hosts: [Docs.Example.NET., '*.Files.Example.org']\n"
    ).app
    assert app.http.allowed_hosts == ["docs.example.net", "*.files.example.org"]
