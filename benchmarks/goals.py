"""Goals for benchmark figures: each check prints the figure, its goal and the ratio, and
remembers a miss; ``finish`` lists the misses and gives the exit code (1 when any).

``make bench`` runs every benchmark and then lists every miss, so one slow figure does not hide
the others. A figure is only ever checked against its goal when it measures the real thing.
"""

from __future__ import annotations

import os
from pathlib import Path

MISSES_FILE = os.environ.get("POLICYWATCH_BENCH_MISSES")  # make bench collects misses here


class Goals:
    def __init__(self, name: str) -> None:
        self.name = name
        self.misses: list[str] = []

    def check(
        self,
        label: str,
        value: float,
        goal: float,
        *,
        unit: str = "",
        higher_is_worse: bool = True,
        aim: float | None = None,
    ) -> bool:
        ok = value <= goal if higher_is_worse else value >= goal
        sign = "<=" if higher_is_worse else ">="
        ratio = (value / goal) if goal else (0.0 if value == 0 else float("inf"))
        extra = f", aim {sign} {aim:g}{unit}" if aim is not None else ""
        verdict = "goal met" if ok else "MISSED"
        print(f"   {label}: {value:.3g}{unit} (goal {sign} {goal:g}{unit}{extra}; "
              f"{ratio:.2f} of the goal) {verdict}")  # fmt: skip
        if not ok:
            self.misses.append(
                f"{self.name}: {label}: {value:.3g}{unit}, goal {sign} {goal:g}{unit}"
            )
        return ok

    def finish(self) -> int:
        if MISSES_FILE:
            with Path(MISSES_FILE).open("a", encoding="utf-8") as out:
                out.writelines(m + "\n" for m in self.misses)
        if self.misses:
            print(f"\n{len(self.misses)} goal(s) missed:")
            for miss in self.misses:
                print(f"  - {miss}")
            return 1
        print("\nevery goal met")
        return 0
