"""The fault suite's harness: ``policywatch run`` as a real subprocess against the demo world,
with its peak memory from the kernel, and the alert ledger (what the SMTP sink received against
what a clean run sends).

A case breaks one thing (a server, the state, the process), runs the CLI, checks the one line the
user sees, heals the fault, runs again, and settles the ledger: every alert a clean run sends
arrived, none twice. ``FaultCase`` carries the figures ``benchmarks/faults.py`` prints.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from policywatch.demo import DemoWorld
from tests.health.worlds import edit_config

CLI = str(Path(sys.executable).with_name("policywatch"))
REPORT_ENV = "POLICYWATCH_FAULTS_REPORT"
FEED = "/merics.org/en/rss.xml"

# Settings scaled down so that every case finishes in seconds; the faults stay the same size
# relative to them (a slow acknowledgement is slower than the connect timeout, and so on).
FAST_HTTP = {
    "max_attempts": 2,
    "backoff_base": 0.05,
    "connect_timeout": 1,
    "read_timeout": 2,
    "total_timeout": 4,
}
FAST_INTAKE = {"parse_workers": 1}  # the demo's few documents need no second parser process
FAST_DELIVERY = {
    "max_attempts": 5,
    "backoff_base": 0,
    "connect_timeout": 0.5,
    "data_timeout": 10,
    "webhook_timeout": 2,
}


@dataclass
class Outcome:
    """One CLI process: exit code, output, peak resident memory in MB (from ``wait4``: the
    largest of the CLI and the children it reaped, its parser workers among them)."""

    code: int
    stdout: str
    stderr: str
    peak_mb: float
    seconds: float

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def lines(self, needle: str) -> list[str]:
        """The output lines holding ``needle``; rich wraps at COLUMNS, set wide by ``cli_env``."""
        return [line for line in self.output.splitlines() if needle in line]

    def tail(self) -> str:
        return f"exit {self.code}\n--- stdout\n{self.stdout[-3000:]}\n--- stderr\n{self.stderr[-3000:]}"


@dataclass
class FaultCase:
    """What one case found, written to ``$POLICYWATCH_FAULTS_REPORT`` (JSON lines) at teardown."""

    name: str
    runs: list[Outcome] = field(default_factory=list)
    lost: int | None = None
    duplicated: int | None = None
    faults: dict[str, float] = field(default_factory=dict)  # fault -> peak MB of its run

    def tried(self, fault: str, outcome: Outcome) -> None:
        """A case that tries several faults one after another on one world, then heals them
        all: each fault gets its own row (its run's peak memory; the case's ledger)."""
        self.faults[fault] = outcome.peak_mb

    def settle(self, received: list[EmailMessage], expected: Counter[str]) -> tuple[int, int]:
        """Lost and duplicated alerts: the sink's subjects against a clean run's."""
        got = Counter(subject(m) for m in received)
        self.lost = sum((expected - got).values())
        self.duplicated = sum((got - expected).values())
        return self.lost, self.duplicated

    @property
    def peak_mb(self) -> float:
        return max((run.peak_mb for run in self.runs), default=0.0)

    def record(self, survived: bool) -> None:
        path = os.environ.get(REPORT_ENV)
        if not path:
            return
        faults = self.faults or {self.name: self.peak_mb}
        with open(path, "a", encoding="utf-8") as out:
            for fault, peak in faults.items():
                row = {
                    "case": fault if fault == self.name else f"{self.name}: {fault}",
                    "group": self.name,  # the ledger (lost, duplicated) is the group's
                    "survived": survived,
                    "lost": self.lost,
                    "duplicated": self.duplicated,
                    "peak_mb": round(peak, 1),
                    "runs": len(self.runs),
                    "seconds": round(sum(run.seconds for run in self.runs), 2),
                }
                out.write(json.dumps(row) + "\n")


def subject(message: EmailMessage) -> str:
    return str(message["Subject"])


def cli_env(
    api_url: str, world: DemoWorld, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """A clean environment for the CLI: the shared Prefect server, the demo world, a wide console."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "POLICYWATCH_"))}
    env.update(
        PREFECT_API_URL=api_url,
        PREFECT_HOME=tempfile.mkdtemp(prefix="prefect-faults-"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        COLUMNS="400",
    )
    env.update(world.env)
    env.update(extra or {})
    return env


def start_cli(args: list[str], env: Mapping[str, str], log_dir: Path) -> subprocess.Popen[bytes]:
    """Start the CLI with its output in files (a killed process leaves no pipe to drain)."""
    log_dir.mkdir(parents=True, exist_ok=True)
    n = len(list(log_dir.glob("run-*.out")))
    out = (log_dir / f"run-{n}.out").open("wb")
    err = (log_dir / f"run-{n}.err").open("wb")
    with out, err:
        proc = subprocess.Popen([CLI, *args], env=dict(env), stdout=out, stderr=err)
    proc.out_path = log_dir / f"run-{n}.out"  # type: ignore[attr-defined]
    proc.err_path = log_dir / f"run-{n}.err"  # type: ignore[attr-defined]
    proc.started = time.monotonic()  # type: ignore[attr-defined]
    return proc


def finish(proc: subprocess.Popen[bytes], timeout: float = 240) -> Outcome:
    """Wait for the process with ``wait4`` (its own peak RSS, not the largest child's so far)."""
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            proc.send_signal(signal.SIGKILL)
            pid, status, usage = os.wait4(proc.pid, 0)
            break
        time.sleep(0.02)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Outcome(
        code=proc.returncode,
        stdout=proc.out_path.read_text("utf-8", "replace"),  # type: ignore[attr-defined]
        stderr=proc.err_path.read_text("utf-8", "replace"),  # type: ignore[attr-defined]
        peak_mb=usage.ru_maxrss / 1024,
        seconds=time.monotonic() - proc.started,  # type: ignore[attr-defined]
    )


def run_cli(
    case: FaultCase, args: list[str], env: Mapping[str, str], log_dir: Path, timeout: float = 240
) -> Outcome:
    outcome = finish(start_cli(args, env, log_dir), timeout)
    case.runs.append(outcome)
    return outcome


def kill_when(
    proc: subprocess.Popen[bytes], ready: Callable[[], bool], timeout: float = 120
) -> Outcome:
    """``kill -9`` the process as soon as ``ready()`` holds (polled every 10 ms)."""
    deadline = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None:
            raise AssertionError("the run ended before the kill point was reached")
        if time.monotonic() > deadline:
            raise AssertionError("the kill point was never reached")
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    return finish(proc)


def tune(world: DemoWorld, **sections: dict[str, Any]) -> None:
    """Merge settings into the demo's ``policywatch.yaml`` (``http=``, ``delivery=`` ...)."""

    def merge(config: dict[str, Any]) -> None:
        for name, values in sections.items():
            config.setdefault(name, {}).update(values)

    edit_config(world, merge)
