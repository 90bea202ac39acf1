"""Generic webhooks (apprise's ``json://``, ``jsons://``, ``form://``, ``xml://``) sent with httpx.

apprise's ``notify()`` returns only a bool, so a 429 or 503 answer and its ``Retry-After``
header are lost there. For these four kinds, whose answer is the receiver's own HTTP response,
policywatch sends the request itself: the URL is still parsed by apprise (method, ``+Header``,
``-param``, ``:field``, user and password, certificate check, redirects), the payload is the one
apprise would post, and the response is read here. Connection failures and timeouts raise
ChannelUnreachable (the circuit breaker counts them), 429/503 with ``Retry-After`` raise
ChannelThrottled, any other non-2xx answer a DeliveryError.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx

from policywatch.errors import ChannelThrottled, ChannelUnreachable, DeliveryError
from policywatch.http import retry_after_seconds
from policywatch.settings import DeliverySettings

__all__ = ["OWN_KINDS", "handles", "post"]

OWN_KINDS = frozenset({"NotifyJSON", "NotifyForm", "NotifyXML"})
_THROTTLED = (429, 503)
_TYPE = "info"


def handles(plugin: Any) -> bool:
    return type(plugin).__name__ in OWN_KINDS


def post(plugin: Any, title: str, body: str, settings: DeliverySettings) -> None:
    """Send one message to the webhook; raise on anything but a 2xx answer."""
    request = _request(plugin, title, body)
    timeout = httpx.Timeout(settings.webhook_timeout, connect=settings.connect_timeout)
    try:
        with httpx.Client(
            timeout=timeout,
            verify=bool(plugin.verify_certificate),
            follow_redirects=bool(getattr(plugin, "redirects", True)),
        ) as client:
            response = client.request(**request)
    except httpx.TransportError as exc:
        why = "timed out" if isinstance(exc, httpx.TimeoutException) else type(exc).__name__
        raise ChannelUnreachable(f"webhook not reachable: {why}") from None
    _check(response)


def _check(response: httpx.Response) -> None:
    status = response.status_code
    if 200 <= status < 300:
        return
    after = retry_after_seconds(response.headers.get("retry-after"))
    if status in _THROTTLED and after is not None:
        raise ChannelThrottled(f"HTTP {status}, Retry-After {after:g} s", retry_after=after)
    raise DeliveryError(f"refused: HTTP {status}")


def _url(plugin: Any) -> str:
    url = f"{'https' if plugin.secure else 'http'}://{plugin.host}"
    if isinstance(plugin.port, int):
        url += f":{plugin.port}"
    return url + (plugin.fullpath or "")


def _request(plugin: Any, title: str, body: str) -> dict[str, Any]:
    headers = {"User-Agent": str(plugin.app_id), **dict(plugin.headers)}
    auth = (plugin.user, plugin.password or "") if plugin.user else None
    base: dict[str, Any] = {
        "method": plugin.method,
        "url": _url(plugin),
        "params": dict(plugin.params),
        "auth": auth,
    }
    kind = type(plugin).__name__
    if kind == "NotifyJSON":
        headers["Content-Type"] = "application/json"
        return {**base, "headers": headers, "content": _json_payload(plugin, title, body)}
    if kind == "NotifyXML":
        headers["Content-Type"] = "application/xml"
        return {**base, "headers": headers, "content": _xml_payload(plugin, title, body)}
    form = _form_payload(plugin, title, body)
    if plugin.method == "GET":
        return {**base, "headers": headers, "params": {**form, **dict(plugin.params)}}
    return {**base, "headers": headers, "data": form}


def _json_payload(plugin: Any, title: str, body: str) -> bytes:
    payload: dict[str, Any] = {
        "version": plugin.json_version,
        "title": title,
        "message": body,
        "attachments": [],
        "type": _TYPE,
    }
    for key, value in plugin.payload_extras.items():
        if key in payload:
            moved = payload.pop(key)
            if value:
                payload[value] = moved  # :message=text renames a field; :type= drops it
        else:
            payload[key] = value
    return json.dumps(payload).encode("utf-8")


def _mapped(plugin: Any, fields: tuple[tuple[str, str], ...]) -> dict[str, str]:
    return {plugin.payload_map[k]: v for k, v in fields if plugin.payload_map.get(k)}


def _form_payload(plugin: Any, title: str, body: str) -> dict[str, str]:
    fields = (("version", plugin.form_version), ("title", title), ("message", body))
    payload = _mapped(plugin, (*fields, ("type", _TYPE)))
    return {**payload, **dict(plugin.payload_extras)}


def _xml_payload(plugin: Any, title: str, body: str) -> bytes:
    def esc(text: str) -> str:
        return str(plugin.escape_html(text, whitespace=False))

    fields = (("Version", plugin.xsd_ver), ("Subject", esc(title)), ("Message", esc(body)))
    payload = _mapped(plugin, (*fields, ("MessageType", esc(_TYPE))))
    payload.update({k: esc(v) for k, v in plugin.payload_extras.items()})
    core = "".join(f"<{k}>{v}</{k}>" for k, v in payload.items())
    xsd = f' xmlns:xsi="{plugin.xsd_url}"' if plugin.xsd_url else ""
    parts = {"{{XSD_URL}}": xsd, "{{ATTACHMENTS}}": "", "{{CORE}}": core}
    pattern = re.compile("|".join(re.escape(k) for k in parts), re.IGNORECASE)
    text = pattern.sub(lambda m: parts[m.group(0).upper()], plugin.payload)
    return text.encode("utf-8")
