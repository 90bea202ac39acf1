"""Who holds a lock or runs a run: host, boot, pid namespace, pid and the process's start time.

Why all of them: a pid alone is recycled (after a reboot, or after enough processes); a host
name alone says nothing about liveness. On the same host and boot, in the same pid namespace,
a pid that still exists with the recorded start time is the holder; anything else means the
holder is gone and what it held can be taken over at once. A holder from a previous boot of
this host is gone too. A holder on another host (or in another container's pid namespace)
cannot be checked from here: its lock expires instead.

Linux gives all of it through ``/proc``. Elsewhere the boot id and start time are unknown
(empty): liveness is then the pid alone (``kill(pid, 0)``), so a recycled pid looks alive and
the waiter waits for the lock's expiry, the safe side.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

__all__ = ["Holder", "Verdict", "current", "is_gone", "verdict"]

Verdict = Literal["gone", "alive", "unknown"]

_PROC = Path("/proc")


@dataclass(frozen=True)
class Holder:
    """One process (and one acquisition of it: ``nonce``), as recorded in ``locks``/``runs``."""

    host: str
    pid: int
    boot_id: str = ""
    pidns: str = ""
    started: str = ""
    nonce: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host}"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> Holder | None:
        """The holder a row recorded; None for rows written before holders were recorded."""
        if not isinstance(data, dict) or not isinstance(data.get("pid"), int):
            return None
        text = {k: str(data.get(k) or "") for k in ("host", "boot_id", "pidns", "started", "nonce")}
        return cls(pid=data["pid"], **text)


def current() -> Holder:
    """This process, with a fresh nonce (each acquisition is told apart from the others)."""
    pid = os.getpid()
    return Holder(socket.gethostname(), pid, _boot_id(), _pidns(), start_time(pid))


def is_gone(holder: Holder, here: Holder | None = None) -> bool:
    """Whether ``holder`` certainly no longer runs: same host, and a previous boot or no such
    process (or a zombie, or a new process that reused the pid). False when it cannot be told."""
    return verdict(holder, here) == "gone"


def verdict(holder: Holder, here: Holder | None = None) -> Verdict:
    """``gone`` or ``alive`` when this host can tell; ``unknown`` for another host (or another
    container's pid namespace on this one), whose processes cannot be looked at from here."""
    here = here or current()
    if holder.host != here.host:
        return "unknown"
    if holder.boot_id and here.boot_id and holder.boot_id != here.boot_id:
        return "gone"  # this host has booted since: every process of that boot is gone
    if holder.pidns != here.pidns:
        return "unknown"
    return "alive" if _alive(holder.pid, holder.started) else "gone"


def start_time(pid: int) -> str:
    """The process's start time in clock ticks since boot (Linux), or "" when unknown."""
    fields = _stat(pid)
    return fields[19] if fields and len(fields) > 19 else ""


def _alive(pid: int, started: str) -> bool:
    if pid <= 0:
        return True  # nothing to check: assume alive, the lock expires anyway
    if _PROC.joinpath("self", "stat").exists():
        fields = _stat(pid)
        if fields is None or fields[0] in ("Z", "X"):  # no such process, or killed and unreaped
            return False
        return not started or fields[19] == started
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by another user
    return True


def _stat(pid: int) -> list[str] | None:
    """``/proc/<pid>/stat`` after the command name (state first), or None when unreadable."""
    try:
        text = _PROC.joinpath(str(pid), "stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    return text.rpartition(")")[2].split()


@cache
def _boot_id() -> str:
    try:
        return _PROC.joinpath("sys/kernel/random/boot_id").read_text(encoding="ascii").strip()
    except OSError:
        return ""


@cache
def _pidns() -> str:
    try:
        return os.readlink(_PROC / "self" / "ns" / "pid")
    except OSError:
        return ""
