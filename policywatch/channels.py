"""Named delivery channels (``config/channels.yaml``): apprise URLs whose secrets never leave memory.

A channel is one apprise URL (``${ENV_VAR}`` references resolved at load), a ``secret:NAME``
resolved only at delivery time through a resolver the caller passes in (the flows pass a Prefect
Secret-block reader), or an apprise config file. Every URL is checked at load with apprise, and
everything that leaves this module (errors, ``repr``, ``masked()``) uses apprise's privacy
masking; the raw URL is kept in a private field and handed to apprise or smtplib only.
"""

from __future__ import annotations

import functools
import logging
import os
import smtplib
import ssl
import threading
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formataddr, formatdate, parseaddr
from pathlib import Path
from typing import Any, Literal

import apprise
from apprise.utils.parse import parse_url, parse_urls
from pydantic import BaseModel, ConfigDict, Field, model_validator

from policywatch.errors import ConfigError, DeliveryError, PolicywatchError
from policywatch.notify import Message, cut
from policywatch.yamlconf import ENV_REF as _ENV_REF
from policywatch.yamlconf import YamlDoc, load_yaml, substitute_env, validate

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
    _masked: str = ""
    _url: str | None = field(default=None, repr=False)

    def masked(self) -> str:
        return self._masked

    def raw_secrets(self) -> list[str]:
        """Pieces of the ${ENV}-resolved URL that must never appear in an error."""
        return secret_parts(self._url) if self._url else []

    def targets(self, resolver: SecretResolver | None = None) -> list[Target]:
        """The apprise services to call; a ``secret:`` URL is resolved here, at delivery time."""
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
# apprise and the HTTP stack under it log request URLs at debug level (`policywatch -v`)
_SCRUBBED_LOGGERS = ("apprise", "urllib3.connectionpool", "requests")


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


def load_channels(
    path: Path, *, resolve_env: bool = True, environ: Mapping[str, str] | None = None
) -> dict[str, Channel]:
    """Load and check every channel; all problems are raised together as one ConfigError.

    ``resolve_env=False`` skips ``${VAR}`` resolution and the apprise check (for listing
    channels on a machine that does not hold the secrets).
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
    resolved, errors = substitute_env(url, env, where, dotted)
    if errors:
        return None, errors
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
    sender: str = "policywatch <policywatch@localhost>",
) -> list[str]:
    """Send ``message`` to every service of ``channel``; DeliveryError (masked) if one refused.

    Email goes through our own SMTP call (apprise's email plugin builds its own MIME, with a
    random Message-ID and a generated text part); every other service through apprise.
    Returns the masked targets that accepted the message.
    """
    targets = channel.targets(resolver)
    secrets = channel.raw_secrets()  # a secret: URL's pieces are added from its targets below
    for target in targets:
        secrets += secret_parts(str(target.plugin.url(privacy=False)))
    secrets.sort(key=len, reverse=True)
    done: list[str] = []
    for target in targets:
        try:
            if target.is_email:
                _send_email(target.plugin, message, sender)
            else:
                _send_apprise(target, channel.format, message)
        except DeliveryError as exc:
            raise DeliveryError(scrub(f"{target.masked}: {exc}", secrets)) from None
        except Exception as exc:  # network errors, and a plugin's own bugs: never stop the run
            reason = scrub(f"{type(exc).__name__}: {exc}", secrets)
            raise DeliveryError(f"{target.masked}: {reason}") from None
        done.append(target.masked)
    return done


def _pick_format(target: Target, wanted: Format | None) -> Format:
    if wanted:
        return wanted
    if target.is_slack:
        return "markdown"
    native = getattr(target.plugin, "notify_format", "text")
    first = native[0] if isinstance(native, tuple) else native
    value = str(getattr(first, "value", first))
    return value if value in ("html", "markdown", "text") else "text"  # type: ignore[return-value]


def _send_apprise(target: Target, wanted: Format | None, message: Message) -> None:
    fmt = _pick_format(target, wanted)
    body = message.slack if target.is_slack and fmt == "markdown" else message.body(fmt)
    plugin = target.plugin
    body = cut(body, getattr(plugin, "body_maxlen", None))
    title_max = getattr(plugin, "title_maxlen", None)
    title = cut(message.subject, title_max, "…") if title_max else ""
    if not title_max:
        body = cut(f"{message.subject}\n\n{body}", getattr(plugin, "body_maxlen", None))
    logs = _ThreadLogs()
    logger = logging.getLogger("apprise")
    logger.addHandler(logs)
    try:
        ok = plugin.notify(body=body, title=title, body_format=apprise.NotifyFormat(fmt))
    finally:
        logger.removeHandler(logs)
    if not ok:
        why = logs.lines[-1] if logs.lines else "the service did not accept the message"
        raise DeliveryError(why)


def _send_email(plugin: Any, message: Message, sender: str) -> None:
    """One multipart/alternative email (text + HTML) to all of the URL's recipients."""
    mail = build_email(plugin, message, sender)
    rcpts = [addr for _, addr in plugin.targets] + sorted(plugin.cc) + sorted(plugin.bcc)
    if not rcpts:
        raise DeliveryError("no email recipient in the URL (add ?to=someone@example.org)")
    timeout = float(getattr(plugin, "socket_connect_timeout", 15) or 15)
    smtp: smtplib.SMTP
    if plugin.secure_mode == "ssl":
        smtp = smtplib.SMTP_SSL(
            plugin.smtp_host, plugin.port, timeout=timeout, context=_tls_context(plugin)
        )
    else:
        smtp = smtplib.SMTP(plugin.smtp_host, plugin.port, timeout=timeout)
    with smtp:
        if plugin.secure_mode == "starttls":
            smtp.starttls(context=_tls_context(plugin))
        if plugin.user and plugin.password:
            smtp.login(plugin.user, plugin.password)
        refused = smtp.send_message(mail, from_addr=plugin.from_addr[1], to_addrs=rcpts)
    if refused:
        raise DeliveryError(f"the SMTP server refused {len(refused)} recipient(s)")


def _tls_context(plugin: Any) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    if not getattr(plugin, "verify_certificate", True):
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def build_email(plugin: Any, message: Message, sender: str) -> EmailMessage:
    """The MIME message: From/To from the URL, our Subject and stable Message-ID, two parts."""
    name, addr = plugin.from_addr
    default_name = parseaddr(sender)[0] or "policywatch"
    if not name or name == getattr(plugin, "app_id", None):
        name = default_name
    mail = EmailMessage()
    mail["From"] = formataddr((name, addr))
    mail["To"] = ", ".join(formataddr((n or "", a)) for n, a in plugin.targets)
    if plugin.cc:
        mail["Cc"] = ", ".join(sorted(plugin.cc))
    mail["Subject"] = " ".join(message.subject.split())
    mail["Message-ID"] = message.message_id
    mail["Date"] = formatdate(localtime=False)
    mail["X-Policywatch-Items"] = str(message.count)
    mail.set_content(message.text, charset="utf-8")
    mail.add_alternative(message.html, subtype="html", charset="utf-8")
    return mail
