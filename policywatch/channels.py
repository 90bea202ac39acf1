"""Named delivery channels (``config/channels.yaml``): apprise URLs whose secrets never leave memory.

A channel is one apprise URL (``${ENV_VAR}`` references resolved at load), a ``secret:NAME``
resolved only at delivery time through a resolver the caller passes in (the flows pass a Prefect
Secret-block reader), or an apprise config file. Every URL is checked at load with apprise, and
everything that leaves this module (errors, ``repr``, ``masked()``) uses apprise's privacy
masking; the raw URL is kept in a private field and handed to apprise, smtplib or httpx only.

A channel whose ``${VAR}`` is not set is *disabled* (``Channel.disabled`` says why), not an
error: the other channels still work, and its alerts wait in the outbox until it is configured.

Sending: email through ``policywatch.smtp``, the generic webhooks (json/form/xml) through
``policywatch.webhooks`` (their HTTP answer matters: 429/503 ``Retry-After``), everything else
through apprise's ``notify()``.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import apprise
from apprise.utils.parse import parse_url, parse_urls
from pydantic import BaseModel, ConfigDict, Field, model_validator

from policywatch import smtp, webhooks
from policywatch.errors import (
    ChannelThrottled,
    ChannelUnreachable,
    ConfigError,
    DeliveryError,
    PolicywatchError,
)
from policywatch.notify import Message, cut
from policywatch.settings import DeliverySettings
from policywatch.yamlconf import ENV_REF as _ENV_REF
from policywatch.yamlconf import YamlDoc, load_yaml, validate

Format = Literal["html", "markdown", "text"]
SecretResolver = Callable[[str], str]

_SECRET_PREFIX = "secret:"
EMAIL_SCHEMAS = frozenset({"mailto", "mailtos"})


class ChannelSpec(BaseModel):
    """One entry of channels.yaml, before secrets are resolved."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(None, description="apprise URL, ${ENV} reference or secret:NAME")
    config: str | None = Field(None, description="an apprise config file (YAML or TEXT)")
    tags: list[str] = Field(default_factory=list)
    format: Format | None = None

    @model_validator(mode="after")
    def _one_source(self) -> ChannelSpec:
        if (self.url is None) == (self.config is None):
            raise ValueError("give exactly one of 'url' or 'config'")
        return self


class ChannelsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channels: dict[str, ChannelSpec] = Field(default_factory=dict)


@dataclass(frozen=True)
class Target:
    """One apprise service a channel sends to (a config file may hold several)."""

    plugin: Any = field(repr=False)
    masked: str

    @property
    def schema(self) -> str:
        return str(getattr(self.plugin, "secure_protocol", "") or "").split(",")[0]

    @property
    def is_email(self) -> bool:
        return type(self.plugin).__name__ == "NotifyEmail"

    @property
    def is_slack(self) -> bool:
        return type(self.plugin).__name__ == "NotifySlack"


@dataclass(frozen=True)
class Channel:
    """A named channel; ``repr`` and ``masked()`` never show a secret."""

    name: str
    tags: tuple[str, ...] = ()
    format: Format | None = None
    source: str = ""
    secret: str | None = None
    config_path: Path | None = None
    disabled: str | None = None
    _masked: str = ""
    _url: str | None = field(default=None, repr=False)

    def masked(self) -> str:
        return self._masked

    @property
    def enabled(self) -> bool:
        return self.disabled is None

    def raw_secrets(self) -> list[str]:
        """Pieces of the ${ENV}-resolved URL that must never appear in an error."""
        return secret_parts(self._url) if self._url else []

    def targets(self, resolver: SecretResolver | None = None) -> list[Target]:
        """The apprise services to call; a ``secret:`` URL is resolved here, at delivery time."""
        if self.disabled is not None:
            raise DeliveryError(f"channel '{self.name}' is disabled: {self.disabled}")
        if self.config_path is not None:
            return _config_targets(self.config_path, self.tags, self.name)
        url = self._url
        if self.secret is not None:
            if resolver is None:
                raise DeliveryError(
                    f"channel '{self.name}': {self.masked()} needs a secret resolver",
                    hint="deliver through the flows, or set the URL with ${ENV_VAR} instead",
                )
            url = _resolve_secret(resolver, self.secret, self.name)
        if url is None:
            raise DeliveryError(f"channel '{self.name}': URL not resolved (loaded without env)")
        out = []
        for one in _split(url):
            plugin = _instantiate(one, self.tags)
            if plugin is None:
                raise DeliveryError(f"channel '{self.name}': {mask_unparseable(one)} is not valid")
            out.append(Target(plugin=plugin, masked=masked_url(plugin, one)))
        if not out:
            raise DeliveryError(f"channel '{self.name}': the secret '{self.secret}' is empty")
        return out


