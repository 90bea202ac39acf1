"""The state store: engine, schema, migrations, writes, locks, and the ``Store`` that uses them."""

from policywatch.store.core import RecordResult, Store
from policywatch.store.writes import alert_item_ref, item_hash, notice_hash

__all__ = ["RecordResult", "Store", "alert_item_ref", "item_hash", "notice_hash"]
