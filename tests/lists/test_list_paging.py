"""Page N of every site's lists, and the two-step requests of the JPAAS and NEA sites."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from parsers.lists import ListPage, ListRequest, page_url, parse_list
from tests.lists.conftest import fixture_file, load_cases

CASES = load_cases()


def _parse(case: str) -> ListPage:
    site = case.split("/", 1)[0]
    return parse_list(site, fixture_file(case).read_bytes(), CASES[case]["url"])


@pytest.mark.parametrize(
    ("site", "first", "n", "expected"),
    [
        ("govcn", "https://www.gov.cn/zhengce/zuixin/", 1, "https://www.gov.cn/zhengce/zuixin/"),
        ("govcn", "https://www.gov.cn/zhengce/zuixin/", 2, "https://www.gov.cn/zhengce/zuixin/home_1.htm"),
        ("govcn", "https://www.gov.cn/zhengce/zuixin/home.htm", 3, "https://www.gov.cn/zhengce/zuixin/home_2.htm"),
        ("govcn", "https://www.gov.cn/zhengce/zuixin/home_0.htm", 91, "https://www.gov.cn/zhengce/zuixin/home_90.htm"),
        ("cac", "https://www.cac.gov.cn/wxzw/wxfb/A093702index_1.htm", 1, "https://www.cac.gov.cn/wxzw/wxfb/A093702index_1.htm"),
        ("cac", "https://www.cac.gov.cn/wxzw/wxfb/A093702index_1.htm", 4, "https://www.cac.gov.cn/wxzw/wxfb/A093702index_4.htm"),
        ("ndrc", "https://www.ndrc.gov.cn/xxgk/zcfb/tz/", 2, "https://www.ndrc.gov.cn/xxgk/zcfb/tz/index_1.html"),
        ("ndrc", "https://www.ndrc.gov.cn/xxgk/zcfb/tz/index.html", 5, "https://www.ndrc.gov.cn/xxgk/zcfb/tz/index_4.html"),
        ("mee", "https://www.mee.gov.cn/zcwj/bwj/", 2, "https://www.mee.gov.cn/zcwj/bwj/index_1.shtml"),
        ("mee", "https://www.mee.gov.cn/zcwj/bwj/index.html", 3, "https://www.mee.gov.cn/zcwj/bwj/index_2.html"),
        ("mof", "http://gss.mof.gov.cn/gzdt/zhengcefabu/", 2, "http://gss.mof.gov.cn/gzdt/zhengcefabu/index_1.htm"),
        ("mof", "http://gss.mof.gov.cn/gzdt/zhengcefabu/index_3.htm", 2, "http://gss.mof.gov.cn/gzdt/zhengcefabu/index_1.htm"),
        ("miit", "https://www.miit.gov.cn/zwgk/zcwj/wjfb/tz/index.html", 1, "https://www.miit.gov.cn/zwgk/zcwj/wjfb/tz/index.html"),
        ("nea", "https://www.nea.gov.cn/sjzz/ghs/index.htm", 1, "https://www.nea.gov.cn/sjzz/ghs/index.htm"),
    ],
)  # fmt: skip
def test_static_page_urls(site: str, first: str, n: int, expected: str) -> None:
    assert page_url(site, first, n) == expected


@pytest.mark.parametrize(
    ("site", "first", "n", "message"),
    [
        ("miit", "https://www.miit.gov.cn/zwgk/zcwj/wjfb/tz/index.html", 2, "page 1's `follow`"),
        ("samr", "https://www.samr.gov.cn/xw/zj/", 3, "page 1's `follow`"),
        ("nea", "https://www.nea.gov.cn/sjzz/ghs/index.htm", 2, "holds the whole list"),
        ("mofcom", "http://www.mofcom.gov.cn/article/b/", 2, "legacy /article/ lists"),
        ("govcn", "https://www.gov.cn/zhengce/zuixin/ZUIXINZHENGCE.json", 2, "single file"),
        ("cac", "https://www.cac.gov.cn/wxzw/wxfb/More.htm", 2, "not a channel page"),
        ("ndrc", "https://www.ndrc.gov.cn/xxgk/zcfb/tz/", 0, "start at 1"),
    ],
)
def test_pages_that_do_not_exist_are_refused(site: str, first: str, n: int, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        page_url(site, first, n)


def test_unknown_site_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown list site 'moe'; known: cac, govcn, mee"):
        page_url("moe", "https://www.moe.gov.cn/", 2)
    with pytest.raises(ValueError, match="unknown list site"):
        parse_list("moe", b"<html></html>", "https://www.moe.gov.cn/")


def test_miit_column_page_names_the_api_request_with_referer() -> None:
    follow = _parse("miit/column-wjfb-tz").follow
    assert follow is not None
    assert (
        follow.url
        == "https://www.miit.gov.cn/api-gateway/jpaas-publish-server/front/page/build/unit"
    )
    # The list unit's script (tagId 右侧内容) is chosen, not the header's (头部导航).
    assert follow.params["tagId"] == "右侧内容"
    assert follow.params["pageId"] == "3e3ad1a3bec74939890a0d3e54815141"
    assert json.loads(follow.params["paramJson"]) == {"pageNo": 1, "pageSize": "24"}
    assert follow.headers == {"Referer": "https://www.miit.gov.cn/zwgk/zcwj/wjfb/tz/index.html"}


def test_miit_page_2_is_the_same_request_with_page_number_2() -> None:
    follow = _parse("miit/column-wjfb-tz").follow
    assert follow is not None
    second = page_url("miit", follow, 2)
    assert isinstance(second, ListRequest)
    assert json.loads(second.params["paramJson"]) == {"pageNo": 2, "pageSize": "24"}
    assert {k: v for k, v in second.params.items() if k != "paramJson"} == {
        k: v for k, v in follow.params.items() if k != "paramJson"
    }
    assert second.headers == follow.headers
    assert page_url("miit", follow, 1) == follow


def test_the_api_answer_says_how_many_pages_there_are() -> None:
    first, second = _parse("miit/api-wjfb-tz-page1"), _parse("miit/api-wjfb-tz-page2")
    assert (first.page, first.pages) == (1, 3)  # 57 entries, 24 a page
    assert (second.page, second.pages) == (2, 3)
    assert {e.url for e in first.entries}.isdisjoint(e.url for e in second.entries)


def test_a_page_request_keeps_the_page_size_it_was_made_with() -> None:
    request = ListRequest(
        url="https://www.samr.gov.cn/api-gateway/jpaas-publish-server/front/page/build/unit",
        params={"pageId": "x", "paramJson": '{"pageNo":1,"pageSize":"50"}'},
    )
    third = page_url("samr", request, 3)
    assert isinstance(third, ListRequest)
    assert json.loads(third.params["paramJson"]) == {"pageNo": 3, "pageSize": "50"}


def test_a_list_request_becomes_a_real_http_request() -> None:
    follow = _parse("samr/column-fgs").follow
    assert follow is not None
    second = page_url("samr", follow, 2)
    assert isinstance(second, ListRequest)
    request = httpx.Request("GET", second.url, params=second.params, headers=second.headers)
    query = parse_qs(urlsplit(str(request.url)).query)
    assert query["parseType"] == ["bulidstatic"]
    assert query["tagId"] == ["内容区域"]
    assert json.loads(query["paramJson"][0]) == {"pageNo": 2, "pageSize": "20"}
    assert request.headers["Referer"] == "https://www.samr.gov.cn/zw/zfxxgk/fdzdgknr/fgs/"
    assert second.full_url().startswith(second.url + "?parseType=bulidstatic&")


def test_nea_bureau_page_names_its_data_source_next_to_the_page() -> None:
    follow = _parse("nea/sjzz-ghs").follow
    assert follow == ListRequest(
        url="https://www.nea.gov.cn/sjzz/ghs/ds_a1b2c3d4e5f60718293a4b5c6d7e8f90.json",
        headers={"Referer": "https://www.nea.gov.cn/sjzz/ghs/index.htm"},
    )


def test_mofcom_new_columns_page_by_api_and_legacy_lists_do_not() -> None:
    follow = _parse("mofcom/zcfb-column").follow
    assert follow is not None
    assert follow.params["parseType"] == "bulidstatic"
    second = page_url("mofcom", follow, 2)
    assert isinstance(second, ListRequest)
    assert json.loads(second.params["paramJson"])["pageNo"] == 2
