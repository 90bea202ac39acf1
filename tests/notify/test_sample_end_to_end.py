"""From the real newsletter sample to an email on loopback SMTP and a loopback webhook."""

from __future__ import annotations

from pathlib import Path

from parsers.documents import text_to_document
from parsers.merics import parse_issue
from policywatch.alerting import build_alerts
from policywatch.devtools.mailsink import MailSink
from policywatch.match import Matcher
from policywatch.outbox import deliver_pending
from policywatch.settings import Config, DeliverySettings
from policywatch.store import Store
from policywatch.taxonomy import load_taxonomy
from policywatch.watchlists import Watchlist

from .conftest import Hook, write_channels


def test_real_sample_yields_readable_alerts(
    tmp_path: Path, shared_samples: Path, repo_root: Path, store: Store, sink: MailSink, hook: Hook
) -> None:
    config = Config(repo_root / "config")
    path = shared_samples / "merics-china-industries-2024-10-02.txt"
    issue = parse_issue(text_to_document(path.read_bytes(), str(path)), config.bodies)
    watchlist = Watchlist(name="miit-desk", bodies=["MIIT"], channels=["mail", "team"])
    matcher = Matcher.build([watchlist], load_taxonomy(config), config.bodies)
    matches = [m for item in issue.items for m in matcher.match(item)]
    assert matches
    alerts = build_alerts({"miit-desk": watchlist}, matches, issue.items, {}, "r")
    store.record(issue_id="sample", source="test", meta=issue.issue, content_hash="x",
                 items=issue.items, alerts=alerts, run_id="r")  # fmt: skip
    text = "channels:\n  mail:\n    url: ${MAIL}\n  team:\n    url: ${HOOK}\n    format: markdown\n"
    channels = write_channels(tmp_path, text, {"MAIL": sink.url(), "HOOK": hook.url()})
    report = deliver_pending(store, channels, config=DeliverySettings(), worker_id="t")

    assert report.sent == report.items == len(alerts) == 2 * len(matches)
    assert not report.errors
    assert len(set(sink.message_ids)) == len(sink.messages) == len(hook.posts) == len(matches)
    by_id = {i.id: i for i in issue.items}
    first = by_id[matches[0].item_id]
    mail = next(m for m in sink.messages if " ".join(first.headline.split()) in m["Subject"])
    html = str(mail.get_body(("html",)).get_content())  # type: ignore[union-attr]
    plain = str(mail.get_body(("plain",)).get_content())  # type: ignore[union-attr]
    assert first.policy is not None
    assert first.policy.title_zh
    for body in (html, plain, hook.posts[0]["json"]["message"]):
        assert first.policy.title_zh in body
        assert "MIIT" in body
    assert "<mark>" in html
    assert "Why it matched" in plain
