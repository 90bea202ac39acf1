"""Canonical names of issuing bodies (config/bodies.yaml) and the lookup that maps what a source
writes ("工信部", "Ministry of Industry and Information Technology", "MIIT") to one id.

Pure: built from already-loaded data; ``policywatch.settings`` reads the YAML.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from parsers.text import fold, squash

DEFAULT_BODIES_FILE = Path(__file__).resolve().parent.parent / "config" / "bodies.yaml"
_OFFICE_SUFFIXES = ("办公厅", "办公室", "综合司")
# libyaml's C loader when PyYAML has it: about 10x faster than the pure-Python one on this file,
# which every run reads.
_SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_CJK = re.compile(r"[\u4e00-\u9fff]")


def _key(name: str) -> str:
    text = squash(fold(name)).lower()
    text = re.sub(r"^the\s+", "", text)
    return text.replace("&", "and").replace("’", "'")


@dataclass(frozen=True)
class Body:
    id: str
    en: str
    zh: str
    aliases: tuple[str, ...] = ()

    def names(self) -> tuple[str, ...]:
        return (self.id, self.en, self.zh, *self.aliases)


@dataclass
class BodyIndex:
    """Name -> canonical id, case- and width-insensitive."""

    bodies: list[Body]
    _by_key: dict[str, str] = field(init=False, repr=False)
    _by_id: dict[str, Body] = field(init=False, repr=False)
    _cjk_names: list[tuple[str, str]] = field(init=False, repr=False)  # longest first

    def __post_init__(self) -> None:
        self._by_key = {}
        for body in self.bodies:
            for name in body.names():
                self._by_key.setdefault(_key(name), body.id)
        self._by_id = {}
        for body in self.bodies:
            self._by_id.setdefault(body.id, body)
        self._cjk_names = sorted(
            ((n, b.id) for b in self.bodies for n in (b.zh, *b.aliases) if _CJK.search(n)),
            key=lambda pair: -len(pair[0]),
        )

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> BodyIndex:
        rows: Iterable[Mapping[str, Any]] = data.get("bodies", [])
        return cls(
            [
                Body(
                    str(r["id"]),
                    str(r["en"]),
                    str(r["zh"]),
                    tuple(map(str, r.get("aliases") or ())),
                )
                for r in rows
            ]
        )

    @classmethod
    def load(cls, path: Path = DEFAULT_BODIES_FILE) -> BodyIndex:
        """Read a bodies file (safe YAML); validation with file:line lives in policywatch.settings."""
        with path.open(encoding="utf-8") as fh:
            return cls.from_mapping(yaml.load(fh, Loader=_SAFE_LOADER) or {})

    def canonical(self, name: str) -> str | None:
        """The id for ``name``, trying the name without an office suffix (工信部办公厅 -> MIIT)."""
        key = _key(name)
        if key in self._by_key:
            return self._by_key[key]
        for suffix in _OFFICE_SUFFIXES:
            if key.endswith(suffix) and key[: -len(suffix)] in self._by_key:
                return self._by_key[key[: -len(suffix)]]
        return None

    def canonical_or_self(self, name: str) -> str:
        return self.canonical(name) or squash(name)

    def get(self, body_id: str) -> Body | None:
        return self._by_id.get(body_id)

    def find_in(self, text: str) -> list[str]:
        """Ids of the bodies whose Chinese name or alias occurs in ``text`` (longest names first)."""
        folded = fold(text)
        found: list[str] = []
        if not _CJK.search(folded):
            return found
        for name, body_id in self._cjk_names:
            if name in folded and body_id not in found:
                found.append(body_id)
                folded = folded.replace(name, " ")
        return found
