"""Fixtures for the notice parser and notice fetching tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from parsers.bodies import BodyIndex
from policywatch.devtools.loopback import LoopbackServer
from policywatch.settings import HttpSettings

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "notices"


def load_cases() -> dict[str, dict[str, Any]]:
    """``<site>/<case>`` -> {url, encoding?} from the fixtures' cases.yaml."""
    with (FIXTURES / "cases.yaml").open(encoding="utf-8") as fh:
        cases: dict[str, dict[str, Any]] = yaml.safe_load(fh)
    return cases


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def bodies(repo_root: Path) -> BodyIndex:
    return BodyIndex.load(repo_root / "config" / "bodies.yaml")


@pytest.fixture
def http_settings() -> HttpSettings:
    """Loopback only, no politeness delay and one attempt: tests assert on what happened."""
    return HttpSettings(
        allowed_hosts=["127.0.0.1"], per_host_interval=0, max_attempts=1, backoff_base=0
    )


@pytest.fixture
def site() -> Iterator[LoopbackServer]:
    """A loopback server serving the notice fixtures (``/miit/wjfb-tz.html`` ...)."""
    with LoopbackServer(FIXTURES) as server:
        yield server


def make_pdf(lines: list[str]) -> bytes:
    """A real PDF with a Chinese text layer (reportlab's built-in CID font), built per test."""
    import io

    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf)
    pdf.setFont("STSong-Light", 12)
    for i, line in enumerate(lines):
        pdf.drawString(60, 800 - 22 * i, line)
    pdf.save()
    return buf.getvalue()


PDF_NOTICE = [
    "关于开展新能源汽车下乡活动的通知",
    "工信厅通装函〔2024〕150号",
    "各省、自治区、直辖市工业和信息化主管部门：",
    "为促进农村汽车消费，现决定开展2024年新能源汽车下乡活动。",
    "工业和信息化部办公厅",
    "2024年5月30日",
]
