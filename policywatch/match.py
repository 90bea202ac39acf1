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

import gc
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from weakref import WeakKeyDictionary

import ahocorasick

from parsers.bodies import BodyIndex
from parsers.text import fold
from policywatch.errors import ConfigError
from policywatch.models import Facet, Issue, Match, Notice, PolicyItem, Reason
from policywatch.taxonomy import Taxonomy
from policywatch.watchlists import Watchlist

__all__ = ["Hit", "Matcher", "normalize", "scan_item", "tag_issue", "tag_item"]

_CJK_GAP = re.compile(r"(?<=[\u3400-\u9fff\uf900-\ufaff]) (?=[\u3400-\u9fff\uf900-\ufaff])")
_ACRONYM = re.compile(r"^[A-Z][A-Z0-9]{1,4}$")
_SNIPPET = 80
_ASCII_WORD = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")


def normalize(text: str) -> str:
    """The display form the matcher reads: folded, squashed, CJK gaps closed (not lower-cased)."""
    squashed = " ".join(fold(text).split())
    return squashed if squashed.isascii() else _CJK_GAP.sub("", squashed)


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


class _Posting(NamedTuple):
    feature: int
    exact: str | None  # the display form to compare when matched case-sensitively
    plural: bool


class _Term:
    """What the automaton returns for a hit (a slots class: built once per term, read per hit)."""

    __slots__ = ("left", "length", "postings", "right")

    def __init__(self, key: str, octets: str, postings: list[_Posting]) -> None:
        self.length = len(octets)
        self.left = _is_word(key[0])  # needs a word boundary on the left
        self.right = _is_word(key[-1])
        self.postings = tuple(postings)


class Hit(NamedTuple):
    """Where a feature was first found (``text``/``start``/``stop`` let a longer alias win)."""

    found: str
    field: str
    snippet: str
    text: int = -1
    start: int = 0
    stop: int = 0

    def covered_by(self, text: int, start: int, stop: int) -> bool:
        """True when a hit at ``start:stop`` of the same text contains this one."""
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
        self.add_display(fid, normalize(term), plural=plural)

    def add_display(self, fid: int, display: str, *, plural: bool = False) -> None:
        if not display:
            return
        exact = display if _ACRONYM.match(display) else None
        self._postings.setdefault(_lower(display), []).append(_Posting(fid, exact, plural))

    def compile(self) -> None:
        automaton = ahocorasick.Automaton()
        for key, postings in self._postings.items():
            octets = _octets(key)
            automaton.add_word(octets, _Term(key, octets, postings))
        if self._postings:
            automaton.make_automaton()
        self._automaton = automaton

    def scan(self, text: str, field_name: str, hits: dict[int, Hit], seq: int = 0) -> None:
        """Add to ``hits`` every feature found in ``text`` (``seq`` numbers the texts scanned).

        The hot loop, kept flat on purpose; offsets are converted from UTF-8 to characters only
        for accepted hits, and not at all in ASCII text.
        """
        if not text or not self._postings:
            return
        display = normalize(text)
        ascii_text = display.isascii()
        octets = _lower(display) if ascii_text else _octets(_lower(display))
        size = len(octets)
        for end, term in self._automaton.iter(octets):
            start = end + 1 - term.length
            if term.left and start:
                before = octets[start - 1]
                if before in _ASCII_WORD or (
                    before >= "\x80" and _is_word(_char_before(octets, start))
                ):
                    continue
            plain = stop = end + 1
            if term.right and plain < size:
                after = octets[plain]
                if after in _ASCII_WORD or (after >= "\x80" and _is_word(_char_at(octets, plain))):
                    # only a plural "s" that ends the word may follow a term
                    if after != "s" or _word_at(octets, plain + 1):
                        continue
                    stop = plain + 1
            chars: tuple[int, int, int] | None = None
            for posting in term.postings:
                if stop != plain and not posting.plural:
                    continue
                old = hits.get(posting.feature)
                if old is not None and old.text != seq:
                    continue  # found in an earlier text: the first place wins (the usual case)
                if chars is None:
                    chars = (
                        (start, plain, stop)
                        if ascii_text
                        else _char_offsets(octets, start, plain, stop)
                    )
                first, last, past = chars
                if old is not None and not old.covered_by(seq, first, past):
                    continue
                if posting.exact is not None and display[first:last] != posting.exact:
                    continue
                hits[posting.feature] = Hit(
                    display[first:past],
                    field_name,
                    _snippet(display, first, past),
                    seq,
                    first,
                    past,
                )


# The automaton runs over UTF-8 bytes seen as Latin-1 characters: pyahocorasick looks children up
# linearly, and thousands of distinct Chinese first characters made every step slow; as bytes the
# fan-out is at most 256 (measured: 10x faster on mixed text). Offsets are converted back to
# characters only for accepted hits.


