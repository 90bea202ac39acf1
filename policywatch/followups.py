"""What an item is for each watchlist already alerted to the document behind it.

Pure functions over what the store says was alerted (``store.documents.AlertedDocument``):

* a MERICS story citing a ministry document that a watchlist was alerted to on a channel is a
  *follow-up* for that watchlist there ("MERICS commentary on 工信厅…〔2026〕12号, first alerted
  2026-03-02"), not a second "new" alert;
* the final version of a draft for comments that a watchlist was alerted to is the *final*
  version for it ("final version of the draft alerted on <date>").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from parsers.records import Notice, PolicyItem
from policywatch.alerting import Prior
from policywatch.models import Relation
from policywatch.notice_items import identity_of, notice_item_id
from policywatch.store.documents import AlertedDocument

__all__ = ["commentary", "finals"]


def _index(alerted: Iterable[AlertedDocument]) -> dict[str, list[AlertedDocument]]:
    out: dict[str, list[AlertedDocument]] = {}
    for alert in alerted:
        out.setdefault(alert.item_id, []).append(alert)
    return out


def _mark(
    out: dict[str, dict[str, dict[str, tuple[Relation, str]]]],
    item_id: str,
    alert: AlertedDocument,
    relation: Relation,
    note: str,
) -> None:
    for name in alert.watchlists:
        out.setdefault(item_id, {}).setdefault(alert.channel, {}).setdefault(name, (relation, note))


def commentary(
    items: Sequence[PolicyItem],
    cited: Mapping[str, Sequence[Notice]],
    alerted: Iterable[AlertedDocument],
) -> Prior:
    """Follow-ups: items whose cited notices (readable) were alerted as ministry documents."""
    by_item = _index(alerted)
    out: dict[str, dict[str, dict[str, tuple[Relation, str]]]] = {}
    for item in items:
        if item.section == "notice":
            continue
        for notice in cited.get(item.id, ()):
            if notice.status != "ok":
                continue
            for alert in by_item.get(notice_item_id(identity_of(notice)), ()):
                note = f"MERICS commentary on {alert.label}, first alerted {alert.when}"
                _mark(out, item.id, alert, "follow_up", note)
    return out


def finals(item: PolicyItem, drafts: Iterable[AlertedDocument]) -> Prior:
    """The final version of a document whose draft a watchlist was alerted to."""
    out: dict[str, dict[str, dict[str, tuple[Relation, str]]]] = {}
    for alert in drafts:
        _mark(out, item.id, alert, "final", f"final version of the draft alerted on {alert.when}")
    return out
