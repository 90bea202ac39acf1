"""The bilingual taxonomy: sectors (``config/sectors.yaml``) and companies (``companies.yaml``).

Both files are validated at load like every config file (unknown keys, file:line). On top of
the per-file schema, cross-file problems are reported together: a duplicate sector id, a name or
alias claimed by two companies (it would make matches ambiguous), a company tagged with an
unknown sector. Names are compared width- and case-insensitively, as the matcher sees them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field

from parsers.text import fold, squash
from policywatch.errors import ConfigError
from policywatch.settings import Config
from policywatch.yamlconf import YamlDoc, load_yaml, unknown_name, validate

M = TypeVar("M", bound=BaseModel)

SECTORS_FILE = "sectors.yaml"
COMPANIES_FILE = "companies.yaml"


def name_key(name: str) -> str:
    """How names are compared: width-folded, whitespace squashed, lower-cased."""
    return squash(fold(name)).lower()


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Sector(_Strict):
    id: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", description="lowercase-dashes id")
    name_en: str = Field(min_length=1)
    name_zh: str = Field(min_length=1)
    terms_en: list[str] = Field(default_factory=list, description="matched on word boundaries")
    terms_zh: list[str] = Field(default_factory=list, description="matched as substrings")
    description: str | None = None

    def terms(self) -> list[str]:
        """Every string that signals this sector, names included."""
        return _unique([self.name_en, self.name_zh, *self.terms_en, *self.terms_zh])


class Company(_Strict):
    name_en: str = Field(min_length=1, description="the canonical name shown in alerts")
    name_zh: str | None = None
    aliases: list[str] = Field(default_factory=list, description="short names, old names")
    sectors: list[str] = Field(default_factory=list, description="sector ids")
    country: str | None = None

    def names(self) -> list[str]:
        return _unique([self.name_en, *([self.name_zh] if self.name_zh else []), *self.aliases])


class BodySpec(_Strict):
    id: str = Field(min_length=1)
    en: str = Field(min_length=1)
    zh: str = Field(min_length=1)
    aliases: list[str] = Field(default_factory=list)


class BodiesFile(_Strict):
    """The schema of bodies.yaml (``parsers.bodies`` reads it; ``check-config`` validates it)."""

    bodies: list[BodySpec]


class SectorsFile(_Strict):
    sectors: list[Sector]


class CompaniesFile(_Strict):
    companies: list[Company]


def _unique(names: Iterable[str]) -> list[str]:
    seen: dict[str, str] = {}
    for name in names:
        if name.strip():
            seen.setdefault(name_key(name), name)
    return list(seen.values())


@dataclass(eq=False)
class Taxonomy:
    """Sectors and companies with lookups by id and by any company name or alias."""

    sectors: list[Sector] = field(default_factory=list)
    companies: list[Company] = field(default_factory=list)
    _sector_by_id: dict[str, Sector] = field(init=False, repr=False)
    _company_by_key: dict[str, Company] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._sector_by_id = {s.id: s for s in self.sectors}
        self._company_by_key = {}
        for company in self.companies:
            for name in company.names():
                self._company_by_key.setdefault(name_key(name), company)

    def sector(self, sector_id: str) -> Sector | None:
        return self._sector_by_id.get(sector_id)

    def company(self, name: str) -> Company | None:
        """The company that has ``name`` as its name or one of its aliases."""
        return self._company_by_key.get(name_key(name))

    def sector_ids(self) -> list[str]:
        return list(self._sector_by_id)

    def company_names(self) -> Iterator[str]:
        for company in self.companies:
            yield from company.names()


def load_taxonomy(config: Config) -> Taxonomy:
    """Read and cross-check sectors.yaml and companies.yaml; all problems in one ConfigError."""
    return load_taxonomy_files(*taxonomy_paths(config))


def taxonomy_paths(config: Config) -> tuple[Path, Path]:
    """The config folder's taxonomy files; the shipped ones when a folder has none of its own."""
    return config.file(SECTORS_FILE), config.file(COMPANIES_FILE)


def load_taxonomy_files(sectors_path: Path, companies_path: Path) -> Taxonomy:
    errors: list[str] = []
    sectors_doc, sectors = _load(sectors_path, SectorsFile, errors)
    companies_doc, companies = _load(companies_path, CompaniesFile, errors)
    if sectors is not None and sectors_doc is not None:
        errors += _sector_problems(sectors_doc, sectors)
    if companies is not None and companies_doc is not None:
        errors += _company_problems(companies_doc, companies, _raw_ids(sectors_doc))
    if errors:
        raise ConfigError(
            "\n".join(errors), hint="fix the taxonomy files and run `policywatch check-config`"
        )
    assert sectors is not None
    assert companies is not None
    return Taxonomy(sectors.sectors, companies.companies)


def _load(path: Path, model: type[M], errors: list[str]) -> tuple[YamlDoc | None, M | None]:
    """The document (when it parses) and the model (when it validates); problems go to errors."""
    try:
        doc = load_yaml(path)
    except ConfigError as exc:
        errors.extend(str(exc).splitlines())
        return None, None
    try:
        return doc, validate(doc, model)
    except ConfigError as exc:
        errors.extend(str(exc).splitlines())
        return doc, None


def _raw_ids(doc: YamlDoc | None) -> list[str] | None:
    """Sector ids as written, so company sectors are checked even when sectors.yaml has errors."""
    rows = doc.data.get("sectors") if doc is not None and isinstance(doc.data, dict) else None
    if not isinstance(rows, list):
        return None
    return [str(r["id"]) for r in rows if isinstance(r, dict) and "id" in r]


def _sector_problems(doc: YamlDoc, data: SectorsFile) -> list[str]:
    out: list[str] = []
    seen: dict[str, int] = {}
    for i, sector in enumerate(data.sectors):
        if sector.id in seen:
            first = doc.line(("sectors", seen[sector.id]))
            out.append(
                f"{doc.where(('sectors', i, 'id'))}: sectors[{i}].id: duplicate sector id "
                f"'{sector.id}' (first defined on line {first})"
            )
        seen.setdefault(sector.id, i)
        if not sector.terms_en and not sector.terms_zh:
            out.append(f"{doc.where(('sectors', i))}: sectors[{i}]: needs terms_en or terms_zh")
    return out


def _company_problems(doc: YamlDoc, data: CompaniesFile, sector_ids: list[str] | None) -> list[str]:
    out: list[str] = []
    owner: dict[str, tuple[int, str]] = {}
    for i, company in enumerate(data.companies):
        for name in company.names():
            key = name_key(name)
            if key in owner and owner[key][0] != i:
                j, other = owner[key]
                out.append(
                    f"{doc.where(('companies', i))}: companies[{i}]: name or alias '{name}' is "
                    f"already used by '{other}' (line {doc.line(('companies', j))})"
                )
            owner.setdefault(key, (i, company.name_en))
        for k, sector_id in enumerate(company.sectors if sector_ids is not None else []):
            if sector_id not in (sector_ids or []):
                out.append(
                    unknown_name(
                        doc, ("companies", i, "sectors", k), "sector", sector_id, sector_ids or []
                    )
                )
    return out
