"""From matches to outbox rows (DESIGN 3.5), and the sample item a test alert is made of.

Pure functions: no database, no network. A channel gets ONE message per item per run, however
many watchlists matched it there: the row names every such watchlist with its own reasons. An
item that an instant watchlist and a digest watchlist both route to one channel is sent once,
instantly (the digest watchlist is named in that message, and the item stays out of the digest).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence

from parsers.bodies import BodyIndex
from policywatch.match import Matcher
from policywatch.models import (
    Alert,
    AlertKind,
    Change,
    IssueMeta,
    Link,
    Match,
    Notice,
    Policy,
    PolicyItem,
    Reason,
    Relation,
    WatchlistReasons,
)
from policywatch.notify import Entry
from policywatch.store.writes import alert_item_ref
from policywatch.taxonomy import Taxonomy
from policywatch.watchlists import Watchlist

__all__ = ["build_alerts", "sample_entry"]

_CJK = re.compile(r"[\u4e00-\u9fff]")


# item id -> channel -> watchlist -> (relation, note): what an item is for each watchlist that
# was already alerted to the document behind it (``policywatch.followups``)
Prior = Mapping[str, Mapping[str, Mapping[str, tuple[Relation, str]]]]


def build_alerts(
    watchlists: Mapping[str, Watchlist],
    matches: Iterable[Match],
    items: Sequence[PolicyItem],
    changes: Mapping[str, Change],
    run_id: str,
    prior: Prior | None = None,
) -> list[Alert]:
    """One outbox row per (item, channel); a revision gets its own key, a repeat does not.

    The row is ``instant`` when any of its watchlists is instant, else ``digest``. With
    ``prior``, a watchlist already alerted to the document an item comments on gets the item
    as a follow-up (or leaves it out, with ``follow_ups: false``).
    """
    by_id = {i.id: i for i in items}
    routed: dict[tuple[str, str], list[tuple[Watchlist, Match]]] = {}
    for match in matches:
        watchlist = watchlists[match.watchlist]
        for channel in dict.fromkeys(watchlist.channels):
            routed.setdefault((match.item_id, channel), []).append((watchlist, match))
    alerts = []
    for (item_id, channel), found in routed.items():
        known = (prior or {}).get(item_id, {}).get(channel, {})
        kept = [(w, m) for w, m in found if w.follow_ups or w.name not in known]
        if kept:
            change = _change(changes, item_id)
            alerts.append(_alert(by_id[item_id], channel, kept, change, run_id, known))
    return alerts


def _change(changes: Mapping[str, Change], item_id: str) -> Change:
    change = changes.get(item_id, "new")
    return "new" if change == "unchanged" else change  # a forced re-match: same key as before


def _alert(
    item: PolicyItem,
    channel: str,
    found: list[tuple[Watchlist, Match]],
    change: Change,
    run_id: str,
    known: Mapping[str, tuple[Relation, str]],
) -> Alert:
    kind: AlertKind = "instant" if any(w.mode == "instant" for w, _ in found) else "digest"
    groups: dict[str, list[Reason]] = {}
    for watchlist, match in found:
        reasons = groups.setdefault(watchlist.name, [])
        reasons += [r for r in match.reasons if r not in reasons]
    return Alert(
        key=Alert.make_key(channel, alert_item_ref(item, change), kind),
        watchlist=", ".join(groups),
        channel=channel,
        item_id=item.id,
        kind=kind,
        run_id=run_id,
        change=change,
        reasons=[_group(n, r, known.get(n)) for n, r in groups.items()],
    )


def _group(
    name: str, reasons: list[Reason], known: tuple[Relation, str] | None
) -> WatchlistReasons:
    if known is None:
        return WatchlistReasons(watchlist=name, reasons=reasons)
    relation, note = known
    return WatchlistReasons(watchlist=name, reasons=reasons, relation=relation, note=note)


# -- the test alert ---------------------------------------------------------------------------


def sample_entry(
    watchlist: Watchlist, taxonomy: Taxonomy, bodies: BodyIndex, *, nonce: str = ""
) -> Entry:
    """A made-up item built from the watchlist's own terms, with the reasons the real matcher
    gives for it: the test message looks like what this watchlist will send.

    ``nonce`` makes each test message a new message (mail services drop a repeated Message-ID).
    """
    terms = sample_terms(watchlist, taxonomy, bodies)
    item = _sample_item(watchlist, terms)
    notice = _sample_notice(terms)
    matches = Matcher.build([watchlist], taxonomy, bodies).match(item, [notice])
    reasons = matches[0].reasons if matches else _stated_reasons(watchlist, terms, item)
    return Entry(
        key=f"test|{watchlist.name}|{nonce}",
        matched=[WatchlistReasons(watchlist=watchlist.name, reasons=reasons)],
        item=item,
        issue=IssueMeta(title="policywatch test alert", published=dt.date.today()),
        notices=[notice],
    )


def sample_terms(
    watchlist: Watchlist, taxonomy: Taxonomy, bodies: BodyIndex
) -> dict[str, list[str]]:
    """One term per facet the watchlist lists (all facets, so ``require_all`` matches too)."""
    out: dict[str, list[str]] = {"en": [], "zh": [], "bodies": []}
    if watchlist.keywords:
        word = watchlist.keywords[0]
        out["zh" if _CJK.search(word) else "en"].append(word)
    if watchlist.companies:
        company = taxonomy.company(watchlist.companies[0])
        out["en"].append(company.name_en if company else watchlist.companies[0])
    if watchlist.sectors and (sector := taxonomy.sector(watchlist.sectors[0])) is not None:
        out["en"].append(sector.name_en)
        out["zh"].append(sector.name_zh)
    if watchlist.bodies:
        body = bodies.get(bodies.canonical_or_self(watchlist.bodies[0]))
        out["bodies"].append(body.en if body else watchlist.bodies[0])
    return out


def _sample_item(watchlist: Watchlist, terms: dict[str, list[str]]) -> PolicyItem:
    about = ", ".join(terms["en"]) or (terms["zh"][0] if terms["zh"] else "policy")
    zh = "、".join(terms["zh"])
    section = "top" if "top" in watchlist.sections else watchlist.sections[0]
    return PolicyItem(
        id="sample-0000",
        section=section,
        position=1,
        headline=f"Test alert for {watchlist.name}: a sample notice on {about}",
        date=dt.date.today(),
        summary=(
            f"This is a test message from policywatch. A real alert for {watchlist.name} "
            "looks like this one. Key points of the sample notice include:"
        ),
        goals=[f"a made-up target for {about}", "a made-up deadline"],
        policy=Policy(
            title_en=f"Notice on a Sample Policy on {about}",
            title_zh=f"关于{zh or '测试'}的测试通知",
            issuing_bodies=terms["bodies"],
            date=dt.date.today(),
        ),
        links=[Link(text="Link", url="https://merics.org/en")],
        text=f"Sample item text about {about} {zh}".strip(),
    )


def _sample_notice(terms: dict[str, list[str]]) -> Notice:
    zh = "、".join(terms["zh"]) or "测试"
    return Notice(
        url="https://www.gov.cn/",
        site="gov",
        title=f"关于{zh}的测试通知",
        doc_number="测试〔2024〕1号",
        published=dt.date.today(),
        body_text=f"各有关单位：\n这是一条测试通知，内容涉及{zh}。\n请勿回复。",
    )


def _stated_reasons(
    watchlist: Watchlist, terms: dict[str, list[str]], item: PolicyItem
) -> list[Reason]:
    """When the sample cannot match (an ``exclude`` term hits it): the terms it was built on."""
    words = [*terms["en"], *terms["zh"], *terms["bodies"]] or watchlist.keywords[:1]
    return [
        Reason(facet="keyword", term=w, found=w, field="headline", snippet=item.headline)
        for w in words[:3]
    ]
