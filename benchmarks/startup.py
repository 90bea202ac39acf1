"""Start-up benchmark: ``policywatch parse`` of the real sample and ``policywatch --help``, each
in a fresh process, as a user types them (wall time, imports and all).

Goal: ``policywatch parse`` of the sample at most 0.6 s wall on a quiet 2-core machine (best of
N; the median is printed too, since a busy machine stretches it). The real sample lives outside
the repository (``../shared/samples``); without it the synthetic text fixture is parsed.
Run: .venv/bin/python benchmarks/startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.goals import Goals  # noqa: E402

CLI = str(Path(sys.executable).with_name("policywatch"))
SAMPLE = REPO.parent / "shared" / "samples" / "merics-china-industries-2024-10-02.txt"
FALLBACK = REPO / "tests" / "fixtures" / "merics" / "text-2021-01.md"


def wall(args: list[str], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([CLI, *args], capture_output=True, check=True, cwd=REPO)
        out.append(time.perf_counter() - start)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    goals = Goals("startup")
    sample = SAMPLE if SAMPLE.is_file() else FALLBACK
    wall(["--help"], 1)  # the first start after an install compiles bytecode: not counted
    for label, argv, goal in (
        (f"policywatch parse {sample.name}", ["parse", str(sample)], 0.6),
        ("policywatch --help", ["--help"], None),
    ):
        times = wall(argv, args.runs)
        best, median = min(times), statistics.median(times)
        print(f"{label}: best {best:.3f} s, median {median:.3f} s of {len(times)} fresh processes")
        if goal is not None:
            goals.check(f"{label}, best", best, goal, unit=" s")
    return goals.finish()


if __name__ == "__main__":
    raise SystemExit(main())
