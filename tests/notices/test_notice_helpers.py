"""Table-driven tests of the shared notice rules (SITES §12): URLs, dates, 文号, decoding."""

from __future__ import annotations

import datetime as dt

import pytest

from parsers.bodies import BodyIndex
from parsers.notices import PARSERS, canonical_url, find_redirect, parse_notice, site_for
from parsers.notices.common import (
    BEIJING,
    content_hash,
    decode_html,
    find_doc_number,
    is_noise_line,
    parse_cn_date,
    parse_cn_datetime,
)
from tests.notices.conftest import FIXTURES


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        (
            "http://wap.miit.gov.cn/zwgk/zcwj/wjfb/tz/art/2023/art_a6ab.html?xxgkhide=1",
            "https://www.miit.gov.cn/zwgk/zcwj/wjfb/tz/art/2023/art_a6ab.html",
        ),
        ("http://gov.cn/zhengce/content_1.htm#top", "https://www.gov.cn/zhengce/content_1.htm"),
        (
            "HTTPS://WWW.NDRC.GOV.CN:443/a.html?utm_source=x&id=7",
            "https://www.ndrc.gov.cn/a.html?id=7",
        ),
        ("http://gks.mof.gov.cn/g/t1.htm", "https://gks.mof.gov.cn/g/t1.htm"),
        ("http://127.0.0.1:8123/miit/x.html?xxgkhide=1", "http://127.0.0.1:8123/miit/x.html"),
    ],
)
def test_canonical_url(url: str, canonical: str) -> None:
    assert canonical_url(url) == canonical
    assert canonical_url(canonical) == canonical  # idempotent


@pytest.mark.parametrize(
    ("url", "site"),
    [
        ("https://www.gov.cn/zhengce/zhengceku/202601/content_7054201.htm", "govcn"),
        ("https://wap.miit.gov.cn/zwgk/art/2026/art_1.html", "miit"),
        ("http://cac.gov.cn/2023-07/13/c_1690898327029107.htm", "cac"),
        ("https://www.samr.gov.cn/zw/art/2024/art_6.html", "samr"),
        ("https://zfxxgk.ndrc.gov.cn/web/iteminfo.jsp?id=1", "ndrc"),
        ("https://aqygzj.mofcom.gov.cn/qdml/art/2024/art_1.html", "mofcom"),
        ("https://www.mee.gov.cn/ywgz/t20220628_987021.shtml", "mee"),
        ("http://gks.mof.gov.cn/gongzuodongtai/202308/t20230802_3899924.htm", "mof"),
        ("http://zfxxgk.nea.gov.cn/2024-03/18/c_1310768057.htm", "nea"),
        ("https://www.most.gov.cn/x.html", None),
        ("https://evil-mof.gov.cn.example.com/x.html", None),
    ],
)
def test_site_for_host(url: str, site: str | None) -> None:
    assert site_for(url) == site


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024年9月4日", dt.datetime(2024, 9, 4, tzinfo=BEIJING)),
        ("发布时间：2024-09-04 16:30", dt.datetime(2024, 9, 4, 16, 30, tzinfo=BEIJING)),
        ("2024-09-04 16:30:05", dt.datetime(2024, 9, 4, 16, 30, 5, tzinfo=BEIJING)),
        ("2024-09-06-17:20:05", dt.datetime(2024, 9, 6, 17, 20, 5, tzinfo=BEIJING)),
        ("2025/02/09", dt.datetime(2025, 2, 9, tzinfo=BEIJING)),
        ("１９９９年１２月３１日", dt.datetime(1999, 12, 31, tzinfo=BEIJING)),
        ("Apr 8, 2019", dt.datetime(2019, 4, 8, tzinfo=BEIJING)),
        ("October 2, 2024", dt.datetime(2024, 10, 2, tzinfo=BEIJING)),
        # epoch ms from the MIIT API: 2024-09-03 16:30 UTC is already the 4th in Beijing
        ("1725381000000", dt.datetime(2024, 9, 4, 0, 30, tzinfo=BEIJING)),
        ("2024-02-30 then 2024-03-01", dt.datetime(2024, 3, 1, tzinfo=BEIJING)),
    ],
)
def test_parse_cn_datetime(text: str, expected: dt.datetime) -> None:
    got = parse_cn_datetime(text)
    assert got == expected
    assert got is not None
    assert got.utcoffset() == dt.timedelta(hours=8)


