"""The state database's current schema (DESIGN 3.3), as SQLAlchemy Core tables.

These tables describe the schema *after* every migration in ``policywatch.store.migrations``;
queries use them. Migrations never import them (a migration is frozen DDL), so changing a table
here always goes with a new migration there.

Two column types make both dialects behave the same:

* ``UtcDateTime``: timezone-aware UTC in and out. PostgreSQL stores ``timestamptz``; SQLite stores
  a fixed-width ISO string (``2024-10-02T08:00:00.000000+00:00``) so that string comparison is
  time order and ``next_attempt_at <= :now`` works in SQL.
* ``JsonText``: JSON kept as text (sorted keys, UTF-8), opaque to the database and identical on
  both dialects.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect

UTC = dt.UTC
_ISO = "%Y-%m-%dT%H:%M:%S.%f+00:00"


def utcnow() -> dt.datetime:
    return dt.datetime.now(UTC)


class UtcDateTime(sa.types.TypeDecorator[dt.datetime]):
    """Aware UTC datetimes on SQLite and PostgreSQL; naive values are refused (they hide bugs)."""

    impl = sa.String(32)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.TIMESTAMP(timezone=True))
        return dialect.type_descriptor(sa.String(32))

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, dt.datetime) or value.tzinfo is None:
            raise ValueError(f"state timestamps must be timezone-aware datetimes, got {value!r}")
        value = value.astimezone(UTC)
        return value if dialect.name == "postgresql" else value.strftime(_ISO)

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = dt.datetime.fromisoformat(value)
        if (
            value.tzinfo is None
        ):  # written by hand or by another tool: the schema's convention is UTC
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC)  # type: ignore[no-any-return]


class JsonText(sa.types.TypeDecorator[Any]):
    """JSON stored as text, the same on every dialect; keys sorted so equal data is equal text."""

    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        return None if value is None else json.loads(value)


metadata = sa.MetaData()

schema_migrations = sa.Table(
    "schema_migrations",
    metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("applied_at", UtcDateTime(), nullable=False),
)

# The JSON of policywatch.sources.SourceState, kept opaque: etag, last_modified, seen, last_ok, ...
sources = sa.Table(
    "sources",
    metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("state", JsonText(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)

issues = sa.Table(
    "issues",
    metadata,
    sa.Column("id", sa.Text, primary_key=True, comment="canonical URL or file content key"),
    sa.Column("source", sa.String(200), nullable=False),
    sa.Column("title", sa.Text),
    sa.Column("published", sa.Date),
    sa.Column("url", sa.Text),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("data", JsonText(), nullable=False, comment="IssueMeta"),
    sa.Column("first_seen", UtcDateTime(), nullable=False),
    sa.Column("last_seen", UtcDateTime(), nullable=False),
)

items = sa.Table(
    "items",
    metadata,
    sa.Column("id", sa.String(200), primary_key=True),
    sa.Column("issue_id", sa.Text, sa.ForeignKey("issues.id"), nullable=False, index=True),
    sa.Column("section", sa.String(40), nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("date", sa.Date, comment="the item's date, else its issue's publication date"),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("previous_hash", sa.String(64)),
    sa.Column("data", JsonText(), nullable=False, comment="PolicyItem"),
    sa.Column("first_seen", UtcDateTime(), nullable=False),
    sa.Column("last_seen", UtcDateTime(), nullable=False),
    # added by migration 0003_item_previous_data: the item as it was before its last revision
    sa.Column("previous_data", JsonText(), comment="PolicyItem before the last revision"),
)

notices = sa.Table(
    "notices",
    metadata,
    sa.Column("url", sa.Text, primary_key=True),
    sa.Column("site", sa.String(200), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("content_hash", sa.String(64)),
    sa.Column("previous_hash", sa.String(64)),
    sa.Column("data", JsonText(), nullable=False, comment="Notice (last good content)"),
    sa.Column("first_seen", UtcDateTime(), nullable=False),
    sa.Column("last_checked", UtcDateTime(), nullable=False),
    sa.Column("last_error", sa.Text),
    # added by migration 0004_notice_backoff
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", UtcDateTime()),
    sa.Column("etag", sa.Text),
    sa.Column("last_modified", sa.Text),
    sa.Index("ix_notices_status_next", "status", "next_attempt_at"),
)

# notice_url has no foreign key on purpose: an item may cite a notice that was not fetched yet.
item_notices = sa.Table(
    "item_notices",
    metadata,
    sa.Column("item_id", sa.String(200), sa.ForeignKey("items.id"), primary_key=True),
    sa.Column("notice_url", sa.Text, primary_key=True, index=True),
)

# The outbox: one row per message owed to a channel about an item (DESIGN 3.5). Never a channel
# URL here: `channel` is a name from channels.yaml. Since migration 0005_outbox_item_channel the
# key is `channel|item|kind` and one row names every watchlist that matched the item there.
alerts = sa.Table(
    "alerts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(500), nullable=False, unique=True, comment="channel|item|kind"),
    sa.Column("watchlist", sa.Text, nullable=False, comment="matching watchlists, ', '-joined"),
    sa.Column("channel", sa.String(200), nullable=False),
    sa.Column("item_id", sa.String(200), nullable=False, index=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("change", sa.String(20), nullable=False, server_default="new"),
    sa.Column("status", sa.String(20), nullable=False, server_default="pending"),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", UtcDateTime()),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("sent_at", UtcDateTime()),
    sa.Column("run_id", sa.String(200)),
    sa.Column("reasons", JsonText(), nullable=False, comment="list of models.WatchlistReasons"),
    # added by migration 0002_alert_claims
    sa.Column("claimed_by", sa.Text),
    sa.Column("claimed_until", UtcDateTime()),
    sa.Column("ops_notified", sa.Boolean, nullable=False, server_default=sa.false()),
    # added by migration 0005_outbox_item_channel: the message that carried the sent alert
    sa.Column("message_id", sa.Text),
    sa.Index("ix_alerts_status_next", "status", "next_attempt_at"),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.String(200), primary_key=True),
    sa.Column("started_at", UtcDateTime(), nullable=False),
    sa.Column("finished_at", UtcDateTime()),
    sa.Column("status", sa.String(40), nullable=False),
    sa.Column("summary", JsonText()),
    # added by migration 0006_holders: the process that runs the run (policywatch.store.holder)
    sa.Column("holder", JsonText(), comment="host, boot id, pid, start time of the process"),
)

locks = sa.Table(
    "locks",
    metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("owner", sa.Text, nullable=False),
    sa.Column("acquired_at", UtcDateTime(), nullable=False),
    sa.Column("expires_at", UtcDateTime(), nullable=False),
    # added by migration 0006_holders: the process that holds the lock (policywatch.store.holder)
    sa.Column("holder", JsonText(), comment="host, boot id, pid, start time of the process"),
)

# Added by migration 0007_health: conditions watched across runs (policywatch.canaries.Watch),
# one row per kind and subject (a source name or a notice site) while there is any to remember.
health = sa.Table(
    "health",
    metadata,
    sa.Column("key", sa.String(300), primary_key=True, comment="kind:subject"),
    sa.Column("kind", sa.String(40), nullable=False, comment="source|issue_layout|notice_layout"),
    sa.Column("subject", sa.String(200), nullable=False),
    sa.Column("failures", sa.Integer, nullable=False, comment="runs, issues or pages in a row"),
    sa.Column("failing", sa.Boolean, nullable=False),
    sa.Column("told", sa.Boolean, nullable=False, comment="the ops channel heard it is failing"),
    sa.Column("since", UtcDateTime(), comment="when the current problem began"),
    sa.Column("detail", JsonText(), nullable=False, comment="last error, pages concerned"),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)

# added by migration 0008_documents: ministry documents by identity (DESIGN 3.6)
documents = sa.Table(
    "documents",
    metadata,
    sa.Column("identity", sa.Text, primary_key=True, comment="issuer + 文号, else canonical URL"),
    sa.Column("family", sa.Text, nullable=False, index=True, comment="issuer + title stem"),
    sa.Column("is_draft", sa.Boolean, nullable=False),
    sa.Column("item_id", sa.String(200), index=True, comment="its notice item"),
    sa.Column("url", sa.Text, nullable=False, comment="where it was first read"),
    sa.Column("title", sa.Text),
    sa.Column("doc_number", sa.Text),
    sa.Column("published", sa.Date),
    sa.Column("first_seen", UtcDateTime(), nullable=False),
)
