"""Parsing off the event loop: a small pool of worker processes, one document at a time each.

Why not ``concurrent.futures.ProcessPoolExecutor``: it cannot stop one job. A PDF that spins for
minutes or inflates to gigabytes must cost that one document, not the run: here each job has a
time limit (the worker is killed and replaced when it runs over) and each worker an address-space
limit (the allocation fails with ``MemoryError`` inside the worker, which reports it; a worker
that dies anyway is replaced). Either way the caller gets a ``ParseError`` for that document and
the other documents carry on.

Workers are started with ``spawn`` (the parent has Prefect's threads; forking them is unsafe),
load the parsers and the config's bodies and taxonomy once, and then answer jobs over a pipe.
``InlinePool`` runs the same jobs in-process, for tests and one-off commands.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import multiprocessing
import os
import signal
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from parsers.errors import ParseError

if TYPE_CHECKING:
    from policywatch.settings import Config

__all__ = ["InlinePool", "ParsePool", "Pool", "PoolLimits", "pool_for", "worker_count"]

log = logging.getLogger(__name__)

_MB = 1024 * 1024


@dataclass(frozen=True)
class PoolLimits:
    """Per-document bounds (``intake.parse_time_limit`` / ``intake.parse_memory_mb`` in the config)."""

    seconds: float = 20.0
    memory_mb: int = 768


def worker_count() -> int:
    """One worker per core the process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class Pool(Protocol):
    """What the pipeline needs: run a named job from :mod:`policywatch.jobs` somewhere."""

    async def run(self, job: str, *args: Any, label: str = "") -> Any: ...


class InlinePool:
    """Runs jobs in this process (no limits): for tests, benchmarks of the parsers, and CLI use."""

    def __init__(self, config_dir: Path | str | None = None) -> None:
        from policywatch import jobs

        self._jobs = jobs
        jobs.init(config_dir)

    async def run(self, job: str, *args: Any, label: str = "") -> Any:
        return self._jobs.call(job, *args)

    async def __aenter__(self) -> InlinePool:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None


def _worker_main(conn: Connection, config_dir: str | None, memory_mb: int) -> None:
    """A worker: set the memory limit, load the parsers once, then answer jobs until EOF."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    _limit_memory(memory_mb)
    gc.disable()  # the parsers and the taxonomy load once and stay: nothing to collect yet
    from policywatch import jobs

    jobs.init(config_dir)
    gc.freeze()  # and out of the collector's sight while documents are parsed
    gc.enable()
    answer: tuple[str, Any] = ("ready", None)
    while True:
        try:
            conn.send(answer)
            job, args = conn.recv()
        except (EOFError, OSError):  # the pool closed
            return
        answer = _run(jobs, job, args, memory_mb)


def _run(jobs: Any, job: str, args: tuple[Any, ...], memory_mb: int) -> tuple[str, Any]:
    try:
        return "ok", jobs.call(job, *args)
    except MemoryError:
        return "error", f"needed more than the {memory_mb} MB memory limit"
    except ParseError as exc:
        return "error", str(exc)
    except RecursionError:
        return "error", "nested too deeply to parse"
    except Exception as exc:  # any other parser bug is this document's problem only
        return "error", f"{type(exc).__name__}: {exc}"


def _limit_memory(memory_mb: int) -> None:
    try:
        import resource
    except ImportError:  # not on POSIX: no limit
        return
    limit = memory_mb * _MB
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


class _Worker:
    def __init__(self, ctx: Any, config_dir: str | None, memory_mb: int) -> None:
        self.conn, child = ctx.Pipe()
        self.process: BaseProcess = ctx.Process(
            target=_worker_main, args=(child, config_dir, memory_mb), daemon=True,
            name="policywatch-parser",
        )  # fmt: skip
        self.process.start()
        child.close()
        self.ready = False

    def kill(self) -> None:
        with contextlib.suppress(Exception):
            self.process.kill()
        self.process.join(5)
        self.conn.close()


class ParsePool:
    """``async with ParsePool(config_dir) as pool: await pool.run("issue", data, url, ...)``.

    ``size`` workers (default: the cores); each job runs in an idle worker, in a thread of this
    process that waits on the worker's pipe, so the event loop keeps serving network I/O.
    """

    def __init__(
        self,
        config_dir: Path | str | None = None,
        *,
        size: int | None = None,
        limits: PoolLimits = PoolLimits(),
    ) -> None:
        self._config_dir = str(config_dir) if config_dir is not None else None
        self._size = size or worker_count()
        self._limits = limits
        self._ctx = multiprocessing.get_context("spawn")
        self._idle: asyncio.Queue[_Worker] | None = None
        self._all: list[_Worker] = []
        self._lock = threading.Lock()
        self.replaced = 0  # workers killed at a limit or found dead (shown by benchmarks)

    def start(self) -> ParsePool:
        """Start the worker processes now (they load the parsers while the caller goes on)."""
        with self._lock:
            missing = self._size - len(self._all)
        for _ in range(missing):
            self._spawn()
        return self

    async def __aenter__(self) -> ParsePool:
        self.start()
        self._idle = asyncio.Queue()
        for worker in list(self._all):
            self._idle.put_nowait(worker)
        return self

    async def wait_ready(self) -> None:
        """Until every worker has loaded the parsers (benchmarks time the run from here)."""
        await asyncio.gather(*(asyncio.to_thread(_ready, w) for w in list(self._all)))

    async def __aexit__(self, *exc: object) -> None:
        self.close(wait=False)

    def close(self, *, wait: bool = True) -> None:
        """Tell every worker to stop (EOF on its pipe). Without ``wait`` the workers are reaped
        in a background thread, so the run goes on (delivery) while they exit, which takes a
        tenth of a second or more each; they are daemons, so the process's exit reaps the rest."""
        with self._lock:
            workers, self._all = self._all, []
        for worker in workers:
            with contextlib.suppress(Exception):
                worker.conn.close()  # EOF: the worker returns
        if wait:
            _reap(workers)
        elif workers:
            threading.Thread(
                target=_reap, args=(workers,), daemon=True, name="policywatch-parser-reaper"
            ).start()

    def pids(self) -> list[int]:
        """The live workers' process ids (benchmarks sum their memory)."""
        return [w.process.pid for w in self._all if w.process.pid and w.process.is_alive()]

    def _spawn(self) -> _Worker:
        worker = _Worker(self._ctx, self._config_dir, self._limits.memory_mb)
        with self._lock:
            self._all.append(worker)
        return worker

    def _replace(self, worker: _Worker) -> _Worker:
        worker.kill()
        with self._lock:
            if worker in self._all:
                self._all.remove(worker)
        self.replaced += 1
        return self._spawn()

    async def run(self, job: str, *args: Any, label: str = "") -> Any:
        """The job's result, or ParseError naming ``label`` when it failed or ran over a limit."""
        if self._idle is None:
            raise RuntimeError("ParsePool used outside 'async with'")
        idle = self._idle
        worker = await idle.get()
        if worker.process.exitcode is not None and worker.ready:  # died idle (OOM, kill -9)
            worker = self._replace(worker)
        try:
            status, value = await asyncio.to_thread(self._exchange, worker, job, args)
        except _WorkerNotStarted as lost:  # kept: the next document gets the same answer at once
            idle.put_nowait(worker)
            raise ParseError(label or job, str(lost)) from None
        except _WorkerLost as lost:
            idle.put_nowait(self._replace(worker))
            raise ParseError(label or job, str(lost)) from None
        except BaseException:  # cancelled mid-job: the worker still owes an answer, replace it
            idle.put_nowait(self._replace(worker))
            raise
        idle.put_nowait(worker)
        if status != "ok":
            where = label or job
            raise ParseError(where, str(value).removeprefix(f"{where}: "))  # named once
        return value

    def _exchange(self, worker: _Worker, job: str, args: tuple[Any, ...]) -> tuple[str, Any]:
        """Blocking: wait for the worker to be ready, send the job, wait for the answer."""
        _ready(worker)
        try:
            worker.conn.send((job, args))
        except (OSError, ValueError) as exc:
            raise _WorkerLost(f"the parser process is gone ({exc})") from None
        limit = self._limits.seconds
        started = time.monotonic()
        result = _receive(worker, limit, f"took longer than the {limit:g} s parse time limit")
        log.debug("%s job done in %.3f s", job, time.monotonic() - started)
        return result


