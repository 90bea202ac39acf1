"""Builders for synthetic items and notices used by the matching tests."""

from __future__ import annotations

from typing import Any

from policywatch.models import Notice, PolicyItem


def item(text: str = "", *, section: str = "policy_news", **fields: Any) -> PolicyItem:
    """A policy item whose headline is the first sentence of ``text`` unless given."""
    fields.setdefault("headline", text.split(".")[0] if text else "headline")
    fields.setdefault("id", f"item-{abs(hash((text, section))) % 10**8}")
    return PolicyItem(section=section, position=1, text=text, **fields)  # type: ignore[arg-type]


def notice(body_text: str = "", **fields: Any) -> Notice:
    fields.setdefault("url", "https://www.miit.gov.cn/zwgk/zcwj/notice.html")
    fields.setdefault("site", "miit")
    return Notice(body_text=body_text, **fields)
