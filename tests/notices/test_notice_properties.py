"""Property tests: the shared helpers never raise and stay consistent on arbitrary input."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from parsers.bodies import BodyIndex
from parsers.notices import canonical_url, parse_notice
from parsers.notices.common import decode_html, find_doc_number, parse_cn_datetime

HOSTS = st.sampled_from(["www.miit.gov.cn", "wap.miit.gov.cn", "gov.cn", "gks.mof.gov.cn"])
PATHS = st.lists(st.text("abc_019", min_size=1, max_size=8), max_size=4).map("/".join)
PARAMS = st.dictionaries(
    st.sampled_from(["id", "xxgkhide", "utm_source", "page"]), st.text("ab1", max_size=3)
)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(["http", "https"]), HOSTS, PATHS, PARAMS)
def test_canonical_url_is_idempotent(
    scheme: str, host: str, path: str, params: dict[str, str]
) -> None:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    url = canonical_url(f"{scheme}://{host}/{path}?{query}")
    assert canonical_url(url) == url
    assert url.startswith("https://")
    assert "xxgkhide" not in url
    assert "utm_" not in url


@settings(max_examples=80, deadline=None)
@given(st.text(max_size=200))
def test_text_helpers_never_raise(text: str) -> None:
    find_doc_number(text)
    parse_cn_datetime(text)


@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=400))
def test_decode_never_raises(data: bytes) -> None:
    assert isinstance(decode_html(data, "utf-8"), str)


BODIES = BodyIndex.load()


@settings(max_examples=40, deadline=None)
@given(st.text(max_size=300), st.sampled_from(["miit", "govcn", "generic", "mofcom"]))
def test_parse_notice_never_raises_and_never_returns_empty_ok(text: str, site: str) -> None:
    notice = parse_notice(
        f"<html><body>{text}</body></html>", "https://x.gov.cn/a", site=site, bodies=BODIES
    )
    if notice.status == "ok":
        assert notice.title
        assert notice.body_text
    else:
        assert notice.error
