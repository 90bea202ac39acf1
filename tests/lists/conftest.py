"""Fixtures for the list parser and document identity tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "lists"


def load_cases() -> dict[str, dict[str, Any]]:
    """``<site>/<case>`` -> {url, encoding?} from the fixtures' cases.yaml."""
    with (FIXTURES / "cases.yaml").open(encoding="utf-8") as fh:
        cases: dict[str, dict[str, Any]] = yaml.safe_load(fh)
    return cases


def fixture_file(case: str) -> Path:
    """The page or API answer of a case (``.html`` or ``.json``)."""
    found = [p for p in FIXTURES.glob(f"{case}.*") if not p.name.endswith(".expected.json")]
    if len(found) != 1:
        raise FileNotFoundError(f"{case}: expected one .html or .json file, found {found}")
    return found[0]
