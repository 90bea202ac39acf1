"""Subscribers' watchlists (``config/watchlists.yaml``, DESIGN 3.4): models, validation, schema.

A watchlist is checked against everything it refers to, so that a typo is an error at load and
not a silently dead watchlist: sector ids (sectors.yaml), companies by any name or alias
(companies.yaml), issuing bodies (bodies.yaml) and channels (the keys of ``channels:`` in
channels.yaml). Every problem names file:line and suggests the closest known name; all of them are
reported at once.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from parsers.bodies import BodyIndex
from parsers.records import Section
from policywatch.errors import ConfigError
from policywatch.settings import Config
from policywatch.taxonomy import Taxonomy, load_taxonomy
from policywatch.yamlconf import YamlDoc, dotted, load_yaml, unknown_name, validate

log = logging.getLogger("policywatch.watchlists")

WATCHLISTS_FILE = "watchlists.yaml"
CHANNELS_FILE = "channels.yaml"
SCHEMA_FILE = "watchlists.schema.json"
ALL_SECTIONS: tuple[Section, ...] = get_args(Section)
Mode = Literal["instant", "digest"]


class Watchlist(BaseModel):
    """One subscriber's interest: any facet matches (or all, with ``require_all``)."""

    model_config = ConfigDict(extra="forbid", title="Watchlist")

    name: str = Field(
        min_length=1,
        pattern=r"^[^|\s]+$",
        description="unique name, shown in alerts (no spaces, no '|')",
    )
    description: str | None = Field(None, description="what this watchlist is for")
    sectors: list[str] = Field(default_factory=list, description="sector ids from sectors.yaml")
    companies: list[str] = Field(
        default_factory=list, description="company names or aliases from companies.yaml"
    )
    bodies: list[str] = Field(
        default_factory=list, description="issuing bodies: ids or names from bodies.yaml"
    )
    keywords: list[str] = Field(
        default_factory=list,
        description="free terms; English on word boundaries, Chinese as substrings",
    )
    exclude: list[str] = Field(
        default_factory=list, description="drop an item when any of these terms occurs"
    )
    require_all: bool = Field(
        False, description="true: every listed facet must match (AND) instead of any (OR)"
    )
    sections: list[Section] = Field(
        default_factory=lambda: list(ALL_SECTIONS),
        description="newsletter sections to read (default: all)",
    )
    channels: list[str] = Field(default_factory=list, description="names from channels.yaml")
    mode: Mode = Field("instant", description="instant: one message per item; digest: one per run")
    follow_ups: bool = Field(
        True,
        description="also alert MERICS commentary on a ministry document this watchlist was "
        "already alerted to (marked as a follow-up); false: leave it out",
    )

    @field_validator("sectors", "companies", "bodies", "keywords", "exclude", "channels")
    @classmethod
    def _no_blanks(cls, values: list[str]) -> list[str]:
        if any(not v.strip() for v in values):
            raise ValueError("empty entry")
        return values

    @model_validator(mode="after")
    def _has_a_facet(self) -> Watchlist:
        if not (self.sectors or self.companies or self.bodies or self.keywords):
            raise ValueError("needs at least one of sectors, companies, bodies, keywords")
        return self


class WatchlistsFile(BaseModel):
    """``config/watchlists.yaml``."""

    model_config = ConfigDict(
        extra="forbid",
        title="policywatch watchlists",
        json_schema_extra={"description": "Watchlists: who hears about which policy items."},
    )

    watchlists: list[Watchlist] = Field(default_factory=list)


def json_schema() -> dict[str, Any]:
    """The JSON Schema editors use to complete and check watchlists.yaml."""
    schema = WatchlistsFile.model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


def json_schema_text() -> str:
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


def channel_names(path: Path) -> list[str] | None:
    """The channel names defined in channels.yaml, or None when the file does not exist."""
    if not path.exists():
        return None
    data = load_yaml(path).data
    channels = data.get("channels") if isinstance(data, dict) else None
    return [str(k) for k in channels] if isinstance(channels, dict) else []


def load_watchlists(
    config: Config,
    path: Path | None = None,
    *,
    taxonomy: Taxonomy | None = None,
    channels: list[str] | None = None,
) -> list[Watchlist]:
    """Read and check ``path`` (default: the config's watchlists.yaml) against the other files."""
    path = path or config.dir / WATCHLISTS_FILE
    if channels is None:
        channels = channel_names(config.dir / CHANNELS_FILE)
    return read_watchlists(
        path,
        taxonomy=taxonomy if taxonomy is not None else load_taxonomy(config),
        bodies=config.bodies,
        channels=channels,
    )