def _ready(worker: _Worker) -> None:
    if not worker.ready:
        _receive(worker, 120.0, "the parser process did not start", starting=True)
        worker.ready = True


class _WorkerLost(Exception):
    """The worker ran over its time limit or died; it must be replaced."""


class _WorkerNotStarted(_WorkerLost):
    """The worker died before its first document: a new one would die the same way."""


def _receive(
    worker: _Worker, timeout: float, overtime: str, *, starting: bool = False
) -> tuple[str, Any]:
    try:
        if not worker.conn.poll(timeout):
            raise _WorkerLost(overtime)
        message: tuple[str, Any] = worker.conn.recv()
    except (EOFError, OSError, ConnectionError):
        lost = _WorkerNotStarted if starting else _WorkerLost
        raise lost(_death(worker, starting=starting)) from None
    return message


def _death(worker: _Worker, *, starting: bool) -> str:
    """Why a worker's pipe closed, from its exit status (a parse error names the document)."""
    worker.process.join(1)  # its exit status is known once it is reaped
    code = worker.process.exitcode
    how = (
        "no exit status"
        if code is None
        else f"killed by signal {-code}"
        if code < 0
        else f"exit code {code}"
    )
    if starting:  # before a document was sent: the same would happen to every worker
        return (
            f"the parser process exited while starting ({how}); its error is printed above. "
            "A script that calls policywatch from Python must do so under "
            '`if __name__ == "__main__":`, since parser processes are spawned'
        )
    hint = "; out of memory?" if code == -signal.SIGKILL else ""
    return f"the parser process died while parsing ({how}){hint}"


def _reap(workers: list[_Worker]) -> None:
    for worker in workers:
        worker.process.join(2)
        if worker.process.is_alive():
            worker.kill()


_warm: dict[str, ParsePool] = {}  # started early by prewarm(), taken by the run's pool_for()


def pool_for(config: Config) -> ParsePool:
    """The run's parser processes, sized and bounded by the config's ``intake`` settings (the
    ones :func:`prewarm` started, if any)."""
    warm = _warm.pop(str(config.dir.resolve()), None)
    if warm is not None:
        return warm
    intake = config.app.intake
    limits = PoolLimits(seconds=intake.parse_time_limit, memory_mb=intake.parse_memory_mb)
    return ParsePool(config.dir, size=intake.parse_workers or None, limits=limits)


def prewarm(config: Config, *, wait: bool = False) -> None:
    """Start the parser processes before the run (``policywatch run`` does while Prefect's API
    starts), so the first issue is parsed as soon as it arrives; ``wait``: until they are ready."""
    key = str(config.dir.resolve())
    if key not in _warm:
        _warm[key] = pool_for(config).start()
    if wait:
        for worker in list(_warm[key]._all):
            _ready(worker)
