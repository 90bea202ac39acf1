"""Matching speed: one Aho-Corasick automaton against a naive per-watchlist regex loop.

Synthetic, reproducible workload (seeded): 1,000 watchlists of 20 terms each (20,000 distinct
terms, a fifth of them Chinese; every fifth watchlist also names a real sector and company from
config/), and 10,000 items of about 700 characters across headline, summary, comment and text,
each carrying a few watchlist terms among filler words. Prints compile time, match time for 2,500 /
5,000 / 10,000 items (to show growth with the number of items) and the naive loop's time on a
sample, extrapolated to all items. Times are CPU time of this one process (``process_time``);
each size runs ``--repeat`` times and prints the best and the median (a shared machine's CPU speed
varies from run to run). The workload is frozen out of the garbage collector's way first
(``gc.freeze``), as the objects built for the benchmark are not garbage and would otherwise be
re-traversed by every collection.

The synthetic items are not typical newsletter items: their terms are random pseudo-words that
rarely overlap between watchlists, so an item fires about two watchlists. Real watchlists share
sectors and companies, and a real item fires many more (per-match work then dominates):
``--sample FILE`` also matches the items of a newsletter issue (repeated up to ``--items``)
against the same watchlists plus the shipped ones.

    .venv/bin/python benchmarks/match.py [--items 10000] [--watchlists 1000] [--naive-sample 200]
        [--repeat 5]
        [--sample ../shared/samples/merics-china-industries-2024-10-02.txt]
"""

from __future__ import annotations

import argparse
import gc
import random
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.goals import Goals
from parsers.text import fold
from policywatch.match import Matcher
from policywatch.models import PolicyItem
from policywatch.settings import Config
from policywatch.taxonomy import Taxonomy, load_taxonomy
from policywatch.watchlists import Watchlist

SAMPLE = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "samples"
    / "merics-china-industries-2024-10-02.txt"
)
CONSONANTS = "bcdfghjklmnpqrstvwxyz"
VOWELS = "aeiou"
HANZI = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]


def word(rng: random.Random, parts: int) -> str:
    """A pseudo-word of ``parts`` syllables (consonant + vowel), like a transliterated name."""
    return "".join(rng.choice(CONSONANTS) + rng.choice(VOWELS) for _ in range(parts))


def vocabulary(rng: random.Random, count: int) -> list[str]:
    """``count`` distinct terms: Latin pseudo-words (some two-word phrases) and Chinese strings."""
    terms: set[str] = set()
    while len(terms) < count:
        roll = rng.random()
        if roll < 0.2:
            terms.add("".join(rng.choice(HANZI) for _ in range(rng.randint(2, 4))))
        elif roll < 0.4:
            terms.add(f"{word(rng, 3)} {word(rng, 3)}")
        else:
            terms.add(word(rng, rng.randint(3, 5)))
    return sorted(terms)


def make_watchlists(rng: random.Random, count: int, taxonomy: Taxonomy) -> list[Watchlist]:
    terms = vocabulary(rng, count * 20)
    rng.shuffle(terms)
    lists = []
    for i in range(count):
        extra = {}
        if i % 5 == 0:
            extra = {
                "sectors": [rng.choice(taxonomy.sectors).id],
                "companies": [rng.choice(taxonomy.companies).name_en],
            }
        lists.append(
            Watchlist(name=f"wl-{i}", keywords=terms[i * 20 : (i + 1) * 20], **extra)  # type: ignore[arg-type]
        )
    return lists


def make_items(rng: random.Random, count: int, terms: list[str]) -> list[PolicyItem]:
    filler = [word(rng, rng.randint(1, 4)) for _ in range(5000)]

    def sentence(words: int, hits: int) -> str:
        out = rng.choices(filler, k=words)
        for _ in range(hits):
            out.insert(rng.randrange(len(out) + 1), rng.choice(terms))
        return " ".join(out) + "."

    items = []
    for i in range(count):
        headline, summary = sentence(10, 0), sentence(30, 1)
        comment = sentence(40, rng.randint(0, 2))
        text = "\n".join([headline, summary, comment, sentence(20, 0)])
        items.append(
            PolicyItem(
                id=f"item-{i}",
                section=rng.choice(["top", "policy_news", "corporate_news"]),
                position=i,
                headline=headline,
                summary=summary,
                comment=comment,
                text=text,
            )
        )
    return items


def naive_patterns(watchlists: list[Watchlist]) -> list[re.Pattern[str]]:
    """One regex per watchlist over its keywords (the obvious implementation)."""
    patterns = []
    for wl in watchlists:
        alternatives = "|".join(re.escape(fold(t).lower()) for t in wl.keywords)
        patterns.append(re.compile(rf"(?<![^\W_])(?:{alternatives})(?![^\W_])"))
    return patterns


