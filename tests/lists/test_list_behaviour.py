"""How the list parsers behave at the edges: blocked, broken, empty, off-site, odd dates."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest

from parsers.errors import ParseError
from parsers.lists import BlockedListError, parse_list
from parsers.lists.jpaas import MAX_QUERYDATA, read_querydata

MIIT_API = "https://www.miit.gov.cn/api-gateway/jpaas-publish-server/front/page/build/unit"


def _api_answer(fragment: str) -> str:
    return json.dumps(
        {"success": True, "code": 200, "data": {"html": fragment}}, ensure_ascii=False
    )


def _cac_page(items: str) -> str:
    return f"""<html><head><meta charset="utf-8"><title>网信发布</title></head><body>
    <ul class="nav"><li><a href="/index.htm">首页</a></li></ul>
    <div class="xpage-container"><ul id="loadingInfoPage">{items}</ul></div></body></html>"""


CAC_URL = "https://www.cac.gov.cn/wxzw/wxfb/A093702index_1.htm"


def test_a_challenge_where_the_api_json_was_expected_is_blocked() -> None:
    page = "<html><head><title>Just a moment...</title></head><body><div id='challenge-platform'></div></body></html>"
    with pytest.raises(
        BlockedListError, match=r"challenge page \('challenge-platform'\)"
    ) as caught:
        parse_list("miit", page, MIIT_API)
    assert isinstance(caught.value, ParseError)  # callers that only know ParseError still stop


def test_a_challenge_instead_of_a_static_list_is_blocked() -> None:
    page = '<html><head><title>访问验证</title></head><body><div id="captcha-container"></div></body></html>'
    with pytest.raises(
        BlockedListError, match=re.escape("ndrc list https://www.ndrc.gov.cn/xxgk/zcfb/tz/")
    ):
        parse_list("ndrc", page.encode(), "https://www.ndrc.gov.cn/xxgk/zcfb/tz/")


def test_broken_json_is_a_parse_error_not_a_crash() -> None:
    with pytest.raises(ParseError, match="expected valid JSON") as caught:
        parse_list("nea", '{"datasource": [', "https://www.nea.gov.cn/sjzz/ghs/ds_1.json")
    assert not isinstance(caught.value, BlockedListError)


def test_an_api_fragment_without_a_list_names_the_layout() -> None:
    answer = _api_answer("<div class='notice'>栏目维护中</div>")
    with pytest.raises(ParseError, match="layout may have changed"):
        parse_list("miit", answer, MIIT_API)


def test_an_api_fragment_with_an_empty_list_is_zero_entries() -> None:
    answer = _api_answer(
        '<div class="page-content"><ul></ul></div><div class="pagination" rows="24" count="0" pageno="1"></div>'
    )
    page = parse_list("miit", answer, MIIT_API)
    assert page.entries == []
    assert page.pages == 0


def test_a_real_empty_list_is_zero_entries_and_a_missing_one_is_an_error() -> None:
    assert parse_list("cac", _cac_page(""), CAC_URL).entries == []
    with pytest.raises(ParseError, match=r"cac list .*#loadingInfoPage.*layout may have changed"):
        parse_list("cac", "<html><body><ul><li>x</li></ul></body></html>", CAC_URL)


def test_a_list_without_a_known_container_never_reports_empty() -> None:
    # MEE's list container is not documented: no dated item means the layout changed.
    page = '<html><body><div class="mainLeft"><ul id="div"></ul></div></body></html>'
    with pytest.raises(ParseError, match=r"li:has\(\.date\)"):
        parse_list("mee", page, "https://www.mee.gov.cn/zcwj/bwj/")


def test_items_without_any_date_are_a_layout_change() -> None:
    items = '<li><h5><a href="/2024-09/14/c_1.htm">某通知</a></h5></li><li><a href="/2024-09/13/c_2.htm">另一通知</a></li>'
    with pytest.raises(ParseError, match="a date on at least one entry"):
        parse_list("cac", _cac_page(items), CAC_URL)


def test_one_undated_item_is_kept_with_no_date() -> None:
    items = (
        '<li><a href="/2024-09/14/c_1.htm">有日期的通知</a><div class="times">2024-09-14</div></li>'
        '<li><a href="/2024-09/13/c_2.htm">置顶的通知</a></li>'
    )
    entries = parse_list("cac", _cac_page(items), CAC_URL).entries
    assert [(e.title, e.published) for e in entries] == [
        ("有日期的通知", dt.date(2024, 9, 14)),
        ("置顶的通知", None),
    ]


def test_the_page_order_is_kept_even_when_dates_are_not_sorted() -> None:
    items = (
        '<li><a href="/a.htm">置顶</a><div class="times">2023-01-05</div></li>'
        '<li><a href="/b.htm">新</a><div class="times">2024-09-14</div></li>'
        '<li><a href="/c.htm">旧</a><div class="times">2024-09-01</div></li>'
    )
    titles = [e.title for e in parse_list("cac", _cac_page(items), CAC_URL).entries]
    assert titles == ["置顶", "新", "旧"]


def test_only_off_site_links_give_zero_entries_and_say_what_was_skipped() -> None:
    items = (
        '<li><a href="https://www.12377.cn/a.html">举报</a><div class="times">2024-09-14</div></li>'
    )
    page = parse_list("cac", _cac_page(items), CAC_URL)
    assert page.entries == []
    assert page.skipped == ["https://www.12377.cn/a.html"]


def test_the_same_page_twice_is_one_entry_and_javascript_links_are_none() -> None:
    items = (
        '<li><a href="http://cac.gov.cn/2024-09/14/c_1.htm">通知</a><div class="times">2024-09-14</div></li>'
        '<li><a href="https://www.cac.gov.cn/2024-09/14/c_1.htm?spm=abc">通知（重复）</a><div class="times">2024-09-14</div></li>'
        '<li><a href="javascript:void(0)">更多</a><div class="times">2024-09-13</div></li>'
    )
    entries = parse_list("cac", _cac_page(items), CAC_URL).entries
    assert [(e.title, e.url) for e in entries] == [
        ("通知", "https://www.cac.gov.cn/2024-09/14/c_1.htm")
    ]


def test_the_list_page_host_is_on_site_so_loopback_copies_work() -> None:
    items = '<li><a href="/2024-09/14/c_1.htm">通知</a><div class="times">2024-09-14</div></li>'
    page = parse_list("cac", _cac_page(items), "http://127.0.0.1:8765/wxzw/wxfb/A093702index_1.htm")
    assert [e.url for e in page.entries] == ["http://127.0.0.1:8765/2024-09/14/c_1.htm"]


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("2024/09/14", dt.date(2024, 9, 14)),
        ("[2024-09-14]", dt.date(2024, 9, 14)),
        ("2024-09-14 08:30:00", dt.date(2024, 9, 14)),
        ("2024年9月14日", dt.date(2024, 9, 14)),
        ("２０２４－０９－１４", dt.date(2024, 9, 14)),
        ("发布时间：2024-9-4", dt.date(2024, 9, 4)),
    ],
)
def test_date_cells_in_every_format(cell: str, expected: dt.date) -> None:
    items = f'<li><a href="/x.htm">通知</a><div class="times">{cell}</div></li>'
    assert parse_list("cac", _cac_page(items), CAC_URL).entries[0].published == expected


def test_nea_publish_time_as_epoch_milliseconds_is_beijing_time() -> None:
    # 2024-09-13 16:30 UTC is 2024-09-14 00:30 in Beijing.
    data = {
        "datasource": [{"title": "通知", "publishUrl": "/a/c.html", "publishTime": 1726245000000}]
    }
    page = parse_list("nea", json.dumps(data), "https://www.nea.gov.cn/sjzz/ghs/ds_1.json")
    assert page.entries[0].published == dt.date(2024, 9, 14)


def test_nea_empty_data_source_and_missing_one() -> None:
    url = "https://www.nea.gov.cn/sjzz/ghs/ds_1.json"
    assert parse_list("nea", '{"datasource": []}', url).entries == []
    with pytest.raises(ParseError, match='"datasource" array'):
        parse_list("nea", '{"data": []}', url)
    with pytest.raises(ParseError, match=r"ul#showData0\[data\]"):
        parse_list(
            "nea",
            "<html><body><ul id='showData0'></ul></body></html>",
            "https://www.nea.gov.cn/sjzz/ghs/index.htm",
        )


def test_a_miit_column_page_without_build_script_or_list_fails() -> None:
    page = "<html><head><title>通知</title></head><body><ul><li><a href='/a'>首页</a></li></ul></body></html>"
    with pytest.raises(ParseError, match=r"a build script \(/front/page/build/unit\) or a list"):
        parse_list("miit", page, "https://www.miit.gov.cn/zwgk/zcwj/wjfb/tz/index.html")


def test_a_samr_api_error_answer_is_reported_with_its_code() -> None:
    answer = '{"success": false, "code": "500", "message": "系统繁忙"}'
    with pytest.raises(ParseError, match='"code": "500"'):
        parse_list("samr", answer, "https://www.samr.gov.cn/api-gateway/x")


def test_querydata_is_read_as_data_and_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    assert read_querydata(f"__import__('os').system('touch {marker}')") is None
    assert read_querydata("{'a': __import__('os').getcwd()}") is None
    assert not marker.exists()
    assert read_querydata("[1, 2]") is None
    assert read_querydata("{'a': '1', " + "'b': '2', " * MAX_QUERYDATA + "}") is None
    assert read_querydata("{" * 200 + "}" * 200) is None


def test_querydata_accepts_js_literals_and_nested_values() -> None:
    assert read_querydata("{'editType':null,'isAll':true,'pageNo':2,'extra':{'k':'v'}}") == {
        "editType": "null",
        "isAll": "true",
        "pageNo": "2",
        "extra": '{"k":"v"}',
    }


def test_text_already_decoded_and_bytes_give_the_same_page() -> None:
    items = (
        '<li><a href="/x.htm">关于印发《办法》的通知</a><div class="times">2024-09-14</div></li>'
    )
    html = _cac_page(items)
    assert parse_list("cac", html, CAC_URL) == parse_list("cac", html.encode("gb18030"), CAC_URL)


def test_a_saved_fragment_reads_like_the_api_answer_and_skips_the_pager() -> None:
    fragment = (
        '<div class="page-content"><ul>'
        '<li class="cf"><a class="fl" href="/zwgk/art/2024/art_1.html" title="关于印发《办法》的通知">关于印发...</a>'
        '<span class="fr">2024-09-04</span></li></ul></div>'
        '<div class="pagination" rows="24" count="30" pageno="1"><ul>'
        '<li><a href="/zwgk/index_2.html">2</a></li></ul></div>'
    )
    from_json = parse_list("miit", _api_answer(fragment), MIIT_API)
    from_html = parse_list("miit", fragment, MIIT_API)
    assert [e.title for e in from_json.entries] == ["关于印发《办法》的通知"]
    assert from_html.entries == from_json.entries
    assert from_json.pages == 2