def _resolve_secret(resolver: SecretResolver, name: str, channel: str) -> str:
    try:
        return resolver(name)
    except PolicywatchError:
        raise  # already a safe, explained message (e.g. the block does not exist)
    except Exception as exc:  # a resolver's own errors may be anything; never show a value
        raise DeliveryError(
            f"channel '{channel}': secret '{name}' could not be read ({type(exc).__name__})"
        ) from None


class _SecretFilter(logging.Filter):
    """Scrubs every known channel secret from apprise's own log records (its debug lines
    print some URLs, e.g. a webhook path, as they are)."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def remember(self, url: str) -> None:
        self.secrets.update(secret_parts(url))

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            text = record.getMessage()
            clean = scrub(text, sorted(self.secrets, key=len, reverse=True))
            if clean != text:
                record.msg, record.args = clean, None
        return True


_FILTER = _SecretFilter()
# apprise and the HTTP stacks under it (and httpx, for the webhooks) log request URLs
_SCRUBBED_LOGGERS = ("apprise", "urllib3.connectionpool", "requests", "httpx", "httpcore")


@functools.cache
def _load_plugins() -> None:
    """Load apprise's plugins once, quietly: its email plugin imports the deprecated ``imghdr``
    (a DeprecationWarning that says nothing about our configuration)."""
    for name in _SCRUBBED_LOGGERS:
        logging.getLogger(name).addFilter(_FILTER)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*imghdr.*", category=DeprecationWarning)
        apprise.Apprise.instantiate("json://localhost", suppress_exceptions=True)


def _instantiate(url: str, tags: tuple[str, ...]) -> Any:
    _load_plugins()
    _FILTER.remember(url)
    return apprise.Apprise.instantiate(url, tag=list(tags) or None, suppress_exceptions=True)


def _config_targets(path: Path, tags: tuple[str, ...], name: str) -> list[Target]:
    _load_plugins()
    cfg = apprise.AppriseConfig()
    cfg.add(str(path))
    plugins: list[Any] = list(cfg.services())
    if tags:
        plugins = [p for p in plugins if set(tags) & set(getattr(p, "tags", ()) or ())]
    if not plugins:
        raise DeliveryError(f"channel '{name}': {path} yields no services for tags {list(tags)}")
    for p in plugins:
        _FILTER.remember(str(p.url(privacy=False)))
    return [Target(plugin=p, masked=masked_url(p, None)) for p in plugins]


def _split(urls: str) -> list[str]:
    """Several URLs in one string (a secret may hold a list), as apprise splits them."""
    out: list[str] = parse_urls(urls)  # type: ignore[no-untyped-call]
    return out


def _parse(url: str) -> dict[str, Any] | None:
    if "://" not in url:
        return None
    parsed: dict[str, Any] | None = parse_url(url, verify_host=False)  # type: ignore[no-untyped-call]
    return parsed


def masked_url(plugin: Any, raw: str | None) -> str:
    """apprise's privacy form, and no piece of the raw URL that apprise chose to show
    (some services keep tokens in the path, which their privacy form prints)."""
    shown = str(plugin.url(privacy=True))
    if raw is None:
        raw = str(plugin.url(privacy=False))
    head, sep, tail = shown.partition("://")
    host = str(getattr(plugin, "host", "") or "")
    secrets = [s for s in secret_parts(raw) if s != host and s not in ("/", "")]
    return head + sep + scrub(tail, secrets) if sep else scrub(shown, secrets)


def mask_unparseable(url: str) -> str:
    """What apprise would show for a URL it cannot load: the schema and host, nothing else."""
    parsed = _parse(url)
    if not parsed or not parsed.get("schema"):
        return "<unparseable URL>"
    return f"{parsed['schema']}://{parsed.get('host') or ''}/****"


def secret_parts(url: str) -> list[str]:
    """The raw URL and every credential-like piece of it (user, password, path, query values)."""
    parts = [url]
    parsed = _parse(url)
    if parsed:
        parts += [str(parsed.get(k) or "") for k in ("user", "password")]
        parts += (parsed.get("fullpath") or "").split("/")
        parts += [str(v) for v in (parsed.get("qsd") or {}).values()]
    return sorted({p for p in parts if len(p) >= 4}, key=len, reverse=True)


def scrub(text: str, secrets: list[str]) -> str:
    for s in secrets:
        text = text.replace(s, "****")
    return text


def substitute_env(
    value: str, environ: Mapping[str, str], where: str, path: str
) -> tuple[str, list[str]]:
    """Replace ``${VAR}``; missing variables are reported by name, never by value."""
    missing = [m for m in _ENV_REF.findall(value) if m not in environ]
    errors = [
        f"environment variable {var} is not set ({where}: {path};"
        " export it before running policywatch)"
        for var in dict.fromkeys(missing)
    ]
    return _ENV_REF.sub(lambda m: environ.get(m.group(1), ""), value), errors


def load_channels(
    path: Path, *, resolve_env: bool = True, environ: Mapping[str, str] | None = None
) -> dict[str, Channel]:
    """Load and check every channel; all problems are raised together as one ConfigError.

    A channel whose ``${VAR}`` is not set comes back disabled (``Channel.disabled`` names the
    variable and file:line), not as an error. ``resolve_env=False`` skips ``${VAR}`` resolution
    and the apprise check (for listing channels on a machine that does not hold the secrets).
    """
    doc = load_yaml(path)
    spec = validate(doc, ChannelsFile)
    env = os.environ if environ is None else environ
    channels: dict[str, Channel] = {}
    errors: list[str] = []
    for name, entry in spec.channels.items():
        channel, problems = _build(doc, name, entry, env, resolve_env)
        errors += problems
        if channel is not None:
            channels[name] = channel
    if errors:
        raise ConfigError(
            "\n".join(errors), hint=f"fix {path}; see the comments at its top for the URL forms"
        )
    return channels


def _build(
    doc: YamlDoc, name: str, entry: ChannelSpec, env: Mapping[str, str], resolve_env: bool
) -> tuple[Channel | None, list[str]]:
    loc = ("channels", name, "url" if entry.url is not None else "config")
    where, dotted = doc.where(loc), f"channels.{name}.{loc[-1]}"
    common: dict[str, Any] = {
        "name": name,
        "tags": tuple(entry.tags),
        "format": entry.format,
        "source": where,
    }
    if entry.config is not None:
        return _build_config(doc, entry.config, common, where, dotted)
    url = entry.url or ""
    if url.startswith(_SECRET_PREFIX):
        secret = url[len(_SECRET_PREFIX) :].strip()
        if not secret:
            return None, [f"{where}: {dotted}: 'secret:' needs a Secret block name"]
        return Channel(secret=secret, _masked=f"secret:{secret}", **common), []
    if not resolve_env:
        return Channel(_masked=_ENV_REF.sub(r"${\1}", _template_mask(url)), **common), []
    resolved, unset = substitute_env(url, env, where, dotted)
    if unset:
        masked = _ENV_REF.sub(r"${\1}", _template_mask(url))
        return Channel(disabled="; ".join(unset), _masked=masked, **common), []
    errors: list[str] = []
    masks = []
    for one in _split(resolved) or [resolved]:
        plugin = _instantiate(one, tuple(entry.tags))
        if plugin is None:
            errors.append(
                f"{where}: {dotted}: apprise cannot load {mask_unparseable(one)}"
                " (check the schema and the parts of the URL)"
            )
        else:
            masks.append(masked_url(plugin, one))
    if errors:
        return None, errors
    return Channel(_masked=" ".join(masks), _url=resolved, **common), []


def _template_mask(url: str) -> str:
    """A URL as written in the file: only ${VAR} references are kept verbatim."""
    return url if _ENV_REF.fullmatch(url.strip()) else mask_unparseable(url)


def _build_config(
    doc: YamlDoc, value: str, common: dict[str, Any], where: str, dotted: str
) -> tuple[Channel | None, list[str]]:
    cfg_path = Path(value).expanduser()
    if not cfg_path.is_absolute():
        cfg_path = doc.path.parent / cfg_path
    if not cfg_path.is_file():
        return None, [f"{where}: {dotted}: apprise config file {cfg_path} not found"]
    try:
        targets = _config_targets(cfg_path, common["tags"], common["name"])
    except DeliveryError:
        return None, [f"{where}: {dotted}: {cfg_path} holds no valid apprise URL for these tags"]
    masked = " ".join(t.masked for t in targets)
    return Channel(config_path=cfg_path, _masked=masked, **common), []


# --- sending -------------------------------------------------------------------------------------


def disabled_channels(channels: Mapping[str, Channel]) -> dict[str, str]:
    """Name -> why, for every channel that cannot send (its ``${VAR}`` is not set)."""
    return {n: c.disabled for n, c in channels.items() if c.disabled is not None}


class _ThreadLogs(logging.Handler):
    """Collects apprise's warnings from this thread only, to explain a failed notify()."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.thread = threading.get_ident()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread:
            self.lines.append(record.getMessage())


