"""Message rendering: escaping, highlighting, revisions, digests, length limits."""

from __future__ import annotations

from pathlib import Path

from policywatch.alerting import sample_entry
from policywatch.match import Matcher
from policywatch.models import Reason, WatchlistReasons
from policywatch.notify import (
    Entry,
    cut,
    excerpt,
    highlight,
    render_alert,
    render_digest,
    summary_text,
)
from policywatch.settings import Config
from policywatch.taxonomy import load_taxonomy
from policywatch.watchlists import load_watchlists

from .conftest import HOSTILE, ISSUE, REASON, entry_of, make_item


def entry(n: int = 1, headline: str | None = None, **kw: object) -> Entry:
    item = make_item(n, headline)
    return entry_of(item, f"email|{item.id}|instant", **kw)


def matched(name: str, *reasons: Reason) -> list[WatchlistReasons]:
    return [WatchlistReasons(watchlist=name, reasons=list(reasons))]


def test_html_escapes_hostile_text_and_keeps_facts() -> None:
    msg = render_alert(entry(headline=HOSTILE))
    assert "<script>" not in msg.html
    assert "&lt;script&gt;" in msg.html
    assert "<b>bold</b>" not in msg.html
    assert "工业和信息化部关于开展固态电池试点工作的通知（第1号）" in msg.html
    assert "工信部电子〔2024〕101号" in msg.html
    assert 'href="https://www.miit.gov.cn/notice-1.html"' in msg.html
    assert f'href="{ISSUE.url}"' in msg.html
    assert "<mark>solid-state</mark>" in msg.html
    assert "MIIT, NDRC" in msg.html
    assert "2024-09-04" in msg.html


def test_markdown_escapes_hostile_links() -> None:
    msg = render_alert(entry(headline=HOSTILE))
    for body in (msg.markdown, msg.slack):
        assert "[click](https://evil.example)" not in body
        assert r"\[click\]" in body
        assert "<script>" not in body


def test_links_other_than_http_are_dropped() -> None:
    e = entry()
    item = e.item.model_copy(
        update={"links": [e.item.links[0].model_copy(update={"url": "javascript:alert(1)"})]}
    )
    msg = render_alert(Entry(key=e.key, matched=matched("ev"), item=item, issue=ISSUE))
    assert "javascript:" not in msg.html
    assert "javascript:" not in msg.markdown


def test_highlight_marks_every_case_insensitive_hit() -> None:
    parts = highlight("Solid-state cells and solid-state packs", "solid-state")
    assert [t for t, hit in parts if hit] == ["Solid-state", "solid-state"]
    assert "".join(t for t, _ in parts) == "Solid-state cells and solid-state packs"


def test_chinese_reason_is_highlighted_in_text() -> None:
    reason = Reason(
        facet="keyword",
        term="固态电池",
        found="固态电池",
        field="text",
        snippet="关于固态电池的通知",
    )
    msg = render_alert(
        Entry(key="k", matched=matched("ev", reason), item=make_item(1), issue=ISSUE)
    )
    assert "关于[固态电池]的通知" in msg.text
    assert "关于**固态电池**的通知" in msg.markdown


def test_revision_is_marked_with_hashes_and_diff() -> None:
    e = entry(change="revised", content_hash="abcdef0123456789", previous_hash="99887766aabb",
              previous_text="Full text of item 1 about liquid batteries.")  # fmt: skip
    msg = render_alert(e)
    assert msg.subject.startswith("[ev] Revised: ")
    assert "[REVISED]" in msg.text
    assert "99887766 -> abcdef01" in msg.text
    assert "+Full text of item 1 about solid-state batteries 固态电池." in msg.text
    assert "REVISED" in msg.html
    assert "REVISED" in msg.markdown
    assert "_revised_" in msg.slack


def test_message_id_is_stable_per_key_and_in_the_senders_domain() -> None:
    a1, a2 = render_alert(entry(1)), render_alert(entry(1))
    b = render_alert(entry(2))
    sender = "policywatch <alerts@example.org>"
    assert a1.message_id(sender) == a2.message_id(sender) != b.message_id(sender)
    assert a1.message_id(sender).startswith("<")
    assert a1.message_id(sender).endswith("@example.org>")
    assert a1.message_id("pw@localhost").endswith("@localhost>")  # only when the sender is
    assert a1.message_id(None).endswith("@policywatch.invalid>")


def test_digest_lists_all_items_in_order_with_count() -> None:
    entries = [entry(n) for n in (3, 1, 2)]
    msg = render_digest(entries, channel="email", run_id="r1")
    assert msg.subject.startswith("[ev] digest: 3 matches")
    positions = [msg.text.index(f"part {n}") for n in (3, 1, 2)]
    assert positions == sorted(positions)
    assert msg.count == 3
    assert "3 items" in msg.slack


