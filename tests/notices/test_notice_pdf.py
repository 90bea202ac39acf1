"""Notices linked as PDF files: read from the text layer, over a file and over HTTP."""

from __future__ import annotations

import pytest

from parsers.bodies import BodyIndex
from parsers.notices import parse_notice
from policywatch.devtools.loopback import LoopbackServer, Reply
from policywatch.http import PoliteClient
from policywatch.notices import fetch_notice
from policywatch.settings import HttpSettings
from tests.notices.conftest import PDF_NOTICE, make_pdf


def test_pdf_notice_fields_from_text(bodies: BodyIndex) -> None:
    url = "http://www.ndrc.gov.cn/xxgk/zcfb/tz/202405/P020240530123.pdf"
    notice = parse_notice(make_pdf(PDF_NOTICE), url, bodies=bodies)
    assert notice.status == "ok"
    assert notice.site == "ndrc"
    assert notice.url == "https://www.ndrc.gov.cn/xxgk/zcfb/tz/202405/P020240530123.pdf"
    assert notice.title == PDF_NOTICE[0]
    assert notice.doc_number == "工信厅通装函〔2024〕150号"
    assert notice.issuing_body == "MIIT"  # signed by the MIIT General Office, hosted by NDRC
    assert str(notice.published) == "2024-05-30"
    assert notice.body_text.splitlines() == PDF_NOTICE


def test_pdf_without_text_layer_is_an_error(bodies: BodyIndex) -> None:
    notice = parse_notice(make_pdf([]), "https://www.mof.gov.cn/x.pdf", bodies=bodies)
    assert notice.status == "error"
    assert notice.error is not None
    assert notice.error.startswith("mof: ")


def test_broken_pdf_is_an_error(bodies: BodyIndex) -> None:
    notice = parse_notice(b"%PDF-1.4\n garbage", "https://www.mof.gov.cn/x.pdf", bodies=bodies)
    assert notice.status == "error"


@pytest.mark.anyio
async def test_pdf_notice_over_http(
    site: LoopbackServer, http_settings: HttpSettings, bodies: BodyIndex
) -> None:
    pdf = make_pdf(PDF_NOTICE)
    site.routes["/files/notice.pdf"] = lambda _req: Reply(
        200, {"Content-Type": "application/pdf"}, pdf
    )
    async with PoliteClient(http_settings) as client:
        notice = await fetch_notice(client, site.url("/files/notice.pdf"), bodies, site="miit")
    assert notice.status == "ok"
    assert notice.doc_number == "工信厅通装函〔2024〕150号"