def send(
    channel: Channel,
    message: Message,
    *,
    resolver: SecretResolver | None = None,
    settings: DeliverySettings | None = None,
) -> str:
    """Send ``message`` to every service of ``channel``; returns the message's Message-ID.

    Raises (masked) ChannelUnreachable for no connection or a timeout, ChannelThrottled when
    the service asked us to wait, DeliveryError when a service refused.
    """
    settings = settings or DeliverySettings()
    targets = channel.targets(resolver)
    secrets = channel.raw_secrets()  # a secret: URL's pieces are added from its targets below
    for target in targets:
        secrets += secret_parts(str(target.plugin.url(privacy=False)))
    secrets.sort(key=len, reverse=True)
    sent_id = message.message_id(settings.sender)
    for target in targets:
        try:
            if target.is_email:
                sent_id = smtp.send_email(target.plugin, message, settings)
            else:
                _send_service(target, channel.format, message, settings)
        except DeliveryError as exc:
            raise _masked_error(exc, f"{target.masked}: {scrub(str(exc), secrets)}") from None
        except Exception as exc:  # a plugin's own bugs: never stop the run
            reason = scrub(f"{type(exc).__name__}: {exc}", secrets)
            raise DeliveryError(f"{target.masked}: {reason}") from None
    return sent_id


