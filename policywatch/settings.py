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

import datetime as dt
import ipaddress
import os
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from parsers.bodies import BodyIndex
from parsers.limits import MAIL_MAX_BYTES
from policywatch.errors import ConfigError
from policywatch.yamlconf import YamlDoc, load_yaml, substitute_env, validate

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
    max_connections: int | None = Field(
        None,
        ge=1,
        description="requests in flight over all hosts; default: no cap beyond the per-host "
        "limits (each host has its own pool of per_host_concurrency connections)",
    )
    max_redirects: int = Field(5, ge=0, le=20)
    allowed_hosts: list[Annotated[str, AfterValidator(_bare_host)]] = Field(
        default_factory=list, description="added to the built-in allow-list"
    )
    allow_private_hosts: list[Annotated[str, AfterValidator(_bare_host)]] = Field(
        default_factory=list,
        description="allowed hosts that may resolve to private or loopback addresses "
        "(an intranet mirror); every other name must resolve to public addresses",
    )

    proxies: dict[Annotated[str, AfterValidator(_bare_host)], SecretStr] = Field(
        default_factory=dict,
        description="host -> proxy URL (http://user:${PASS}@proxy:3128) for sites that refuse "
        "requests from where policywatch runs",
    )

    def allow_list(self) -> tuple[str, ...]:
        return (*DEFAULT_ALLOWED_HOSTS, *self.allowed_hosts, *self.allow_private_hosts)

    def proxy_for(self, host: str) -> str | None:
        """The proxy URL for ``host`` (an exact entry, else a ``*.domain`` one), or None."""
        host = host.lower()
        for entry, url in self.proxies.items():
            if host == entry or (entry.startswith("*.") and host.endswith(entry[1:])):
                return url.get_secret_value()
        return None


SECRET_PREFIX = "secret:"
IMAP_KEYS = frozenset(
    [
        "host",
        "port",
        "security",
        "user",
        "password",
        "folder",
        "search",
        "mark_seen",
        "move_to",
        "max_message_bytes",
        "ca_file",
        "connect_timeout",
        "read_timeout",
    ]
)


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or ``localhost``: a connection that never leaves the machine."""
    name = host.strip("[]").lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class MailSearch(Section):
    """What the mailbox is searched for; every criterion given must match (IMAP ``SEARCH``)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    sender: str | None = Field(
        None, alias="from", description="part of From (for a forward: the colleague's address)"
    )
    subject: str | None = Field(
        "China Industries", description="part of Subject ('Fwd: ...' matches too); null: any"
    )
    since: dt.date | None = Field(None, description="only messages received on or after")


MINISTRY_SITES = ("govcn", "miit", "ndrc", "mofcom", "cac", "samr", "mee", "mof", "nea")
MINISTRY_KEYS = frozenset(["site", "list_urls", "backfill_pages", "proxy"])


