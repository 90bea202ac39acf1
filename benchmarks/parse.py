"""Median milliseconds to parse one issue (document + issue parser) for HTML, PDF and text.

Goals: an HTML issue under 50 ms, a PDF issue under 500 ms on one core.
Run: .venv/bin/python benchmarks/parse.py [repeats]
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

from parsers.bodies import BodyIndex
from parsers.documents import load_document
from parsers.merics import parse_issue
from parsers.merics_lines import heading

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "merics"
CASES = {
    "html": FIXTURES / "html-2025-03-05.html",
    "pdf": FIXTURES / "pdf-2025-03-05.pdf",
    "text": FIXTURES / "text-2021-01.md",
}
GOALS = {"html": 50.0, "pdf": 500.0}


def median_ms(path: Path, bodies: BodyIndex, repeats: int) -> float:
    data = path.read_bytes()
    runs = []
    for _ in range(repeats):
        heading.cache_clear()  # measure a cold parse, as for a new issue
        start = time.perf_counter()
        parse_issue(load_document(data, path.name), bodies)
        runs.append((time.perf_counter() - start) * 1000)
    return statistics.median(runs)


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    bodies = BodyIndex.load()
    for kind, path in CASES.items():
        ms = median_ms(path, bodies, repeats)
        goal = GOALS.get(kind)
        verdict = (
            "" if goal is None else f"  (goal < {goal:.0f} ms: {'ok' if ms < goal else 'MISSED'})"
        )
        print(f"parse {kind:<4} {path.name:<24} median {ms:7.1f} ms over {repeats} runs{verdict}")


if __name__ == "__main__":
    main()