def read_watchlists(
    path: Path,
    *,
    taxonomy: Taxonomy,
    bodies: BodyIndex,
    channels: list[str] | None,
    warn_empty: bool = True,
) -> list[Watchlist]:
    """Validate one watchlists file; ``channels=None`` means channels.yaml is missing. An empty
    file is logged as a warning (once per process) unless the caller reports it itself."""
    doc = load_yaml(path)
    try:
        data = validate(doc, WatchlistsFile)
    except ConfigError as exc:
        # report the references of the entries that could be read too: all problems at once
        more = _problems(doc, _readable(doc.data), taxonomy, bodies, channels)
        if not more:
            raise
        errors = sorted([*str(exc).splitlines(), *more], key=lambda line: _line_of(doc, line))
        raise ConfigError("\n".join(errors), hint=exc.hint) from None
    errors = _problems(doc, data.watchlists, taxonomy, bodies, channels)
    if errors:
        raise ConfigError("\n".join(errors), hint=f"fix {path} and run `policywatch check-config`")
    if not data.watchlists and warn_empty:
        _warn_empty(path)
    return data.watchlists


_warned: set[Path] = set()


def _warn_empty(path: Path) -> None:
    """Once per file and process: a run with no watchlist matches nothing and alerts nobody."""
    key = path.resolve()
    if key not in _warned:
        _warned.add(key)
        log.warning("%s: %s", path, EMPTY_WARNING)


EMPTY_WARNING = (
    "no watchlists: runs will match nothing and send no alert (add one under `watchlists:`)"
)


def _readable(data: object) -> list[Watchlist]:
    """The entries of an invalid file as far as their names and references can be read."""
    entries = data.get("watchlists") if isinstance(data, dict) else None
    out: list[Watchlist] = []
    for entry in entries if isinstance(entries, list) else []:
        raw = entry if isinstance(entry, dict) else {}
        name = raw.get("name")

        def strings(key: str, raw: dict[Any, Any] = raw) -> list[str]:
            value = raw.get(key)
            items = value if isinstance(value, list) else []
            return [v for v in items if isinstance(v, str) and v.strip()]

        out.append(
            Watchlist.model_construct(
                name=name if isinstance(name, str) else "",
                sectors=strings("sectors"),
                companies=strings("companies"),
                bodies=strings("bodies"),
                channels=strings("channels"),
            )
        )
    return out


def _line_of(doc: YamlDoc, message: str) -> int:
    """The line number a ``file:line: ...`` message starts with (0 when it has none)."""
    head = message.removeprefix(f"{doc.path}:").split(":", 1)[0]
    return int(head) if head.isdigit() else 0


def _problems(
    doc: YamlDoc,
    watchlists: list[Watchlist],
    taxonomy: Taxonomy,
    bodies: BodyIndex,
    channels: list[str] | None,
) -> list[str]:
    out: list[str] = []
    first: dict[str, int] = {}
    for i, wl in enumerate(watchlists):
        if wl.name and wl.name in first:
            line = doc.line(("watchlists", first[wl.name]))
            out.append(
                f"{doc.where(('watchlists', i, 'name'))}: watchlists[{i}].name: duplicate "
                f"watchlist name '{wl.name}' (first on line {line})"
            )
        first.setdefault(wl.name, i)
        out += _reference_problems(doc, i, wl, taxonomy, bodies, channels)
    return out


def _reference_problems(
    doc: YamlDoc,
    i: int,
    wl: Watchlist,
    taxonomy: Taxonomy,
    bodies: BodyIndex,
    channels: list[str] | None,
) -> list[str]:
    out: list[str] = []
    body_names = [n for b in bodies.bodies for n in (b.id, b.en)]
    checks: list[tuple[str, str, list[str], Callable[[str], object], Callable[[], list[str]]]] = [
        ("sectors", "sector", wl.sectors, taxonomy.sector, taxonomy.sector_ids),
        (
            "companies",
            "company",
            wl.companies,
            taxonomy.company,
            lambda: [*taxonomy.company_names()],
        ),
        ("bodies", "body", wl.bodies, bodies.canonical, lambda: body_names),
    ]
    for key, what, values, lookup, known in checks:
        for k, value in enumerate(values):
            if lookup(value) is None:
                out.append(unknown_name(doc, ("watchlists", i, key, k), what, value, known()))
    for k, channel in enumerate(wl.channels):
        if channels is None:
            loc = ("watchlists", i, "channels", k)
            out.append(
                f"{doc.where(loc)}: {dotted(loc)}: unknown channel '{channel}' "
                f"({CHANNELS_FILE} not found next to {doc.path.name})"
            )
        elif channel not in channels:
            out.append(
                unknown_name(doc, ("watchlists", i, "channels", k), "channel", channel, channels)
            )
    return out
