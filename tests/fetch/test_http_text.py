"""Charset choice and Retry-After parsing, on their own (the loopback tests cover the wiring)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from parsers.charset import detect_encoding
from policywatch.http import retry_after_seconds

ZH = "<html><body><p>国家市场监督管理总局关于进一步加强产品质量安全监管工作的通知。各省、自治区、直辖市市场监管局：</p></body></html>"


@pytest.mark.parametrize(
    ("content", "content_type", "expected"),
    [
        (ZH.encode("gbk"), None, "gb18030"),
        (ZH.encode("gbk"), "text/html; charset=GB2312", "gb18030"),
        (ZH.encode(), "text/html; charset=windows-1252", "utf-8"),
        (ZH.encode("gbk"), "text/html; charset=iso-8859-1", "gb18030"),
        (ZH.encode("gbk"), "text/html; charset=utf-8", "gb18030"),
        (ZH.encode(), "text/html; charset=bogus-charset", "utf-8"),
        ("Café crème brûlée, déjà vu.".encode("latin-1"), "text/html; charset=iso-8859-1", None),
        (b"", "text/html", "utf-8"),
    ],
)
def test_detect_encoding(content: bytes, content_type: str | None, expected: str | None) -> None:
    encoding = detect_encoding(content, content_type)
    if expected is None:  # a true Latin-1 page: any single-byte Western label reads it right
        assert encoding is not None
        assert content.decode(encoding) == "Café crème brûlée, déjà vu."
    else:
        assert encoding == expected


NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        (" 0 ", 0.0),
        ("Thu, 01 Jan 2026 12:00:45 GMT", 45.0),
        ("Thu, 01 Jan 2026 11:00:00 GMT", 0.0),  # in the past: retry now
        ("soon", None),
        ("-5", None),
        (None, None),
    ],
)
def test_retry_after_seconds(value: str | None, expected: float | None) -> None:
    assert retry_after_seconds(value, NOW) == expected