class SourceSettings(Section):
    name: str
    type: Literal["merics", "folder", "imap", "ministry"]
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
    # imap (the subscriber's mailbox; policywatch.mailbox)
    host: str | None = None
    port: int | None = Field(None, ge=1, le=65535, description="default: 993 (tls), 143")
    security: Literal["tls", "starttls", "plain"] = "tls"
    user: str | None = None
    password: SecretStr | None = Field(
        None, description="${ENV_VAR} (resolved at load) or secret:NAME (resolved when read)"
    )
    folder: str = "INBOX"
    search: MailSearch = Field(default_factory=MailSearch)
    mark_seen: bool = Field(False, description="flag processed messages \\Seen")
    move_to: str | None = Field(None, description="move processed messages to this folder")
    max_message_bytes: int = Field(MAIL_MAX_BYTES, gt=0)
    ca_file: str | None = Field(
        None, description="PEM file of CAs to trust instead of the system's"
    )
    connect_timeout: float = Field(10.0, gt=0, description="seconds to connect and log in")
    read_timeout: float = Field(60.0, gt=0, description="seconds to wait for each answer")
    # ministry (one site's column list pages; policywatch.sources.ministry)
    site: Literal["govcn", "miit", "ndrc", "mofcom", "cac", "samr", "mee", "mof", "nea"] | None = (
        None
    )
    list_urls: list[str] = Field(default_factory=list, description="the column list pages")
    backfill_pages: int = Field(
        3, ge=1, le=50, description="list pages read when the source is new or with --since"
    )
    proxy: SecretStr | None = Field(
        None, description="proxy URL for this source's hosts (credentials from ${ENV})"
    )

    def imap_port(self) -> int:
        return self.port or (993 if self.security == "tls" else 143)

    @field_validator("security")
    @classmethod
    def _plain_on_loopback_only(cls, security: str, info: ValidationInfo) -> str:
        host = info.data.get("host")
        if security == "plain" and host and not is_loopback(host):
            raise ValueError(
                f"security 'plain' would send the password unencrypted to '{host}'; it is "
                "allowed only for a loopback host (localhost, 127.0.0.1, ::1): use tls or starttls"
            )
        return security

    @field_validator("feed_url", "listing_url")
    @classmethod
    def _web_url(cls, url: str | None) -> str | None:
        parts = urlsplit(url or "")
        if url is not None and (parts.scheme not in ("http", "https") or not parts.hostname):
            raise ValueError(f"'{url}' is not an http(s) URL")
        return url

    @field_validator("list_urls")
    @classmethod
    def _web_urls(cls, urls: list[str]) -> list[str]:
        for url in urls:
            cls._web_url(url)
        return urls

    @model_validator(mode="after")
    def _folder_needs_path(self) -> SourceSettings:
        if self.type == "folder" and not self.path:
            raise ValueError("a folder source needs 'path' (the folder with saved issues)")
        if self.type == "merics" and not (self.feed_url or self.listing_url):
            raise ValueError("a merics source needs 'feed_url' or 'listing_url'")
        if self.type == "imap":
            missing = [k for k in ("host", "user", "password") if not getattr(self, k)]
            if missing:
                raise ValueError(f"an imap source needs {', '.join(repr(k) for k in missing)}")
        elif stray := sorted(IMAP_KEYS & self.model_fields_set):
            raise ValueError(f"{', '.join(stray)}: only for sources of type 'imap'")
        if self.type == "ministry":
            if not self.site or not self.list_urls:
                raise ValueError(
                    "a ministry source needs 'site' (one of "
                    f"{', '.join(MINISTRY_SITES)}) and 'list_urls' (its column list pages)"
                )
        elif stray := self._set_but_unused(MINISTRY_KEYS - {"proxy"}):
            raise ValueError(f"{', '.join(stray)}: only for sources of type 'ministry'")
        return self

    def _set_but_unused(self, keys: frozenset[str]) -> list[str]:
        """Keys given a value other than their default (a copy of another source is fine)."""
        fields = type(self).model_fields
        return sorted(
            k
            for k in keys & self.model_fields_set
            if getattr(self, k) != fields[k].get_default(call_default_factory=True)
        )

    def hosts(self) -> list[str]:
        """The hosts this source lists from (its ``proxy`` applies to them)."""
        urls = [*self.list_urls, self.feed_url or "", self.listing_url or ""]
        if self.type not in ("merics", "ministry"):
            return []
        return sorted({urlsplit(u).hostname or "" for u in urls if u} - {""})


class IntakeSettings(Section):
    """How a run works through its issues (see the README's "Speed" section)."""

    issue_concurrency: int = Field(32, ge=1, le=256, description="issues processed at once")
    issue_tasks: int = Field(
        8,
        ge=1,
        le=256,
        description="at most this many Prefect tasks for a run's issues (each stage): up to it, "
        "one task per issue named after it; more issues share tasks (a 60-issue backfill: 8)",
    )
    parse_workers: int = Field(0, ge=0, le=32, description="parser processes; 0: one per core")
    parse_time_limit: float = Field(
        20.0, gt=0, description="seconds one document may take to parse"
    )
    parse_memory_mb: int = Field(
        768, ge=128, description="address-space limit of each parser process, MB"
    )
    baseline_days: int = Field(
        14,
        ge=0,
        description="a source's first run alerts only what was published this many days "
        "before it (the rest is recorded as a baseline); --alert-existing alerts everything",
    )