def _masked_error(exc: DeliveryError, text: str) -> DeliveryError:
    """The same kind of error, with the masked text."""
    if isinstance(exc, ChannelThrottled):
        return ChannelThrottled(text, retry_after=exc.retry_after)
    if isinstance(exc, ChannelUnreachable):
        return ChannelUnreachable(text)
    return DeliveryError(text)


def _pick_format(target: Target, wanted: Format | None) -> Format:
    if wanted:
        return wanted
    if target.is_slack:
        return "markdown"
    native = getattr(target.plugin, "notify_format", "text")
    first = native[0] if isinstance(native, tuple) else native
    value = str(getattr(first, "value", first))
    return value if value in ("html", "markdown", "text") else "text"  # type: ignore[return-value]


def _title_and_body(target: Target, fmt: Format, message: Message) -> tuple[str, str]:
    """The body in the service's format, cut to its limits; the subject as title or first line."""
    plugin = target.plugin
    body = message.slack if target.is_slack and fmt == "markdown" else message.body(fmt)
    body = cut(body, getattr(plugin, "body_maxlen", None))
    title_max = getattr(plugin, "title_maxlen", None)
    if title_max:
        return cut(message.subject, title_max, "…"), body
    return "", cut(f"{message.subject}\n\n{body}", getattr(plugin, "body_maxlen", None))


def _send_service(
    target: Target, wanted: Format | None, message: Message, settings: DeliverySettings
) -> None:
    fmt = _pick_format(target, wanted)
    title, body = _title_and_body(target, fmt, message)
    if webhooks.handles(target.plugin):
        webhooks.post(target.plugin, title, body, settings)
        return
    plugin = target.plugin
    _use_timeouts(plugin, settings)
    logs = _ThreadLogs()
    logger = logging.getLogger("apprise")
    logger.addHandler(logs)
    try:
        ok = plugin.notify(body=body, title=title, body_format=apprise.NotifyFormat(fmt))
    finally:
        logger.removeHandler(logs)
    if not ok:
        why = logs.lines[-1] if logs.lines else "the service did not accept the message"
        unreachable = any("connection error" in line.lower() for line in logs.lines)
        raise (ChannelUnreachable if unreachable else DeliveryError)(why)


def _use_timeouts(plugin: Any, settings: DeliverySettings) -> None:
    """Our connect and response timeouts, unless the URL set its own (``cto=``, ``rto=``)."""
    base = apprise.URLBase
    if plugin.socket_connect_timeout == base.socket_connect_timeout:
        plugin.socket_connect_timeout = settings.connect_timeout
    if plugin.socket_read_timeout == base.socket_read_timeout:
        plugin.socket_read_timeout = settings.webhook_timeout
