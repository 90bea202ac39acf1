"""Webhook services through apprise: JSON and Mattermost on loopback, Slack's payload intercepted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests

from policywatch.channels import send
from policywatch.notify import render_alert

from .conftest import HOSTILE, Hook, entry_of, make_item, write_channels


def _msg(headline: str | None = None) -> Any:
    return render_alert(entry_of(make_item(3, headline), "c|item-0003|instant"))


def test_json_webhook_receives_markdown_with_facts(tmp_path: Path, hook: Hook) -> None:
    text = "channels:\n  j:\n    url: ${J}\n    format: markdown\n"
    channels = write_channels(tmp_path, text, {"J": hook.url("json", "/hook")})
    send(channels["j"], _msg())
    payload = hook.posts[0]["json"]
    assert payload["title"].startswith("[ev] MIIT sets new targets")
    body = payload["message"]
    assert "工信部电子〔2024〕103号" in body
    assert "(https://www.miit.gov.cn/notice-3.html)" in body
    assert "**solid-state**" in body


def test_mattermost_webhook_gets_text_cut_to_its_limit(tmp_path: Path, hook: Hook) -> None:
    env = {"M": f"mmost://127.0.0.1:{hook.port}/abcdefghijkl"}
    channels = write_channels(tmp_path, "channels:\n  mm:\n    url: ${M}\n", env)
    long_headline = "Solid-state " + "very long headline " * 400
    send(channels["mm"], _msg(long_headline))
    post = hook.posts[0]
    assert post["path"] == "/hooks/abcdefghijkl"
    text = post["json"]["text"]
    assert len(text) <= 4000
    assert "message shortened" in text


def test_webhook_failure_is_a_masked_delivery_error(tmp_path: Path, hook: Hook) -> None:
    from policywatch.errors import DeliveryError

    hook.statuses = [500]
    channels = write_channels(
        tmp_path, "channels:\n  j:\n    url: ${J}\n", {"J": hook.url("json", "/S3cr3tPath")}
    )
    with pytest.raises(DeliveryError) as err:
        send(channels["j"], _msg())
    assert "S3cr3tPath" not in str(err.value)
    assert "127.0.0.1" in str(err.value)


class _Response:
    status_code = 200
    content = b"ok"
    text = "ok"


def test_slack_payload_is_mrkdwn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []

    def fake_request(method: str, url: str, **kw: Any) -> _Response:
        calls.append({"method": method, "url": url, "data": json.loads(kw["data"])})
        return _Response()

    monkeypatch.setattr(requests, "request", fake_request)
    url = (
        "https://hooks.slack.com/services/" + "T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ"
    )  # fake
    channels = write_channels(tmp_path, "channels:\n  s:\n    url: ${S}\n", {"S": url})
    send(channels["s"], _msg(HOSTILE))
    assert len(calls) == 1
    assert calls[0]["url"].startswith("https://hooks.slack.com/services/")
    payload = calls[0]["data"]
    body = json.dumps(payload, ensure_ascii=False)
    assert "<https://www.miit.gov.cn/notice-3.html|工信部电子〔2024〕103号>" in body
    assert "*solid-state*" in body
    assert "**solid-state**" not in body
    assert "<script>" not in body
    assert "&lt;script&gt;" in body
    assert "<https://evil.example" not in body
