"""Load and validate ``config/policywatch.yaml`` (sources, HTTP, state, schedule, allow-list).

Defaults live here, in one place; the YAML only overrides them. Unknown keys are rejected with
file:line and the allowed keys (see ``policywatch.yamlconf``). The other config files have their
own loaders next to the code that uses them (watchlists/taxonomy, channels), all sharing
``yamlconf``.

Where config lives: ``--config-dir`` / ``POLICYWATCH_CONFIG_DIR``, else ``./config`` when it holds
``policywatch.yaml`` or ``watchlists.yaml``, else the ``config/`` folder of this checkout. Relative paths inside it (a SQLite ``state_url``, a folder
source's ``path``) are relative to the folder that holds the config folder (the project folder),
whatever the current directory. A config folder without the taxonomy files (bodies, sectors,
companies) uses the shipped ones (``Config.file``).

``check_for_run`` validates every file at once, before a run starts Prefect.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from parsers.bodies import BodyIndex
from policywatch.yamlconf import load_yaml, validate

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
SHIPPED_CONFIG = PACKAGE_ROOT / "config"
STATE_DIALECTS = ("sqlite", "postgresql")
STATE_URL_HINT = "use a sqlite:/// file or a postgresql+psycopg:// URL"

# SITES.md §12: the government hosts an issue's links may lead to. "*." entries match subdomains.
DEFAULT_ALLOWED_HOSTS = (
    "merics.org",
    "*.merics.org",
    "www.miit.gov.cn",
    "wap.miit.gov.cn",
    "www.cac.gov.cn",
    "cac.gov.cn",
    "www.samr.gov.cn",
    "www.ndrc.gov.cn",
    "zfxxgk.ndrc.gov.cn",
    "www.gov.cn",
    "gov.cn",
    "www.mofcom.gov.cn",
    "*.mofcom.gov.cn",
    "www.mee.gov.cn",
    "www.mof.gov.cn",
    "*.mof.gov.cn",
    "www.nea.gov.cn",
    "zfxxgk.nea.gov.cn",
)


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _bare_host(host: str) -> str:
    """An allow-list entry: ``example.org`` or ``*.example.org``, lower-cased."""
    bare = host.removeprefix("*.")
    if not bare or bare.startswith(".") or any(c in bare for c in "/:@ *?#"):
        name = urlsplit(host).hostname if "//" in host else None
        hint = f"; write it as '{name}'" if name else " (use 'example.org' or '*.example.org')"
        raise ValueError(f"'{host}' is not a host name{hint}")
    return host.lower().rstrip(".")


class HttpSettings(Section):
    user_agent: str = "policywatch/0.1 (+https://github.com/policywatch/policywatch; policy alerts)"
    connect_timeout: float = Field(10.0, gt=0, description="seconds to open a connection")
    read_timeout: float = Field(30.0, gt=0, description="seconds between bytes")
    total_timeout: float = Field(60.0, gt=0, description="seconds for one whole request")
    max_bytes: int = Field(
        20_000_000, gt=0, description="response size cap, enforced while streaming"
    )
    max_attempts: int = Field(4, ge=1, le=10)
    backoff_base: float = Field(
        0.5, ge=0, description="first retry delay in seconds; doubles each time"
    )
    backoff_max: float = Field(30.0, ge=0)
    retry_after_cap: float = Field(
        120.0, ge=0, description="longest Retry-After we honour, seconds"
    )
    per_host_concurrency: int = Field(2, ge=1, le=32)
    per_host_interval: float = Field(
        0.5, ge=0, description="minimum seconds between request starts per host"
    )
    max_connections: int = Field(20, ge=1)
    max_redirects: int = Field(5, ge=0, le=20)
    allowed_hosts: list[Annotated[str, AfterValidator(_bare_host)]] = Field(
        default_factory=list, description="added to the built-in allow-list"
    )
    allow_private_hosts: list[Annotated[str, AfterValidator(_bare_host)]] = Field(
        default_factory=list,
        description="allowed hosts that may resolve to private or loopback addresses "
        "(an intranet mirror); every other name must resolve to public addresses",
    )

    def allow_list(self) -> tuple[str, ...]:
        return (*DEFAULT_ALLOWED_HOSTS, *self.allowed_hosts, *self.allow_private_hosts)


class SourceSettings(Section):
    name: str
    type: Literal["merics", "folder"]
    enabled: bool = True
    # merics
    feed_url: str | None = "https://merics.org/en/rss.xml"
    listing_url: str | None = (
        "https://merics.org/en/analysis?field_publication_type=15&sort_by=field_date_published"
    )
    listing_pages: int = Field(
        3, ge=0, description="listing pages read when the feed fails or on backfill"
    )
    # folder
    path: str | None = None

    @field_validator("feed_url", "listing_url")
    @classmethod
    def _web_url(cls, url: str | None) -> str | None:
        parts = urlsplit(url or "")
        if url is not None and (parts.scheme not in ("http", "https") or not parts.hostname):
            raise ValueError(f"'{url}' is not an http(s) URL")
        return url

    @model_validator(mode="after")
    def _folder_needs_path(self) -> SourceSettings:
        if self.type == "folder" and not self.path:
            raise ValueError("a folder source needs 'path' (the folder with saved issues)")
        if self.type == "merics" and not (self.feed_url or self.listing_url):
            raise ValueError("a merics source needs 'feed_url' or 'listing_url'")
        return self


WORKERS_DEPLOYMENT = "workers"  # the name prefect.yaml gives its deployments


class ScheduleSettings(Section):
    """check-updates' schedule, used by ``policywatch serve`` and by ``prefect deploy`` alike."""

    cron: str = Field("0 */6 * * *", description="five-field cron expression")
    timezone: str = Field("UTC", description="IANA time zone of the cron, e.g. Europe/Berlin")
    deployment: str = Field(
        "policywatch", min_length=1, description="name of the deployments `serve` registers"
    )

    @field_validator("cron")
    @classmethod
    def _five_fields(cls, cron: str) -> str:
        if len(cron.split()) != 5:
            raise ValueError(f"'{cron}' is not a five-field cron expression (e.g. '0 */6 * * *')")
        return cron

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, zone: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone '{zone}' (e.g. UTC, Europe/Berlin)") from None
        return zone

    @field_validator("deployment")
    @classmethod
    def _not_the_workers_name(cls, name: str) -> str:
        if name == WORKERS_DEPLOYMENT:
            raise ValueError(f"'{name}' is the name of prefect.yaml's deployments; choose another")
        return name


