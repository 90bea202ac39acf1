"""Property tests: on any input a list parser returns a sound page or raises ParseError."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from parsers.errors import ParseError
from parsers.identity import document_identity, is_draft, normalise_doc_number, title_stem
from parsers.lists import LIST_PARSERS, parse_list
from parsers.notices.common import host_of

SITE_URLS = {
    "govcn": "https://www.gov.cn/zhengce/zuixin/home_0.htm",
    "miit": "https://www.miit.gov.cn/api-gateway/jpaas-publish-server/front/page/build/unit",
    "samr": "https://www.samr.gov.cn/xw/zj/",
    "mofcom": "https://www.mofcom.gov.cn/zwgk/zcfb/",
    "ndrc": "https://www.ndrc.gov.cn/xxgk/zcfb/tz/",
    "cac": "https://www.cac.gov.cn/wxzw/wxfb/A093702index_1.htm",
    "mee": "https://www.mee.gov.cn/zcwj/bwj/",
    "mof": "https://www.mof.gov.cn/zhengwuxinxi/zhengcefabu/",
    "nea": "https://www.nea.gov.cn/sjzz/ghs/ds_1.json",
}
# Pieces of the sites' list markup, shuffled into pages that are partly right.
PIECES = st.sampled_from(
    [
        "<ul class='u-list'>", "<ul id='loadingInfoPage'>", "<ul class='liBox'>", "<div class='list'>",
        "<div class='page-content'><ul>", "<li>", "</li>", "</ul>", "</div>", "<h4>",
        "<a href='/a/b.htm' title='关于印发《办法》的通知'>", "<a href='https://x.example/a'>", "</a>",
        "<a href='javascript:void(0)'>", "<span class='date'>2024-09-14</span>",
        "<span class='fr'>2024/9/3</span>", "<div class='times'>2024年9月1日</div>", "通知",
        "<script url='/api-gateway/jpaas-publish-server/front/page/build/unit' "
        "querydata=\"{'tagId':'内容区域','pageId':'p'}\"></script>",
        "<ul id='showData0' data='ds:abc'></ul>", '{"datasource": [', '{"success": true, "data": {"html": "',
        '"}}', "]}", "<title>安全验证</title>",
    ]
)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(sorted(LIST_PARSERS)), st.lists(PIECES, max_size=25).map("".join))
def test_a_page_parses_soundly_or_raises_parse_error(site: str, page: str) -> None:
    url = SITE_URLS[site]
    try:
        result = parse_list(site, page, url)
    except ParseError:
        return
    assert result.site == site
    for entry in result.entries:
        assert entry.title
        assert entry.url.startswith("https://")
        assert "x.example" not in host_of(entry.url)
    assert bool(result.follow) <= (not result.entries)


@settings(max_examples=120, deadline=None)
@given(st.text(max_size=120))
def test_identity_helpers_never_raise(text: str) -> None:
    number = normalise_doc_number(text)
    if number is not None:
        assert normalise_doc_number(number) == number
    assert document_identity("MIIT", text, "https://www.miit.gov.cn/a").startswith(("doc:", "url:"))
    is_draft(text)
    title_stem(text)