@pytest.mark.parametrize("text", ["", None, "暂无", "第3号"])
def test_parse_cn_date_none(text: str | None) -> None:
    assert parse_cn_date(text) is None


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("工信厅政法函〔2024〕328号", "工信厅政法函〔2024〕328号"),
        ("关于印发…的通知\n发改价格[2025]136号", "发改价格〔2025〕136号"),
        ("财建［2014］838号", "财建〔2014〕838号"),
        ("宁政办发（2022）52号", "宁政办发〔2022〕52号"),
        ("税委会【2000】17号", "税委会〔2000〕17号"),
        ("按照国发〔2024〕7号文件要求", "国发〔2024〕7号"),
        ("根据《某办法》（工信部规〔2023〕12 号）", "工信部规〔2023〕12号"),
        ("市场监管总局令第26号", "市场监管总局令第26号"),
        ("国家互联网信息办公室令\n第 19 号", "国家互联网信息办公室令第19号"),
        ("三部门令第五号", "三部门令第五号"),
        ("国家发展改革委第7号令", "国家发展改革委令第7号"),
        ("国家发展和改革委员会令\u3000第15号", "国家发展和改革委员会令第15号"),
        ("国家发展和改革委员会\n商务部\n令\n第15号", "国家发展和改革委员会 商务部令第15号"),
        ("某某办法\n国家市场监督管理总局令\n第 95 号", "国家市场监督管理总局令第95号"),
        ("交通运输部令2023年第5号", "交通运输部令2023年第5号"),
        ("以第7号令公布", None),
        ("商务部公告2024年第33号", "商务部公告2024年第33号"),
        ("商务部 海关总署公告2025年第18号 关于…", "商务部 海关总署公告2025年第18号"),
        ("没有文号的正文。", None),
        ("2024年第3号台风", None),
    ],
)
def test_find_doc_number(text: str, number: str | None) -> None:
    assert find_doc_number(text) == number


def test_doc_number_found_at_end_of_long_body(bodies: BodyIndex) -> None:
    filler = "".join(f"<p>第{i}段正文内容，与文号无关。</p>" for i in range(60))
    page = (
        "<html><head><meta charset='utf-8'></head><body><h1 id='con_title'>关于某事的通知</h1>"
        f"<div id='con_con'>{filler}<p>工信厅装函〔2024〕99号</p></div></body></html>"
    )
    notice = parse_notice(page, "https://www.miit.gov.cn/a/art_1.html", bodies=bodies)
    assert notice.doc_number == "工信厅装函〔2024〕99号"


def test_own_number_on_its_own_line_beats_a_cited_one(bodies: BodyIndex) -> None:
    page = (
        "<html><body><h1 id='con_title'>关于开展试点工作的通知</h1><div id='con_con'>"
        "<p>为贯彻落实《某某行动计划》（国发〔2023〕5号），现将有关事项通知如下。</p>"
        "<p>一、试点内容。</p><p>工业和信息化部办公厅</p><p>工信厅通信函〔2024〕12号</p>"
        "</div></body></html>"
    )
    notice = parse_notice(page, "https://www.miit.gov.cn/a/art_2.html", bodies=bodies)
    assert notice.doc_number == "工信厅通信函〔2024〕12号"


@pytest.mark.parametrize(
    ("line", "noise"),
    [
        ("【打印本页】", True),
        ("【打印本页】 【关闭窗口】", True),
        ("责任编辑：王某", True),
        ("分享到：微信 微博", True),
        ("[打印] [关闭]", True),
        ("【字体：大 中 小】", True),
        ("一、征集方向", False),
        ("附件：案例申报书模板", False),
    ],
)
def test_noise_lines(line: str, noise: bool) -> None:
    assert is_noise_line(line) is noise


def test_content_hash_ignores_whitespace_and_width() -> None:
    assert content_hash("第一条 ABC\n第二条") == content_hash("第一条ＡＢＣ 第二条")
    assert content_hash("第一条") != content_hash("第二条")


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        ("中文页面".encode("gbk"), None),  # no declaration at all
        ("中文页面".encode("gbk"), "utf-8"),  # header lies
        ("中文页面".encode(), "gbk"),  # header lies the other way
        ("中文页面".encode(), "iso-8859-1"),  # server default, never trusted
        ('<meta charset="gb2312">中文页面'.encode("gbk"), None),
        ("\ufeff中文页面".encode(), None),
    ],
)
def test_decode_html(data: bytes, encoding: str | None) -> None:
    assert decode_html(data, encoding).endswith("中文页面")
    assert not decode_html(data, encoding).startswith("\ufeff")