def _octets(text: str) -> str:
    return text.encode("utf-8").decode("latin-1")


def _chars(octets: str) -> str:
    return octets.encode("latin-1").decode("utf-8", "replace")


def _char_offsets(octets: str, start: int, plain: int, stop: int) -> tuple[int, int, int]:
    """UTF-8 offsets of a hit (``stop`` is past a plural s) as character offsets."""
    first = len(_chars(octets[:start]))
    last = first + len(_chars(octets[start:plain]))
    return first, last, last + (stop - plain)


def _char_before(octets: str, index: int) -> str:
    begin = index - 1
    while begin > 0 and "\x80" <= octets[begin] < "\xc0":
        begin -= 1
    return _chars(octets[max(begin, 0) : index])


def _char_at(octets: str, index: int) -> str:
    if index >= len(octets):
        return ""
    lead = ord(octets[index])
    size = 1 if lead < 0xC0 else 2 if lead < 0xE0 else 3 if lead < 0xF0 else 4
    return _chars(octets[index : index + size])


def _word_at(octets: str, index: int) -> bool:
    """Whether the character at UTF-8 offset ``index`` is a word character (False at the end)."""
    if index >= len(octets):
        return False
    char = octets[index]
    if char < "\x80":
        return char in _ASCII_WORD
    return _is_word(_char_at(octets, index))


def _fields(item: PolicyItem) -> Iterator[tuple[str, str]]:
    """An item's own fields besides ``text``, in the order reasons should prefer."""
    yield "headline", item.headline
    yield "summary", item.summary or ""
    for goal in item.goals:
        yield "goals", goal
    yield "comment", item.comment or ""
    if item.policy is not None:
        yield "policy.title_en", item.policy.title_en or ""
        yield "policy.title_zh", item.policy.title_zh or ""


def scan_item(
    scanner: _Scanner, item: PolicyItem, notices: Sequence[Notice], hits: dict[int, Hit]
) -> None:
    """Scan an item and its notices once each.

    ``text`` holds the other fields in full: each field is scanned on its own (so a reason names
    the headline rather than the full text when it can) and cut out of ``text``, whose rest is
    scanned last. Fields come in the order reasons should prefer; the first hit of a feature wins.
    """
    rest = item.text
    seq = 0
    for name, value in _fields(item):
        if not value:
            continue
        scanner.scan(value, name, hits, seq)
        seq += 1
        if value in rest:
            rest = rest.replace(value, "\n", 1)
    scanner.scan(rest, "text", hits, seq)
    for notice in notices:
        scanner.scan(notice.title or "", "notice.title", hits, seq + 1)
        scanner.scan(notice.body_text, "notice.body_text", hits, seq + 2)
        seq += 2


def _issuers(item: PolicyItem, notices: Sequence[Notice]) -> Iterator[tuple[str, str]]:
    for name in item.policy.issuing_bodies if item.policy else ():
        yield "policy.issuing_bodies", name
    for notice in notices:
        if notice.issuing_body:
            yield "notice.issuing_body", notice.issuing_body


_Key = tuple[Facet, str, int]  # (facet, watchlist entry, feature id): one reason per item
_Row = tuple[int, int]  # (position in the watchlist, key number)


@dataclass(frozen=True)
class _Compiled:
    """A watchlist reduced to feature ids: ``entries`` maps a feature to the rows it serves."""

    watchlist: Watchlist
    entries: dict[int, list[_Row]]
    facet_count: int
    exclude: tuple[int, ...]
    sections: frozenset[str]

    @property
    def plain(self) -> bool:
        """Fires on any feature found: no exclusion, not every facet required."""
        return not self.exclude and not (self.watchlist.require_all and self.facet_count > 1)

    def fires(self, rows: list[_Row], hits: dict[int, Hit], keys: list[_Key]) -> bool:
        """Whether a watchlist with exclusions or ``require_all`` fires for its ``rows`` found."""
        if self.exclude and any(fid in hits for fid in self.exclude):
            return False
        return not self.watchlist.require_all or (
            len({keys[key][0] for _, key in rows}) >= self.facet_count
        )


