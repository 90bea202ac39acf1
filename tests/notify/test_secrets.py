"""flows.secret_blocks: the Prefect Secret-block resolver (Secret.load replaced, no server needed)."""

from __future__ import annotations

from typing import Any

import pytest

from policywatch.errors import DeliveryError


class _Block:
    def __init__(self, value: Any) -> None:
        self.value = value

    def get(self) -> Any:
        return self.value


@pytest.mark.parametrize(
    ("value", "expected"),
    [("json://h/x", "json://h/x"), (["json://h/a", "json://h/b"], "json://h/a json://h/b")],
)
def test_secret_values_become_apprise_url_strings(
    monkeypatch: pytest.MonkeyPatch, value: Any, expected: str
) -> None:
    import flows.secret_blocks as secrets

    monkeypatch.setattr(secrets.Secret, "load", classmethod(lambda cls, name, **kw: _Block(value)))
    assert secrets.prefect_secret("team") == expected


def test_missing_block_and_wrong_type_are_delivery_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    import flows.secret_blocks as secrets

    def missing(cls: Any, name: str, **kw: Any) -> Any:
        raise ValueError(f"Unable to find block document named {name}")

    monkeypatch.setattr(secrets.Secret, "load", classmethod(missing))
    with pytest.raises(DeliveryError, match="'team' not found"):
        secrets.prefect_secret("team")
    monkeypatch.setattr(secrets.Secret, "load", classmethod(lambda cls, n, **kw: _Block({"a": 1})))
    with pytest.raises(DeliveryError, match="must hold a URL"):
        secrets.prefect_secret("team")