@pytest.mark.parametrize(
    ("html", "target"),
    [
        (
            "<script>window.location.href='/article/b/202410/x.shtml';</script>",
            "https://www.mofcom.gov.cn/article/b/202410/x.shtml",
        ),
        (
            '<script>var _cofing1={href:"http://www.mofcom.gov.cn/zwgk/art/2024/art_1.html",type:"1"};</script>',
            "http://www.mofcom.gov.cn/zwgk/art/2024/art_1.html",
        ),
        ('<script>location.replace("y.html")</script>', "https://www.mofcom.gov.cn/article/y.html"),
        (
            '<meta http-equiv="refresh" content="0; url=/z.html">',
            "https://www.mofcom.gov.cn/z.html",
        ),
        ("<script>function go(q){ location.href = '/s?q=' + q; }</script>", None),
        ("<a onclick=\"window.location.href='/x.html'\">x</a>", None),
        ("<script>window.location.href='javascript:void(0)';</script>", None),
        ("<p>no redirect</p>", None),
    ],
)
def test_find_redirect(html: str, target: str | None) -> None:
    assert find_redirect(html, "https://www.mofcom.gov.cn/article/old.shtml") == target


def test_site_argument_overrides_host(bodies: BodyIndex) -> None:
    page = (FIXTURES / "miit" / "wjfb-tz.html").read_bytes()
    by_host = parse_notice(page, "https://www.miit.gov.cn/a/art_1.html", bodies=bodies)
    forced = parse_notice(page, "https://www.gov.cn/x.htm", site="miit", bodies=bodies)
    assert by_host.site == forced.site == "miit"
    assert forced.title == by_host.title
    assert forced.doc_number == by_host.doc_number


def test_saved_page_without_host_uses_site_domain_meta(bodies: BodyIndex) -> None:
    page = (FIXTURES / "miit" / "wjfb-tz.html").read_bytes()
    assert parse_notice(page, "saved/page.html", bodies=bodies).site == "miit"
    anonymous = page.replace(b'name="SiteDomain"', b'name="x-removed"')
    assert parse_notice(anonymous, "saved/page.html", bodies=bodies).site == "generic"


def test_unknown_site_is_an_error_listing_the_parsers(bodies: BodyIndex) -> None:
    notice = parse_notice("<html></html>", "https://www.miit.gov.cn/x", site="nope", bodies=bodies)
    assert notice.status == "error"
    assert notice.error is not None
    assert "miit" in notice.error
    assert "'nope'" in notice.error


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_every_parser_reports_a_changed_layout(name: str, bodies: BodyIndex) -> None:
    page = (
        "<html><head><meta charset='utf-8'></head><body><div class='x'>新版页面</div></body></html>"
    )
    notice = parse_notice(page, "https://example.gov.cn/x.html", site=name, bodies=bodies)
    assert notice.status == "error"
    assert notice.error is not None
    assert notice.error.startswith(f"{name}: no title")
    assert notice.body_text == ""
    assert notice.content_hash is None


def test_registry_entries_describe_themselves() -> None:
    assert {
        "govcn",
        "miit",
        "cac",
        "samr",
        "ndrc",
        "mofcom",
        "mee",
        "mof",
        "nea",
        "generic",
    } <= set(PARSERS)
    for name, parser in PARSERS.items():
        assert parser.name == name
        assert parser.description
        assert name == "generic" or parser.hosts


def test_generic_reads_paragraphs_directly_under_body(bodies: BodyIndex) -> None:
    page = (
        "<html><head><meta charset='utf-8'><title>关于开展试点工作的通知_某局</title></head><body>"
        "<div class='nav'><p>首页 | 机构 | 政策 | 互动交流 | 办事服务 | 数据发布 | 专题专栏</p></div>"
        "<p>各有关单位：为推进试点工作，现将有关事项通知如下。</p>"
        "<p>一、试点范围覆盖重点行业企业，请各单位按要求组织申报并于规定时间前报送材料。</p>"
        "</body></html>"
    )
    notice = parse_notice(page, "https://www.example.gov.cn/a.html", bodies=bodies)
    assert notice.status == "ok", notice.error
    assert notice.title == "关于开展试点工作的通知"
    assert notice.body_text.startswith("各有关单位")
    assert "首页" not in notice.body_text