def naive_match(items: list[PolicyItem], patterns: list[re.Pattern[str]]) -> int:
    found = 0
    for item in items:
        fields = [item.headline, item.summary or "", item.comment or "", item.text]
        texts = [fold(f).lower() for f in fields]
        for pattern in patterns:
            if any(pattern.search(t) for t in texts):
                found += 1
    return found


def match_sample(
    path: Path,
    count: int,
    watchlists: list[Watchlist],
    config: Config,
    taxonomy: Taxonomy,
    goals: Goals,
    repeat: int,
) -> None:
    """Match a real issue's items (repeated to ``count``) against the lists plus the shipped
    ones: the realistic density (real items fire many watchlists), the automaton build included."""
    from parsers.documents import load_document
    from parsers.merics import parse_issue
    from policywatch.watchlists import load_watchlists

    issue = parse_issue(load_document(path.read_bytes(), str(path)), config.bodies)
    items = (issue.items * (count // len(issue.items) + 1))[:count]
    lists = [*watchlists, *load_watchlists(config, taxonomy=taxonomy)]
    gc.freeze()

    def build_and_match() -> list[object]:
        matcher = Matcher.build(lists, taxonomy, config.bodies)
        return [m for it in items for m in matcher.match(it)]

    runs = []
    for _ in range(repeat):
        spent, found = timed(build_and_match)
        runs.append((spent, len(found)))
        del found  # each run starts with the same heap
    seconds, matches = min(runs)
    median = sorted(s for s, _ in runs)[len(runs) // 2]
    print(
        f"sample {path.name} ({len(issue.items)} items) x{len(items) // len(issue.items)}: "
        f"{len(items):,} items, {len(lists):,} watchlists, build included: best {seconds:.3f} s, "
        f"median {median:.3f} s of {len(runs)} "
        f"({seconds / len(items) * 1e6:.0f} µs/item, {matches:,} matches)"
    )
    goals.check("realistic density, build + match (best)", seconds, 1.5, unit=" s")


def timed(fn, *args):  # type: ignore[no-untyped-def]
    """CPU seconds of this process (one core), so other load on the machine does not count."""
    start = time.process_time()
    result = fn(*args)
    return time.process_time() - start, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--watchlists", type=int, default=1_000)
    parser.add_argument("--naive-sample", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5, help="runs per size; best and median")
    parser.add_argument("--sample", type=Path, help="also match this issue's items, repeated")
    args = parser.parse_args()

    rng = random.Random(20241002)
    config = Config(Path(__file__).resolve().parent.parent / "config")
    taxonomy, bodies = load_taxonomy(config), config.bodies
    watchlists = make_watchlists(rng, args.watchlists, taxonomy)
    terms = [t for wl in watchlists for t in wl.keywords]
    items = make_items(rng, args.items, terms)
    print(f"workload: {len(items):,} items, {len(watchlists):,} watchlists, {len(terms):,} terms")

    goals = Goals("match")
    compile_s, matcher = timed(Matcher.build, watchlists, taxonomy, bodies)
    print(f"automaton compile: {compile_s:.3f} s")
    matcher.match(items[0])  # warm-up
    gc.collect()
    gc.freeze()
    for n in (args.items // 4, args.items // 2, args.items):
        runs = [
            timed(lambda part: [m for it in part for m in matcher.match(it)], items[:n])
            for _ in range(args.repeat)
        ]
        seconds = min(s for s, _ in runs)
        median = sorted(s for s, _ in runs)[len(runs) // 2]
        print(
            f"automaton match {n:>7,} items: best {seconds:.3f} s, median {median:.3f} s "
            f"of {len(runs)} ({seconds / n * 1e6:.0f} µs/item, {len(runs[0][1]):,} matches)"
        )

    goals.check(
        f"{args.items:,} items x {len(watchlists):,} watchlists, build + match (best)",
        compile_s + seconds, 1.0, unit=" s",
    )  # fmt: skip
    sample = args.sample or (SAMPLE if SAMPLE.is_file() else None)
    if sample is not None:
        match_sample(sample, args.items, watchlists, config, taxonomy, goals, args.repeat)
    else:
        print(f"realistic density: skipped, no sample at {SAMPLE} (give --sample FILE)")

    compile_naive, patterns = timed(naive_patterns, watchlists)
    few = items[: args.naive_sample]
    naive_s, naive_found = timed(naive_match, few, patterns)
    estimate = naive_s / len(few) * len(items)
    print(f"naive regex compile: {compile_naive:.3f} s ({len(patterns):,} patterns)")
    print(
        f"naive regex match {len(few):,} items: {naive_s:.3f} s ({naive_found:,} matches); "
        f"extrapolated to {len(items):,} items: {estimate:.1f} s (for comparison; no goal)"
    )
    return goals.finish()


if __name__ == "__main__":
    sys.exit(main())
