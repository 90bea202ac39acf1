"""Every command of the CLI is documented in the README (a command nobody can find is not done)."""

from __future__ import annotations

from pathlib import Path

import typer.main

from policywatch.cli import app


def test_every_command_is_in_the_readme(repo_root: Path) -> None:
    readme = (repo_root / "README.md").read_text(encoding="utf-8")
    commands = sorted(typer.main.get_command(app).commands)  # type: ignore[attr-defined]
    assert len(commands) >= 13
    missing = [name for name in commands if f"policywatch {name}" not in readme]
    assert missing == []