class Matcher:
    """All watchlists compiled once; ``match`` scans an item and its notices in one pass each."""

    def __init__(
        self, scanner: _Scanner, compiled: list[_Compiled], keys: list[_Key], bodies: BodyIndex
    ) -> None:
        self._scanner = scanner
        self._keys = keys
        self._compiled = compiled
        self._bodies = bodies
        self._plain = [c.plain for c in compiled]
        self._sections = [c.sections for c in compiled]
        self._names = [c.watchlist.name for c in compiled]
        # feature -> [(watchlist index, the watchlist's rows for it)], in watchlist order
        self._by_feature: dict[int, list[tuple[int, list[_Row]]]] = {}
        for index, wl in enumerate(compiled):
            for fid, rows in wl.entries.items():
                self._by_feature.setdefault(fid, []).append((index, rows))

    @classmethod
    def build(
        cls, watchlists: Sequence[Watchlist], taxonomy: Taxonomy, bodies: BodyIndex
    ) -> Matcher:
        with _gc_paused():
            scanner = _Scanner()
            keys: dict[_Key, int] = {}
            compiled = [_compile(wl, scanner, keys, taxonomy, bodies) for wl in watchlists]
            scanner.compile()
            return cls(scanner, compiled, list(keys), bodies)

    @property
    def watchlists(self) -> list[Watchlist]:
        return [c.watchlist for c in self._compiled]

    def hits(self, item: PolicyItem, notices: Sequence[Notice] = ()) -> dict[int, Hit]:
        hits: dict[int, Hit] = {}
        for field_name, name in _issuers(item, notices):
            fid = self._scanner._ids.get(("body", self._bodies.canonical_or_self(name)))
            if fid is not None and fid not in hits:
                hits[fid] = Hit(found=name, field=field_name, snippet=name)
        scan_item(self._scanner, item, notices, hits)
        return hits

    def _reason(
        self, key: int, hits: dict[int, Hit], made: dict[int, tuple[Reason]]
    ) -> tuple[Reason]:
        facet, entry, fid = self._keys[key]
        hit = hits[fid]
        # validated: with pydantic-core this costs no more than model_construct (2.7 µs)
        reason = Reason(
            facet=facet, term=entry, found=hit.found, field=hit.field, snippet=hit.snippet
        )
        made[key] = out = (reason,)
        return out

    def match(self, item: PolicyItem, notices: Sequence[Notice] = ()) -> list[Match]:
        """The watchlists ``item`` fires, in watchlist order, each with its reasons.

        Kept flat: on real text an item fires about fourteen of a thousand watchlists, so this
        loop runs as often as the scan's. Watchlists that share a sector or company share the
        Reason object (built once per item; reasons are read-only downstream).
        """
        hits = self.hits(item, notices)
        if not hits:
            return []
        found: dict[int, list[_Row]] = {}
        by_feature = self._by_feature
        for fid in hits:
            for index, rows in by_feature.get(fid, ()):
                got = found.get(index)
                if got is None:
                    found[index] = rows  # shared: copied below before it is extended
                else:
                    found[index] = [*got, *rows]
        section, item_id = item.section, item.id
        sections, plain, names, keys = self._sections, self._plain, self._names, self._keys
        made: dict[int, tuple[Reason]] = {}  # key -> (its reason,), shared by the watchlists
        out: list[Match] = []
        for index in sorted(found):
            if section not in sections[index]:
                continue
            rows = found[index]
            if len(rows) > 1:
                rows = sorted(rows)
            if not plain[index] and not self._compiled[index].fires(rows, hits, keys):
                continue
            reasons: tuple[Reason, ...]
            if len(rows) == 1:
                key = rows[0][1]
                reasons = made.get(key) or self._reason(key, hits, made)
            else:
                reasons = tuple(
                    (made.get(key) or self._reason(key, hits, made))[0] for _, key in rows
                )
            out.append(Match(names[index], item_id, reasons))
        return out


@contextmanager
def _gc_paused() -> Iterator[None]:
    """A build makes some 100,000 small acyclic objects; the cyclic collector would walk them
    again and again (a third of the build time, measured), so it waits until the build is done."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _compile(
    wl: Watchlist,
    scanner: _Scanner,
    keys: dict[_Key, int],
    taxonomy: Taxonomy,
    bodies: BodyIndex,
) -> _Compiled:
    entries: dict[int, list[_Row]] = {}
    groups: tuple[tuple[Facet, list[str]], ...] = (
        ("sector", wl.sectors),
        ("company", wl.companies),
        ("body", wl.bodies),
        ("keyword", wl.keywords),
    )
    position = 0
    for facet, values in groups:
        for value in values:
            fid = _feature(scanner, facet, value, taxonomy, bodies)
            key = keys.setdefault((facet, value, fid), len(keys))
            entries.setdefault(fid, []).append((position, key))
            position += 1
    facet_count = sum(1 for _, values in groups if values)
    exclude = tuple(_term_feature(scanner, "exclude", term) for term in wl.exclude)
    return _Compiled(wl, entries, facet_count, exclude, frozenset(wl.sections))


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
    display = normalize(term)
    fid, new = scanner.feature(kind, _lower(display))
    if new:
        scanner.add_display(fid, display, plural=True)
    return fid


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
    scan_item(scanner, item, notices, hits)
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
