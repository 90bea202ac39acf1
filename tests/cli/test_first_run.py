"""A new user's first steps: ``init``, a config folder without the taxonomy, an empty watchlists
file, bad state URLs, YAML typos, ``run`` refusing a broken config before Prefect starts,
apprise's own log lines, and read-only commands that never create a state database."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from policywatch.cli.init import FILES
from policywatch.errors import ConfigError
from policywatch.settings import Config, check_for_run
from policywatch.yamlconf import load_yaml

CLI = str(Path(sys.executable).with_name("policywatch"))
REPO = Path(__file__).resolve().parents[2]
ISSUE = REPO / "tests" / "match" / "fixtures" / "issue-2025-03.txt"


def cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("POLICYWATCH_", "PREFECT_"))}
    return subprocess.run(
        [CLI, *args], cwd=cwd, env={**clean, "COLUMNS": "200", **(env or {})},
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def project(tmp_path: Path, **files: str) -> Path:
    """A project folder whose config/ holds only ``files`` (name with dots as underscores)."""
    config = tmp_path / "config"
    config.mkdir(parents=True)
    for name, text in files.items():
        (config / name.replace("_yaml", ".yaml")).write_text(text, encoding="utf-8")
    return tmp_path


WATCHLIST = """\
watchlists:
  - name: batteries
    sectors: [batteries]
    bodies: [MIIT]
    companies: [CATL]
"""


# -- policywatch init ---------------------------------------------------------------------------


def test_init_writes_a_starter_config_that_checks_clean(tmp_path: Path) -> None:
    done = cli("init", "proj", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    config = tmp_path / "proj" / "config"
    assert sorted(p.name for p in config.iterdir()) == sorted(FILES)
    for name in FILES:
        assert (config / name).read_text(encoding="utf-8").startswith("#")  # commented
    assert "cd proj" in done.stdout
    assert "policywatch check-config" in done.stdout
    assert "policywatch run --dry-run" in done.stdout
    env = {"POLICYWATCH_SMTP_URL": "mailto://user:pw@localhost:2525?to=a@example.org"}
    checked = cli("check-config", cwd=tmp_path / "proj", env=env)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "1 watchlist(s)" in checked.stdout
    assert "shipped, not in" in checked.stdout  # the taxonomy comes with policywatch


def test_init_never_overwrites(tmp_path: Path) -> None:
    assert cli("init", cwd=tmp_path).returncode == 0
    mine = tmp_path / "config" / "watchlists.yaml"
    mine.write_text("watchlists: []\n", encoding="utf-8")
    again = cli("init", cwd=tmp_path)
    assert again.returncode == 2
    assert "not overwriting existing config" in again.stderr
    assert "config/watchlists.yaml" in again.stderr
    assert mine.read_text(encoding="utf-8") == "watchlists: []\n"


# -- the shipped taxonomy -----------------------------------------------------------------------


def test_a_config_folder_without_the_taxonomy_uses_the_shipped_files(tmp_path: Path) -> None:
    root = project(tmp_path, watchlists_yaml=WATCHLIST)
    config = Config(root / "config")
    assert config.file("bodies.yaml") == REPO / "config" / "bodies.yaml"
    assert config.bodies.canonical("工信部") == "MIIT"
    checked = cli("check-config", "--no-env", cwd=root)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "Traceback" not in checked.stderr
    matched = cli("match", str(ISSUE), "--format", "json", cwd=root)
    assert matched.returncode == 0, matched.stderr
    assert json.loads(matched.stdout)["items"]
    parsed = cli("parse", str(ISSUE), cwd=root)
    assert parsed.returncode == 0, parsed.stderr


def test_own_taxonomy_files_still_win(tmp_path: Path) -> None:
    root = project(tmp_path, bodies_yaml="bodies:\n  - {id: X, en: Office X, zh: 某办公室}\n")
    assert Config(root / "config").file("bodies.yaml") == root / "config" / "bodies.yaml"
    assert Config(root / "config").bodies.canonical("某办公室") == "X"


# -- empty watchlists, state URLs -------------------------------------------------------------


def test_an_empty_watchlists_file_warns_in_check_config_and_before_a_run(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = project(tmp_path, watchlists_yaml="# nothing yet\n")
    checked = cli("check-config", "--no-env", cwd=root)
    assert checked.returncode == 0
    assert "warn" in checked.stderr
    assert "no watchlists: runs will match nothing and send no alert" in checked.stderr
    caplog.set_level(logging.WARNING, logger="policywatch")
    check_for_run(Config(root / "config"))  # a warning, not an error
    assert any("no watchlists" in r.getMessage() for r in caplog.records)


def test_check_config_rejects_unsupported_state_urls_with_their_line(tmp_path: Path) -> None:
    root = project(
        tmp_path, policywatch_yaml="http:\n  per_host_concurrency: 2\nstate_url: mysql://u@h/db\n"
    )
    checked = cli("check-config", "--no-env", cwd=root)
    assert checked.returncode == 2
    assert "policywatch.yaml:3: state_url: unsupported state database 'mysql'" in checked.stderr
    root2 = project(tmp_path / "two", watchlists_yaml=WATCHLIST)
    env_bad = cli(
        "check-config", "--no-env", cwd=root2, env={"POLICYWATCH_STATE_URL": "mysql://x/y"}
    )
    assert env_bad.returncode == 2
    assert "POLICYWATCH_STATE_URL: unsupported state database 'mysql'" in env_bad.stderr


@pytest.mark.parametrize(
    "url", ["sqlite:///var/x.db", "sqlite+pysqlite:///var/x.db", "sqlite:///./var/x.db?timeout=5"]
)
def test_a_relative_sqlite_state_url_is_under_the_project_folder_wherever_we_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    root = project(tmp_path / "proj", policywatch_yaml=f"state_url: {url}\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    resolved = Config(root / "config").state_url()
    scheme = url.split(":///")[0]
    assert resolved.startswith(f"{scheme}:///{root}/")
    assert resolved.split("?")[0].endswith("var/x.db")
    assert ("?timeout=5" in resolved) == ("?" in url)
    monkeypatch.setenv("POLICYWATCH_STATE_URL", "sqlite:///env/state.db")
    assert Config(root / "config").state_url() == f"sqlite:///{root}/env/state.db"


def test_read_only_commands_never_create_a_state_database(tmp_path: Path) -> None:
    root = project(tmp_path, watchlists_yaml=WATCHLIST)
    done = cli("match", "--backtest", cwd=root)
    assert done.returncode == 2
    assert f"no state database at {root}/var/state.db" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (root / "var").exists()


# -- YAML syntax errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "what"),
    [
        ("watchlists:\n  - name: a\n\tsectors: [x]\n", 3, "a tab in the indentation"),
        ("watchlists:\n  - name: a\n    sectors:\n\t- x\n", 4, "a tab in the indentation"),
        ("watchlists:\n  - name: a\n    sectors [x]\n    channels: [c]\n", 3, "a key without ':'"),
        ("state_url sqlite:///x\nhttp:\n  max_bytes: 5\n", 1, "a key without ':'"),
        ("http:\n  max_bytes 5\n  per_host_interval: 1\n", 2, "a key without ':'"),
        ('watchlists:\n  - name: "a\n    sectors: [x]\n', 2, "a quote opened on this line"),
        ("watchlists:\n  - name: 'a\n    sectors: [x]\n", 2, "a quote opened on this line"),
        ("watchlists:\n  - name: a\n    sectors: [x, y\n    mode: instant\n", 3, "a bracket"),
        ("http:\n  max_bytes: 5\n   per_host_interval: 1\n", 3, "the indentation does not"),
        ("watchlists:\n  - name: a\n   sectors: [x]\n", 3, "the indentation does not line up"),
        ("watchlists:\n  - name: a\n    sectors: [x]\n channels: [c]\n", 4, "the indentation"),
    ],
    ids=[
        "tab-key", "tab-list", "no-colon", "no-colon-top", "no-colon-nested", "double-quote",
        "single-quote", "bracket", "indent-deeper", "indent-list", "indent-shallower",
    ],
)  # fmt: skip
def test_yaml_syntax_errors_name_the_line_of_the_mistake(
    tmp_path: Path, text: str, line: int, what: str
) -> None:
    path = tmp_path / "watchlists.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_yaml(path)
    message = str(info.value)
    assert message.startswith(f"{path}:{line}: invalid YAML: {what}")
    assert message.endswith(")")  # with a hint on how to fix it


# -- run checks the whole config before Prefect ------------------------------------------------

PROBE = """
import json, sys
sys.argv = ["policywatch", *json.loads(sys.argv[1])]
from policywatch.cli import main
try:
    main()