class NoticeSettings(Section):
    """Notices that failed (404, challenge, error) are retried on a schedule, then given up."""

    retry_delays: list[float] = Field(
        default_factory=lambda: [3600.0, 6 * 3600.0, 24 * 3600.0],
        min_length=1,
        description="seconds before the 1st, 2nd, ... retry; the last one repeats",
    )
    give_up_after: int = Field(
        8, ge=1, description="failed fetches before a notice is 'gave_up' (no longer fetched)"
    )

    @field_validator("retry_delays")
    @classmethod
    def _not_negative(cls, delays: list[float]) -> list[float]:
        if any(d < 0 for d in delays):
            raise ValueError("retry delays are seconds and cannot be negative")
        return delays


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
    """How the outbox is delivered. One delivery lasts at most about ``time_budget`` plus one
    email's ``(13 + recipients) x connect_timeout + 2 x data_timeout + 2 s`` (README, "Slow and
    failing servers"); flow and task timeouts must stay above that."""

    max_attempts: int = Field(
        5, ge=1, description="after this many failed sends an alert is 'failed'"
    )
    backoff_base: float = Field(60.0, ge=0, description="seconds before the first retry; doubles")
    backoff_max: float = Field(6 * 3600.0, ge=0)
    sender: str | None = Field(
        None,
        description="'Name <address>' for email From names and the Message-ID domain; "
        "default: each email channel's own From address",
    )
    connect_timeout: float = Field(
        10.0,
        gt=0,
        description="seconds to connect, and for each SMTP reply before the message is sent",
    )
    data_timeout: float = Field(
        600.0,
        gt=0,
        description="seconds to send an email and wait for the server's reply to it "
        "(RFC 5321: 10 minutes; a reply given up on may mean a duplicate)",
    )
    webhook_timeout: float = Field(
        30.0, gt=0, description="seconds to wait for a webhook's (or other service's) response"
    )
    breaker_failures: int = Field(
        3,
        ge=1,
        description="after this many consecutive connection failures or timeouts in one "
        "delivery, a channel's remaining alerts wait for the next run",
    )
    time_budget: float = Field(
        600.0, gt=0, description="no new message is started after this many seconds of delivery"
    )


class HealthSettings(Section):
    """When the ``ops`` channel hears about a source or a page layout (README, "Health")."""

    source_failures: int = Field(
        3, ge=1, description="failed runs in a row of one source before the ops channel is told"
    )
    notice_layout_pages: int = Field(
        3,
        ge=1,
        description="notices in a row of one site with no title or body found (the layout "
        "may have changed) before the ops channel is told",
    )


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
    intake: IntakeSettings = Field(default_factory=IntakeSettings)
    notices: NoticeSettings = Field(default_factory=NoticeSettings)
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)
    delivery: DeliverySettings = Field(default_factory=DeliverySettings)
    health: HealthSettings = Field(default_factory=HealthSettings)

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
        doc = load_yaml(path)
        app = self._finish_mailboxes(doc, validate(doc, AppSettings))
        return self._finish_proxies(doc, app)

    def _finish_proxies(self, doc: YamlDoc, app: AppSettings) -> AppSettings:
        """Resolve ``${VAR}`` in proxy URLs (credentials) and give each source's ``proxy`` to its
        list hosts; a missing variable is named with file:line, never a value."""
        errors: list[str] = []
        proxies: dict[str, SecretStr] = {}
        for host, url in app.http.proxies.items():
            value, problems = substitute_env(
                url.get_secret_value(), os.environ, doc.where(("http", "proxies", host)),
                f"http.proxies.{host}",
            )  # fmt: skip
            errors += problems
            proxies[host] = SecretStr(value)
        for i, src in enumerate(app.sources):
            if src.proxy is None or not src.enabled:
                continue
            value, problems = substitute_env(
                src.proxy.get_secret_value(), os.environ, doc.where(("sources", i, "proxy")),
                f"sources[{i}].proxy",
            )  # fmt: skip
            errors += problems
            for host in src.hosts():
                proxies.setdefault(host, SecretStr(value))
        if errors:
            raise ConfigError("\n".join(errors), hint=f"fix {doc.path} or export the variables")
        app.http = app.http.model_copy(update={"proxies": proxies})
        return app

    def _finish_mailboxes(self, doc: YamlDoc, app: AppSettings) -> AppSettings:
        """Resolve each enabled mailbox's ``${VAR}`` password (a disabled one may lack it) and
        make ``ca_file`` absolute; a missing variable is named with file:line, never a value."""
        errors: list[str] = []
        for i, src in enumerate(app.sources):
            if src.type != "imap":
                continue
            update: dict[str, object] = {}
            if src.ca_file:
                update["ca_file"] = str(self.resolve(src.ca_file))
            raw = src.password.get_secret_value() if src.password else ""
            if src.enabled and not raw.startswith(SECRET_PREFIX):
                loc = ("sources", i, "password")
                value, problems = substitute_env(
                    raw, os.environ, doc.where(loc), f"sources[{i}].password"
                )
                errors += problems
                update["password"] = SecretStr(value)
            app.sources[i] = src.model_copy(update=update)
        if errors:
            raise ConfigError("\n".join(errors), hint=f"fix {doc.path} or export the variables")
        return app

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