def test_cut_respects_limit_at_a_line_boundary() -> None:
    body = "\n".join(f"line {i} " + "x" * 40 for i in range(200))
    out = cut(body, 1000)
    assert len(out) <= 1000
    assert out.endswith("… (message shortened)")
    kept = out.splitlines()[:-1]
    assert all(line in body.splitlines() for line in kept)
    assert cut("short", 1000) == "short"


def test_revision_diff_is_short_escaped_and_cannot_break_out_of_its_block() -> None:
    old = "Same opening sentence. Old <b>claim</b> about batteries. " + "Filler text. " * 400
    new_text = "Same opening sentence. New ``` <script>x</script> claim. " + "Filler text. " * 400
    item = make_item(1).model_copy(update={"text": new_text})
    e = Entry(key="k", matched=matched("ev", REASON), item=item, issue=ISSUE,
              change="revised", previous_text=old)  # fmt: skip
    msg = render_alert(e)
    assert "-Old <b>claim</b> about batteries." in msg.text
    assert "+New ``` <script>x</script> claim." in msg.text
    assert "Same opening sentence" not in msg.text.split("What changed")[1]  # only the change
    assert "Filler" not in msg.text.split("What changed")[1]
    assert "&lt;script&gt;x&lt;/script&gt;" in msg.html
    assert "<script>" not in msg.html
    for body in (msg.markdown, msg.slack):
        block = body.split("```", 1)[1].split("\n```\n", 1)[0]
        assert "+New ''' <script>x</script> claim." in block  # a backtick cannot close the fence
        assert "-Old <b>claim</b> about batteries." in block


def test_goals_follow_the_summarys_lead_in_in_every_format() -> None:
    lead = "Key requirements include:"
    summary = "The MIIT issued guidelines on pilot lines. " * 12 + lead  # longer than the cut
    item = make_item(1).model_copy(
        update={"summary": summary, "goals": ["build ten pilot lines by 2026", "cut costs 20%"]}
    )
    msg = render_alert(entry_of(item))
    assert summary_text(item).endswith("… " + lead)  # the lead-in survives the cut
    for body in (msg.text, msg.html, msg.markdown, msg.slack):
        assert "build ten pilot lines by 2026" in body
        assert "cut costs 20%" in body
    assert f"{lead}\n  - build ten pilot lines by 2026\n  - cut costs 20%" in msg.text
    assert "<li>build ten pilot lines by 2026</li>" in msg.html


def test_notice_shows_its_first_lines_its_number_and_link() -> None:
    body = "各省、自治区、直辖市工业和信息化主管部门：\n\n为推动固态电池产业发展，现就有关事项通知如下。\n一、总体要求\n二、重点任务"
    e = entry()
    notice = e.notices[0].model_copy(update={"body_text": body})
    msg = render_alert(Entry(key=e.key, matched=e.matched, item=e.item, issue=ISSUE,
                             notices=[notice]))  # fmt: skip
    first = "各省、自治区、直辖市工业和信息化主管部门：为推动固态电池产业发展，现就有关事项通知如下。一、总体要求"
    assert excerpt(body) == first
    assert "二、重点任务" not in msg.text  # the first three lines only
    for shown in (msg.text, msg.html, msg.markdown, msg.slack):
        assert first in shown
        assert "工信部电子〔2024〕101号" in shown
        assert "https://www.miit.gov.cn/notice-1.html" in shown
    blocked = notice.model_copy(update={"status": "blocked"})
    quiet = render_alert(Entry(key=e.key, matched=e.matched, item=e.item, issue=ISSUE,
                               notices=[blocked]))  # fmt: skip
    assert "主管部门" not in quiet.text  # no excerpt of a page we could not read


def test_digest_contents_in_markdown_and_slack() -> None:
    msg = render_digest([entry(n) for n in (1, 2)], channel="team", run_id="r")
    for body in (msg.markdown, msg.slack):  # both headlines listed before the first item
        first = body.index("1. MIIT sets new targets for solid-state batteries, part 1")
        second = body.index("2. MIIT sets new targets for solid-state batteries, part 2")
        assert first < second < body.index("Pilots No. 1")


def test_sample_alert_of_every_project_watchlist_would_match_it(repo_root: Path) -> None:
    config = Config(repo_root / "config")
    taxonomy = load_taxonomy(config)
    for wl in load_watchlists(config, taxonomy=taxonomy):
        e = sample_entry(wl, taxonomy, config.bodies, nonce="n")
        matcher = Matcher.build([wl], taxonomy, config.bodies)
        assert [m.watchlist for m in matcher.match(e.item, e.notices)] == [wl.name], wl.name
        assert e.watchlists == [wl.name]
        assert e.matched[0].reasons  # the matcher's own reasons
        msg = render_alert(e)
        assert msg.subject.startswith(f"[{wl.name}] Test alert for {wl.name}")
        assert "测试〔2024〕1号" in msg.text
