"""The parser pool bounds each document: a time limit, a memory limit, a worker that dies.

Real worker processes (spawned as in a run); the documents that break a worker are real too: a
huge page that takes longer than the time limit and a PDF whose content stream inflates far past
the memory limit. Each failure costs that one document; the pool carries on.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

from parsers.errors import ParseError
from policywatch.devtools.bombs import pdf_bomb
from policywatch.pool import ParsePool, PoolLimits

pytestmark = pytest.mark.anyio

REPO = Path(__file__).resolve().parents[2]
HTML = (REPO / "tests/fixtures/merics/html-2025-03-05.html").read_bytes()
URL = "https://merics.org/en/merics-briefs/battery-recycling-rules-humanoid-robots-industrial-data"


def wait_dead(pid: int) -> None:
    """Until the process is gone or a zombie (the pool reaps it)."""
    stat = Path(f"/proc/{pid}/stat")
    while stat.exists() and stat.read_text().split()[2] != "Z":
        time.sleep(0.01)


@pytest.fixture
async def pool(repo_root: Path) -> AsyncIterator[ParsePool]:
    limits = PoolLimits(seconds=5.0, memory_mb=400)
    async with ParsePool(repo_root / "config", size=1, limits=limits) as running:
        yield running


async def parse(pool: ParsePool, data: bytes, label: str = "doc") -> object:
    return await pool.run("issue", data, URL, "test", False, label=label)


async def test_a_document_parses_in_a_worker_process(pool: ParsePool) -> None:
    page = await parse(pool, HTML)
    assert page.fetched is not None  # type: ignore[attr-defined]
    assert len(page.fetched.issue.items) == 8  # type: ignore[attr-defined]
    assert os.getpid() not in pool.pids()


async def test_the_time_limit_costs_one_document_and_the_worker_is_replaced(
    repo_root: Path,
) -> None:
    huge = (
        b"<html><body><main>"
        + b"<p>MERICS China Industries text.</p>" * 400_000
        + b"</main></body></html>"
    )
    async with ParsePool(repo_root / "config", size=1, limits=PoolLimits(seconds=0.5)) as pool:
        before = pool.pids()
        with pytest.raises(ParseError, match=r"longer than the 0.5 s parse time limit"):
            await parse(pool, huge, "huge.html")
        assert pool.replaced == 1
        assert pool.pids() != before
        page = await parse(pool, HTML)  # the next document is served by the new worker
        assert page.fetched is not None  # type: ignore[attr-defined]


async def test_an_inflating_pdf_costs_one_document(pool: ParsePool) -> None:
    with pytest.raises(ParseError, match=r"^bomb\.pdf: "):
        await parse(pool, pdf_bomb(200), "bomb.pdf")
    page = await parse(pool, HTML)
    assert page.fetched is not None  # type: ignore[attr-defined]


async def test_the_memory_limit_turns_a_huge_tree_into_a_parse_error(repo_root: Path) -> None:
    """A page under the 20 MB download cap can still need gigabytes as a parse tree."""
    tags = b"<html><body><main>" + b"<i>x</i>" * 900_000 + b"</main></body></html>"
    limits = PoolLimits(seconds=120.0, memory_mb=300)
    async with ParsePool(repo_root / "config", size=1, limits=limits) as pool:
        with pytest.raises(ParseError, match=r"tags\.html: .*memory"):
            await parse(pool, tags, "tags.html")
        page = await parse(pool, HTML)
        assert page.fetched is not None  # type: ignore[attr-defined]


async def test_a_worker_killed_while_idle_is_replaced_before_the_next_document(
    pool: ParsePool,
) -> None:
    await parse(pool, HTML)
    [pid] = pool.pids()
    os.kill(pid, signal.SIGKILL)
    await anyio.to_thread.run_sync(wait_dead, pid)
    page = await parse(pool, HTML)
    assert page.fetched is not None  # type: ignore[attr-defined]
    assert pid not in pool.pids()


async def test_a_worker_that_cannot_start_says_so(tmp_path: Path) -> None:
    """Not "memory limit reached?": the worker failed before its first document (here its
    config folder has a broken bodies.yaml), and the message says that and where to look."""
    (tmp_path / "bodies.yaml").write_text("bodies: [unclosed\n", encoding="utf-8")
    async with ParsePool(tmp_path, size=1) as broken:
        with pytest.raises(ParseError, match=r"exited while starting \(exit code 1\)"):
            await parse(broken, HTML)
        with pytest.raises(ParseError, match="exited while starting") as again:
            await parse(broken, HTML, label="second.html")
        assert str(again.value).startswith("second.html: ")
        assert broken.replaced == 0  # no new process spawned per document to fail the same way


async def test_a_worker_killed_mid_document_names_the_signal(repo_root: Path) -> None:
    huge = b"<html><body><main>" + b"<p>MERICS China Industries text.</p>" * 400_000
    async with ParsePool(repo_root / "config", size=1) as running:
        await parse(running, HTML)
        [pid] = running.pids()

        async def kill_soon() -> None:
            await anyio.sleep(0.3)
            os.kill(pid, signal.SIGKILL)

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(kill_soon)
            with pytest.raises(ParseError, match=r"died while parsing \(killed by signal 9\)"):
                await parse(running, huge, label="huge.html")
        page = await parse(running, HTML)  # a new worker took its place
        assert page.fetched is not None  # type: ignore[attr-defined]
