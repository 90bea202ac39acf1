"""Which watchlists an item fires, and why: one Aho-Corasick automaton over all terms.

Every term of every watchlist (sector terms, company names and aliases, body names, keywords,
exclusions) is compiled once into one automaton over normalised text: width-folded (NFKC),
whitespace squashed, spaces between two CJK characters dropped (PDF extraction puts them there),
lower-cased. Scanning a field is one pass whatever the number of watchlists. A hit is then
checked in Python:

- a term that starts or ends with a Latin letter or digit needs a word boundary on that side
  (``EV`` does not fire on ``every``, ``CATL`` not on ``CATLike``); CJK characters count as a
  boundary, so ``比亚迪BYD`` still finds ``BYD``. Chinese terms match as substrings;
- sector terms and keywords also match with a plural ``s`` (``battery`` needs its own
  ``batteries`` entry, ``EV`` finds ``EVs``);
- an all-capitals acronym of up to five characters (``MOST``, ``AI``, ``EVE``) is matched in its
  written case, so the body ``MOST`` does not fire on "most".

Hits map to *features* (a sector, a company, a body, a free term); each feature remembers the
first place it was found, which becomes the match's reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from weakref import WeakKeyDictionary

import ahocorasick

from parsers.bodies import BodyIndex
from parsers.text import fold
from policywatch.errors import ConfigError
from policywatch.models import Facet, Issue, Match, Notice, PolicyItem, Reason
from policywatch.taxonomy import Taxonomy
from policywatch.watchlists import Watchlist

__all__ = ["Hit", "Matcher", "normalize", "tag_issue", "tag_item"]

_WS = re.compile(r"\s+")
_CJK_GAP = re.compile(r"(?<=[\u3400-\u9fff\uf900-\ufaff]) (?=[\u3400-\u9fff\uf900-\ufaff])")
_ACRONYM = re.compile(r"^[A-Z][A-Z0-9]{1,4}$")
_SNIPPET = 80
_FACETS: tuple[Facet, ...] = ("sector", "company", "body", "keyword")


def normalize(text: str) -> str:
    """The display form the matcher reads: folded, squashed, CJK gaps closed (not lower-cased)."""
    return _CJK_GAP.sub("", _WS.sub(" ", fold(text))).strip()


def _lower(text: str) -> str:
    """Lower-case without changing the length, so offsets stay valid in the display form."""
    low = text.lower()
    if len(low) == len(text):
        return low
    return "".join(c if len(c.lower()) != 1 else c.lower() for c in text)


def _is_word(char: str) -> bool:
    return char.isalnum() and not ("\u2e80" <= char <= "\ufaff")


def _snippet(text: str, start: int, end: int) -> str:
    pad = max(0, (_SNIPPET - (end - start)) // 2)
    lo, hi = max(0, start - pad), min(len(text), end + pad)
    return ("…" if lo else "") + text[lo:hi].strip() + ("…" if hi < len(text) else "")


@dataclass(frozen=True)
class _Posting:
    feature: int
    exact: str | None  # the display form to compare when matched case-sensitively
    plural: bool


@dataclass(frozen=True)
class _Term:
    length: int
    left: bool  # needs a word boundary on the left
    right: bool
    postings: tuple[_Posting, ...]


@dataclass(frozen=True)
class Hit:
    """Where a feature was first found (``text``/``start``/``stop`` let a longer alias win)."""

    found: str
    field: str
    snippet: str
    text: int = -1
    start: int = 0
    stop: int = 0

    def covered_by(self, text: int, start: int, stop: int) -> bool:
        """True when a hit at ``start:stop`` of the same text contains this one and is longer."""
        return text == self.text and start <= self.start and stop >= self.stop


@dataclass
class _Scanner:
    """Terms of many features in one automaton; ``scan`` returns the features found."""

    features: list[tuple[str, str]] = field(default_factory=list)
    _ids: dict[tuple[str, str], int] = field(default_factory=dict)
    _postings: dict[str, list[_Posting]] = field(default_factory=dict)
    _automaton: Any = None

    def feature(self, kind: str, key: str) -> tuple[int, bool]:
        """The id of feature (kind, key) and whether it is new."""
        fid = self._ids.get((kind, key))
        if fid is not None:
            return fid, False
        self._ids[(kind, key)] = fid = len(self.features)
        self.features.append((kind, key))
        return fid, True

    def add_term(self, fid: int, term: str, *, plural: bool = False) -> None:
        display = normalize(term)
        if not display:
            return
        exact = display if _ACRONYM.match(display) else None
        self._postings.setdefault(_lower(display), []).append(_Posting(fid, exact, plural))

    def compile(self) -> None:
        automaton = ahocorasick.Automaton()
        for key, postings in self._postings.items():
            term = _Term(len(key), _is_word(key[0]), _is_word(key[-1]), tuple(postings))
            automaton.add_word(key, term)
        if self._postings:
            automaton.make_automaton()
        self._automaton = automaton

    def scan(self, text: str, field_name: str, hits: dict[int, Hit], seq: int = 0) -> None:
        """Add to ``hits`` every feature found in ``text`` (``seq`` numbers the texts scanned)."""
        if not text or not self._postings:
            return
        display = normalize(text)
        low = _lower(display)
        for end, term in self._automaton.iter(low):
            start = end + 1 - term.length
            if term.left and start > 0 and _is_word(low[start - 1]):
                continue
            stop = _stop(low, end + 1, term)
            if stop is not None:
                self._accept(display, (seq, start, stop), end + 1, term, field_name, hits)

    @staticmethod
    def _accept(
        display: str,
        span: tuple[int, int, int],
        plain_stop: int,
        term: _Term,
        name: str,
        hits: dict[int, Hit],
    ) -> None:
        seq, start, stop = span
        plural = stop != plain_stop
        for posting in term.postings:
            if plural and not posting.plural:
                continue
            old = hits.get(posting.feature)
            if old is not None and not old.covered_by(seq, start, stop):
                continue
            if posting.exact is not None and display[start:plain_stop] != posting.exact:
                continue
            snippet = _snippet(display, start, stop)
            hits[posting.feature] = Hit(display[start:stop], name, snippet, seq, start, stop)


def _stop(low: str, stop: int, term: _Term) -> int | None:
    """Where a hit ends: at ``stop`` on a word boundary, after a plural "s", or None (no hit)."""
    if not term.right or stop >= len(low) or not _is_word(low[stop]):
        return stop
    if low[stop] == "s" and (stop + 1 >= len(low) or not _is_word(low[stop + 1])):
        return stop + 1
    return None


def _fields(item: PolicyItem, notices: Sequence[Notice]) -> Iterator[tuple[str, str]]:
    """The texts of an item and of its notices, in the order reasons should prefer."""
    yield "headline", item.headline
    yield "summary", item.summary or ""
    for goal in item.goals:
        yield "goals", goal
    yield "comment", item.comment or ""
    if item.policy is not None:
        yield "policy.title_en", item.policy.title_en or ""
        yield "policy.title_zh", item.policy.title_zh or ""
    yield "text", item.text
    for notice in notices:
        yield "notice.title", notice.title or ""
        yield "notice.body_text", notice.body_text


def _issuers(item: PolicyItem, notices: Sequence[Notice]) -> Iterator[tuple[str, str]]:
    for name in item.policy.issuing_bodies if item.policy else ():
        yield "policy.issuing_bodies", name
    for notice in notices:
        if notice.issuing_body:
            yield "notice.issuing_body", notice.issuing_body


@dataclass(frozen=True)
class _Compiled:
    """A watchlist reduced to feature ids."""

    watchlist: Watchlist
    facets: tuple[tuple[Facet, tuple[tuple[str, int], ...]], ...]
    exclude: tuple[int, ...]
    sections: frozenset[str]

    def reasons(self, hits: dict[int, Hit]) -> list[Reason] | None:
        """The reasons this watchlist fires on ``hits``, or None when it does not."""
        if any(fid in hits for fid in self.exclude):
            return None
        reasons: list[Reason] = []
        matched_facets = 0
        for facet, entries in self.facets:
            found = [_reason(facet, entry, hits[fid]) for entry, fid in entries if fid in hits]
            matched_facets += bool(found)
            reasons += found
        if self.watchlist.require_all and matched_facets < len(self.facets):
            return None
        return reasons or None


def _reason(facet: Facet, entry: str, hit: Hit) -> Reason:
    return Reason(facet=facet, term=entry, found=hit.found, field=hit.field, snippet=hit.snippet)


class Matcher:
    """All watchlists compiled once; ``match`` scans an item and its notices in one pass each."""

    def __init__(self, scanner: _Scanner, compiled: list[_Compiled], bodies: BodyIndex) -> None:
        self._scanner = scanner
        self._compiled = compiled
        self._bodies = bodies
        self._by_feature: dict[int, list[int]] = {}
        for index, wl in enumerate(compiled):
            for _facet, entries in wl.facets:
                for _entry, fid in entries:
                    self._by_feature.setdefault(fid, []).append(index)

    @classmethod
    def build(
        cls, watchlists: Sequence[Watchlist], taxonomy: Taxonomy, bodies: BodyIndex
    ) -> Matcher:
        scanner = _Scanner()
        compiled = [_compile(wl, scanner, taxonomy, bodies) for wl in watchlists]
        scanner.compile()
        return cls(scanner, compiled, bodies)

    @property
    def watchlists(self) -> list[Watchlist]:
        return [c.watchlist for c in self._compiled]

    def hits(self, item: PolicyItem, notices: Sequence[Notice] = ()) -> dict[int, Hit]:
        hits: dict[int, Hit] = {}
        for field_name, name in _issuers(item, notices):
            fid = self._scanner._ids.get(("body", self._bodies.canonical_or_self(name)))
            if fid is not None and fid not in hits:
                hits[fid] = Hit(found=name, field=field_name, snippet=name)
        for seq, (name, text) in enumerate(_fields(item, notices)):
            self._scanner.scan(text, name, hits, seq)
        return hits

    def match(self, item: PolicyItem, notices: Sequence[Notice] = ()) -> list[Match]:
        hits = self.hits(item, notices)
        candidates = sorted({i for fid in hits for i in self._by_feature.get(fid, ())})
        out: list[Match] = []
        for index in candidates:
            compiled = self._compiled[index]
            if item.section not in compiled.sections:
                continue
            reasons = compiled.reasons(hits)
            if reasons:
                out.append(
                    Match(watchlist=compiled.watchlist.name, item_id=item.id, reasons=reasons)
                )
        return out


def _compile(wl: Watchlist, scanner: _Scanner, taxonomy: Taxonomy, bodies: BodyIndex) -> _Compiled:
    facets: list[tuple[Facet, tuple[tuple[str, int], ...]]] = []
    for facet, entries in (
        ("sector", wl.sectors),
        ("company", wl.companies),
        ("body", wl.bodies),
        ("keyword", wl.keywords),
    ):
        if entries:
            ids = tuple((e, _feature(scanner, facet, e, taxonomy, bodies)) for e in entries)
            facets.append((facet, ids))  # type: ignore[arg-type]
    exclude = tuple(_term_feature(scanner, "exclude", term) for term in wl.exclude)
    return _Compiled(wl, tuple(facets), exclude, frozenset(wl.sections))


def _feature(
    scanner: _Scanner, facet: str, entry: str, taxonomy: Taxonomy, bodies: BodyIndex
) -> int:
    if facet == "sector":
        sector = taxonomy.sector(entry)
        if sector is None:
            raise ConfigError(f"watchlist refers to unknown sector '{entry}'")
        return _add(scanner, "sector", sector.id, sector.terms(), plural=True)
    if facet == "company":
        company = taxonomy.company(entry)
        if company is None:
            return _add(scanner, "company", entry, [entry])
        return _add(scanner, "company", company.name_en, company.names())
    if facet == "body":
        body_id = bodies.canonical_or_self(entry)
        body = bodies.get(body_id)
        return _add(scanner, "body", body_id, body.names() if body else [entry])
    return _term_feature(scanner, "keyword", entry)


def _term_feature(scanner: _Scanner, kind: str, term: str) -> int:
    return _add(scanner, kind, _lower(normalize(term)), [term], plural=True)


def _add(
    scanner: _Scanner, kind: str, key: str, terms: Iterable[str], *, plural: bool = False
) -> int:
    fid, new = scanner.feature(kind, key)
    if new:
        for term in terms:
            scanner.add_term(fid, term, plural=plural)
    return fid


_TAGGERS: WeakKeyDictionary[Taxonomy, _Scanner] = WeakKeyDictionary()


def _tagger(taxonomy: Taxonomy) -> _Scanner:
    scanner = _TAGGERS.get(taxonomy)
    if scanner is None:
        scanner = _Scanner()
        for sector in taxonomy.sectors:
            _add(scanner, "sector", sector.id, sector.terms(), plural=True)
        for company in taxonomy.companies:
            _add(scanner, "company", company.name_en, company.names())
        scanner.compile()
        _TAGGERS[taxonomy] = scanner
    return scanner


def tag_item(item: PolicyItem, taxonomy: Taxonomy, notices: Sequence[Notice] = ()) -> PolicyItem:
    """A copy of ``item`` with ``sectors`` (ids) and ``companies`` (canonical names) filled."""
    scanner = _tagger(taxonomy)
    hits: dict[int, Hit] = {}
    for seq, (name, text) in enumerate(_fields(item, notices)):
        scanner.scan(text, name, hits, seq)
    found = [scanner.features[fid] for fid in hits]
    sectors = _merge(item.sectors, [key for kind, key in found if kind == "sector"])
    companies = _merge(item.companies, [key for kind, key in found if kind == "company"])
    return item.model_copy(update={"sectors": sectors, "companies": companies})


def tag_issue(issue: Issue, taxonomy: Taxonomy) -> Issue:
    """``issue`` with every item tagged (what ``policywatch parse`` prints)."""
    items = [tag_item(item, taxonomy) for item in issue.items]
    return issue.model_copy(update={"items": items})


def _merge(first: list[str], more: list[str]) -> list[str]:
    return list(dict.fromkeys([*first, *more]))