class DeliverySettings(Section):
    max_attempts: int = Field(
        5, ge=1, description="after this many failed sends an alert is 'failed'"
    )
    backoff_base: float = Field(60.0, ge=0, description="seconds before the first retry; doubles")
    backoff_max: float = Field(6 * 3600.0, ge=0)
    sender: str = "policywatch <policywatch@localhost>"


def state_url_problem(url: str) -> str | None:
    """Why ``url`` cannot be a state database (without loading SQLAlchemy), or None."""
    scheme, sep, _ = url.partition("://")
    if not sep or not scheme:
        return f"'{url}' is not a database URL ({STATE_URL_HINT})"
    backend = scheme.split("+", 1)[0].lower()
    if backend not in STATE_DIALECTS:
        return f"unsupported state database '{backend}' ({STATE_URL_HINT})"
    return None


def _state_url(url: str) -> str:
    problem = state_url_problem(url)
    if problem:
        raise ValueError(problem)
    return url


class AppSettings(Section):
    state_url: Annotated[str, AfterValidator(_state_url)] = "sqlite:///var/state.db"
    http: HttpSettings = Field(default_factory=HttpSettings)
    sources: list[SourceSettings] = Field(
        default_factory=lambda: [SourceSettings(name="merics", type="merics")]
    )
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)
    delivery: DeliverySettings = Field(default_factory=DeliverySettings)

    @field_validator("sources")
    @classmethod
    def _unique_names(cls, sources: list[SourceSettings]) -> list[SourceSettings]:
        seen: set[str] = set()
        for src in sources:
            if src.name in seen:
                raise ValueError(f"duplicate source name '{src.name}'")
            seen.add(src.name)
        return sources


def config_dir(explicit: Path | str | None = None) -> Path:
    if explicit:
        return Path(explicit)
    env = os.environ.get("POLICYWATCH_CONFIG_DIR")
    if env:
        return Path(env)
    local = Path.cwd() / "config"
    mine = any((local / name).is_file() for name in ("policywatch.yaml", "watchlists.yaml"))
    return local if mine else SHIPPED_CONFIG


class Config:
    """All configuration of one run, loaded lazily from one config folder."""

    def __init__(self, directory: Path | str | None = None) -> None:
        self.dir = config_dir(directory)
        self.root = self.dir.resolve().parent

    @cached_property
    def app(self) -> AppSettings:
        path = self.dir / "policywatch.yaml"
        if not path.exists():
            return AppSettings()
        return validate(load_yaml(path), AppSettings)

    @cached_property
    def bodies(self) -> BodyIndex:
        return BodyIndex.load(self.file("bodies.yaml"))

    def file(self, name: str) -> Path:
        """The config folder's ``name``, or the shipped one when the folder has none (taxonomy)."""
        own = self.dir / name
        shipped = SHIPPED_CONFIG / name
        return own if own.exists() or not shipped.exists() else shipped

    def resolve(self, path: str) -> Path:
        """A path from the config, relative to the project folder (not the current directory)."""
        p = Path(path).expanduser()
        return p if p.is_absolute() else self.root / p

    def state_url(self) -> str:
        """``POLICYWATCH_STATE_URL`` wins over the config; a relative SQLite path (any
        ``sqlite[+driver]:///`` URL) is made absolute against the project folder."""
        url = os.environ.get("POLICYWATCH_STATE_URL") or self.app.state_url
        scheme, sep, rest = url.partition(":///")
        if not sep or scheme.split("+", 1)[0].lower() != "sqlite":
            return url
        path, query = rest.partition("?")[::2]
        if not path or path.startswith(("/", ":memory:", "file:")):
            return url
        return f"{scheme}:///{self.resolve(path)}" + (f"?{query}" if query else "")


def check_for_run(config: Config) -> None:
    """Validate every config file and the state URL before a run starts (Prefect's start-up
    takes seconds); one ConfigError lists every problem (file:line each). Warnings, such as an
    empty watchlists file, are logged."""
    from policywatch.configcheck import check_all

    check_all(config)
