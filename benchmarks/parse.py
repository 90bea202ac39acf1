"""Median milliseconds to parse one issue (document + issue parser) for HTML, PDF and text.

Goals: an HTML issue under 50 ms, a PDF issue under 500 ms on one core.
Run: .venv/bin/python benchmarks/parse.py [repeats]
"""

from __future__ import annotations

import html
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
# The real issue (outside the repo, read-only) wrapped as an HTML page, for a full-size figure.
REAL = FIXTURES.parents[3] / "shared" / "samples" / "merics-china-industries-2024-10-02.txt"


def real_as_html() -> bytes | None:
    if not REAL.is_file():
        return None
    blocks = []
    for line in REAL.read_text(encoding="utf-8").splitlines():
        text = html.escape(line.strip().removeprefix("- "), quote=False)
        tag = "li" if line.startswith("- ") else "p"
        blocks.append(f"<{tag}>{text}</{tag}>" if text else "")
    page = "<html><body><nav>menu</nav><article>{}</article><footer>f</footer></body></html>"
    return page.format("\n".join(blocks)).encode()


def median_ms(path: Path, bodies: BodyIndex, repeats: int, data: bytes | None = None) -> float:
    data = data if data is not None else path.read_bytes()
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
    page = real_as_html()
    if page is not None:
        ms = median_ms(REAL, bodies, repeats)
        print(
            f"parse text {'real issue as text (23 items)':<24} median {ms:7.1f} ms over {repeats} runs"
        )
        ms = median_ms(REAL.with_suffix(".html"), bodies, repeats, page)
        print(
            f"parse html {'real issue as HTML (23 items)':<24} median {ms:7.1f} ms over {repeats} runs"
        )


if __name__ == "__main__":
    main()