except SystemExit as exc:
    print("EXIT=" + str(exc.code), file=sys.stderr)
print("PREFECT=" + str(any(m.split(".")[0] == "prefect" for m in sys.modules)), file=sys.stderr)
"""


def test_run_lists_every_config_problem_before_starting_prefect(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        policywatch_yaml="http:\n  per_host_concurency: 2\n",
        channels_yaml="channels:\n  mail:\n    ur1: mailto://x\n",
        watchlists_yaml="watchlists:\n  - name: a\n    sectors: [batteriez]\n    channels: [mail]\n",
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("POLICYWATCH_", "PREFECT_"))}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(["run"])], cwd=root, env=clean,
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert "EXIT=2" in done.stderr, done.stderr
    assert "PREFECT=False" in done.stderr  # refused before Prefect was even imported
    assert "policywatch.yaml:2: http.per_host_concurency: unknown key" in done.stderr
    assert "channels.yaml:3" in done.stderr
    assert "watchlists.yaml:3: watchlists[0].sectors[0]: unknown sector 'batteriez'" in done.stderr


def test_check_for_run_passes_a_good_config(repo_root: Path) -> None:
    check_for_run(Config(repo_root / "samples" / "config"))


# -- apprise's log lines ------------------------------------------------------------------------


def test_apprise_log_lines_stay_out_of_the_output_unless_verbose(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nobody listens on: apprise logs the failure
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    root = project(
        tmp_path,
        channels_yaml=f"channels:\n  hook:\n    url: json://127.0.0.1:{port}/hook\n",
        watchlists_yaml=WATCHLIST.replace("companies: [CATL]", "channels: [hook]"),
    )
    quiet = cli("test-alert", "batteries", cwd=root)
    loud = cli("-v", "test-alert", "batteries", cwd=root)
    assert quiet.returncode == loud.returncode != 0
    assert " apprise" not in quiet.stderr + quiet.stdout
    assert " apprise" in loud.stderr  # the same run with -v shows them


# -- make demo's folder -------------------------------------------------------------------------


def test_the_demo_folder_is_wiped_only_when_a_demo_made_it(tmp_path: Path) -> None:
    from policywatch.demo import DEMO_MARKER, fresh_demo_dir
    from policywatch.errors import PolicywatchError

    demo = fresh_demo_dir(tmp_path / "var" / "demo")
    (demo / "state.db").write_bytes(b"an earlier demo's state")
    assert list(fresh_demo_dir(demo).iterdir()) == [demo / DEMO_MARKER]  # afresh
    precious = tmp_path / "mine"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me", encoding="utf-8")
    with pytest.raises(PolicywatchError, match="not made by `policywatch demo`; not wiping it"):
        fresh_demo_dir(precious)
    assert (precious / "notes.txt").read_text(encoding="utf-8") == "keep me"
