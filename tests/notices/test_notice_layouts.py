"""Notices as real sites publish them: joint issuers, orders' 文号, saved gov.cn pages, file
tables, deep pages; and what ``policywatch parse`` does with them."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from parsers.bodies import BodyIndex
from parsers.errors import ParseError
from parsers.notices import parse_notice
from policywatch.cli import app, main
from policywatch.devtools.loopback import LoopbackServer, Reply
from policywatch.http import PoliteClient
from policywatch.notices import fetch_notice
from policywatch.settings import HttpSettings
from tests.notices.conftest import FIXTURES

MIIT_URL = (
    "https://www.miit.gov.cn/zwgk/zcwj/wjfb/tz/art/2024/art_0f1e2d3c4b5a69788796a5b4c3d2e1f0.html"
)


def miit_page(body: str, title: str = "关于开展试点工作的通知") -> str:
    return (
        f"<html><head><meta charset='utf-8'></head><body><h1 id='con_title'>{title}</h1>"
        f"<div id='con_con'>{body}</div></body></html>"
    )


# ------------------------------------------------------------------------------- co-issuers


def test_order_signed_by_two_ministries_names_both(bodies: BodyIndex) -> None:
    page = (FIXTURES / "ndrc" / "joint-order.html").read_bytes()
    notice = parse_notice(page, "https://www.ndrc.gov.cn/xxgk/zcfb/fzggwl/t1.html", bodies=bodies)
    assert (notice.issuing_body, notice.issuing_bodies) == ("NDRC", ["NDRC", "MOFCOM"])
    assert notice.doc_number == "中华人民共和国国家发展和改革委员会 中华人民共和国商务部令第15号"


@pytest.mark.parametrize(
    ("signature", "issuers"),
    [
        ("<p>工业和信息化部</p><p>国家发展改革委</p><p>国家能源局</p>", ["MIIT", "NDRC", "NEA"]),
        ("<p>工业和信息化部　国家发展改革委　国家能源局</p>", ["MIIT", "NDRC", "NEA"]),
        ("<p>工业和信息化部部长　某某</p><p>财政部部长　某某</p>", ["MIIT", "MOF"]),
        ("<p>工业和信息化部办公厅</p>", ["MIIT"]),
    ],
    ids=["one-line-each", "one-line", "heads-sign", "office"],
)
def test_every_signing_organ_is_an_issuer(
    signature: str, issuers: list[str], bodies: BodyIndex
) -> None:
    body = (
        "<p>各省、自治区、直辖市工业和信息化主管部门：</p>"
        "<p>为落实国家发展改革委、商务部有关要求，现开展试点工作。</p>"
        f"{signature}<p>2024年9月12日</p>"
    )
    notice = parse_notice(miit_page(body), MIIT_URL, bodies=bodies)
    assert notice.issuing_body == "MIIT"
    assert notice.issuing_bodies == issuers  # bodies cited in a sentence are not issuers


def test_joint_title_on_gov_cn_names_all_issuers(bodies: BodyIndex) -> None:
    page = (FIXTURES / "govcn" / "zhengceku-joint.html").read_bytes()
    url = "https://www.gov.cn/zhengce/zhengceku/202409/content_6987654.htm"
    notice = parse_notice(page.replace("工业和信息化部 国家发展改革委".encode(),
                                       "工业和信息化部 国家发展改革委 国家能源局".encode()),
                          url, bodies=bodies)  # fmt: skip
    assert notice.issuing_bodies == ["MIIT", "NDRC", "NEA"]


def test_organs_copied_in_are_not_issuers(bodies: BodyIndex) -> None:
    body = (
        "<p>各省、自治区、直辖市工业和信息化主管部门：</p><p>现开展试点工作。</p>"
        "<p>工业和信息化部办公厅</p><p>2024年9月12日</p><p>抄送：</p><p>国家发展改革委</p><p>财政部</p>"
    )
    notice = parse_notice(miit_page(body), MIIT_URL, bodies=bodies)
    assert notice.issuing_bodies == ["MIIT"]


def test_a_line_addressed_to_a_body_is_no_signature(bodies: BodyIndex) -> None:
    body = (
        "<p>国家发展改革委：</p><p>你委关于试点工作的请示收悉。现批复如下。</p><p>2024年9月12日</p>"
    )
    notice = parse_notice(
        miit_page(body, "工业和信息化部关于试点工作的批复"), MIIT_URL, bodies=bodies
    )
    assert notice.issuing_bodies == ["MIIT"]


# ---------------------------------------------------------------------------- orders' 文号


@pytest.mark.parametrize(
    ("paragraphs", "number"),
    [
        ("<p>国家发展和改革委员会令</p><p>第 15 号</p>", "国家发展和改革委员会令第15号"),
        ("<p>国家发展和改革委员会令　第15号</p>", "国家发展和改革委员会令第15号"),
        ("<p>国家发展和改革委员会</p><p>令</p><p>第15号</p>", "国家发展和改革委员会令第15号"),
        ("<p>国家发展改革委第7号令</p>", "国家发展改革委令第7号"),
        ("<p>交通运输部令2023年第5号</p>", "交通运输部令2023年第5号"),
        ("<p>交通运输部令</p><p>2023年第5号</p>", "交通运输部令2023年第5号"),
    ],
)
def test_order_numbers_in_all_their_forms(paragraphs: str, number: str, bodies: BodyIndex) -> None:
    body = f"{paragraphs}<p>《某某办法》已经审议通过，现予公布，自2024年1月1日起施行。</p>"
    notice = parse_notice(miit_page(body, "某某管理办法"), MIIT_URL, bodies=bodies)
    assert notice.doc_number == number


# ------------------------------------------------------------------------- generic parser


def test_generic_parser_finds_attachments_listed_in_tables(bodies: BodyIndex) -> None:
    page = (FIXTURES / "generic" / "attachment-table.html").read_bytes()
    notice = parse_notice(page, "https://www.mohurd.gov.cn/zc/t1.html", bodies=bodies)
    assert notice.site == "generic"
    assert [a.url.rsplit("/", 1)[1] for a in notice.attachments] == [
        "P020241105300000000001.pdf",
        "P020241105300000000002.xlsx",
    ]  # not the footer's privacy PDF, not the form in a table of related links
    assert notice.issuing_bodies == ["MOHURD", "MIIT"]


# ----------------------------------------------------------------------------- deep pages


def deep_page() -> bytes:
    inner = (
        "<h1 id='con_title'>关于某事的通知</h1><div id='con_con'><p>" + "正文。" * 30 + "</p></div>"
    )
    return ("<html><body>" + "<div>" * 5000 + inner + "</div>" * 5000 + "</body></html>").encode()


def test_deeply_nested_notice_is_a_parse_error(bodies: BodyIndex) -> None:
    with pytest.raises(ParseError, match="nested at most 256 elements deep"):
        parse_notice(deep_page(), MIIT_URL, bodies=bodies)


@pytest.mark.anyio
async def test_deeply_nested_notice_fetched_is_an_error_notice(
    http_settings: HttpSettings, bodies: BodyIndex
) -> None:
    with LoopbackServer() as server:
        server.routes["/deep.html"] = lambda _req: Reply(
            200, {"Content-Type": "text/html; charset=utf-8"}, deep_page()
        )
        async with PoliteClient(http_settings) as client:
            notice = await fetch_notice(client, server.url("/deep.html"), bodies)
    assert notice.status == "error"
    assert "nested at most 256" in (notice.error or "")


# -------------------------------------------------------------------------------------- CLI


def run(repo_root: Path, *args: str) -> str:
    result = CliRunner().invoke(app, ["--config-dir", str(repo_root / "config"), *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_saved_gov_cn_page_is_a_notice_without_site(repo_root: Path, bodies: BodyIndex) -> None:
    path = FIXTURES / "govcn" / "zhengceku-joint.html"
    notice = parse_notice(path.read_bytes(), str(path), bodies=bodies)
    assert (notice.site, notice.status, notice.doc_number) == (
        "govcn",
        "ok",
        "工信部联电子〔2024〕176号",
    )
    out = run(repo_root, "parse", str(path))
    assert '"site": "govcn"' in out
    assert '"issuing_bodies": [\n    "MIIT",\n    "NDRC"\n  ]' in out


def test_parse_table_renders_a_notice(repo_root: Path) -> None:
    out = run(repo_root, "parse", str(FIXTURES / "govcn" / "zhengceku-joint.html"), "-f", "table")
    assert "MIIT, NDRC" in out
    assert "工信部联电子〔2024〕176号" in out
    assert "2024-09-06" in out
    assert "智能传感器产业重点方向目录.pdf" in out
    assert "{" not in out  # a table, not JSON


def test_wrong_site_exits_non_zero_with_one_line(
    repo_root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = FIXTURES / "miit" / "wjfb-tz.html"
    argv = ["policywatch", "--config-dir", str(repo_root / "config"), "parse", str(path)]
    monkeypatch.setattr(sys, "argv", [*argv, "--site", "govcn"])
    with pytest.raises(SystemExit) as exit_:
        main()
    assert exit_.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert lines == [
        f"error: {path}: the page does not match the govcn layout (no body found); "
        "try without --site"
    ]
    monkeypatch.setattr(sys, "argv", [*argv, "--site", "miit"])
    with pytest.raises(SystemExit) as exit_:
        main()
    assert exit_.value.code == 0
    assert '"site": "miit"' in capsys.readouterr().out
