"""Each command imports only what it uses: ``--help`` and ``parse`` start without the delivery,
state, Prefect or pipeline code, and commands that run no flow never import Prefect.

Checked in a fresh interpreter (the test process has imported everything already).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("apprise", "sqlalchemy", "prefect", "policywatch.pipeline", "policywatch.demo")

PROBE = """
import json, sys
sys.argv = ["policywatch", *json.loads(sys.argv[1])]
from policywatch.cli import main
try:
    main()
except SystemExit:
    pass
loaded = sorted(m for m in sys.modules
                if m.split(".")[0] in ("apprise", "sqlalchemy", "prefect", "bs4")
                or m in ("policywatch.pipeline", "policywatch.demo"))
print("LOADED=" + json.dumps(loaded), file=sys.stderr)
"""


def loaded_modules(args: list[str], cwd: Path) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(args)],
        cwd=cwd, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    line = next(x for x in done.stderr.splitlines() if x.startswith("LOADED="))
    return {m.split(".")[0] if not m.startswith("policywatch") else m for m in json.loads(line[7:])}


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["parse", "--help"],
        ["parse", "tests/fixtures/merics/html-2025-03-05.html"],
        ["parse", "tests/fixtures/merics/text-2021-01.md", "--format", "table"],
    ],
    ids=["help", "parse-help", "parse-html", "parse-text-table"],
)
def test_help_and_parse_load_no_heavy_module(args: list[str], repo_root: Path) -> None:
    assert loaded_modules(args, repo_root) - {"bs4"} == set()


@pytest.mark.parametrize(
    "args",
    [["--help"], ["parse", "tests/fixtures/merics/text-2021-01.md"]],
    ids=["help", "parse-text"],
)
def test_help_and_a_text_issue_do_not_load_the_html_stack(args: list[str], repo_root: Path) -> None:
    """BeautifulSoup and its CSS engine cost a fifth of parse's start-up: only HTML needs them."""
    assert "bs4" not in loaded_modules(args, repo_root)


def test_the_probe_sees_the_html_stack_when_a_page_is_html(repo_root: Path) -> None:
    assert "bs4" in loaded_modules(
        ["parse", "tests/fixtures/merics/html-2025-03-05.html"], repo_root
    )


@pytest.mark.parametrize(
    "args",
    [
        ["check-config", "--no-env"],
        ["parsers"],
        ["schema"],
        ["match", "tests/match/fixtures/issue-2025-03.txt"],
    ],
    ids=["check-config", "parsers", "schema", "match"],
)
def test_commands_without_a_flow_never_import_prefect(args: list[str], repo_root: Path) -> None:
    loaded = loaded_modules(args, repo_root)
    assert "prefect" not in loaded
    assert "policywatch.pipeline" not in loaded


def test_the_probe_sees_heavy_imports(repo_root: Path) -> None:
    """The check above can fail: a command that delivers does load apprise."""
    assert "apprise" in loaded_modules(["check-config"], repo_root)
