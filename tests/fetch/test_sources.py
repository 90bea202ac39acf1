"""Issue discovery against a loopback MERICS-like site and a folder of saved issues."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from policywatch.devtools.loopback import LoopbackServer, Reply
from policywatch.http import PoliteClient
from policywatch.settings import HttpSettings, SourceSettings
from policywatch.sources import (
    Candidate,
    SourceState,
    canonical_merics_url,
    discover,
    is_china_industries,
)

from .conftest import SITE

pytestmark = pytest.mark.anyio

ROBOT = "https://merics.org/en/merics-briefs/robot-standards-battery-recycling-chip-subsidies"
GRID = "https://merics.org/en/merics-briefs/grid-upgrades-data-exchanges-drone-rules"
ESSENTIALS = "https://merics.org/en/merics-briefs/party-plenum-trade-talks-local-debt"
BRIEFING = "https://merics.org/en/briefing/merics-china-industries-briefing-march-2021"


def merics_source(site: LoopbackServer, **kw: object) -> SourceSettings:
    values: dict[str, object] = {
        "name": "merics",
        "type": "merics",
        "feed_url": site.url("/en/rss.xml"),
        "listing_url": site.url("/en/analysis?field_publication_type=15"),
    }
    values.update(kw)
    return SourceSettings.model_validate(values)


async def run(
    source: SourceSettings,
    settings: HttpSettings,
    state: SourceState,
    root: Path,
    since: date | None = None,
) -> tuple[list[Candidate], SourceState]:
    async with PoliteClient(settings) as client:
        return await discover(source, client, state, since=since, root=root)


async def test_first_run_finds_china_industries_and_rejects_essentials(
    merics_site: LoopbackServer, http_settings: HttpSettings, tmp_path: Path
) -> None:
    found, state = await run(merics_source(merics_site), http_settings, SourceState(), tmp_path)
    assert [c.key for c in found] == [ROBOT, GRID]
    robot = found[0]
    assert robot.url == ROBOT
    assert robot.title == "Robot standards + Battery recycling + Chip subsidies"
    assert robot.published == date(2024, 11, 6)
    assert robot.content
    assert b"MERICS Top 5" in robot.content
    assert robot.content_type
    assert robot.content_type.startswith("text/html")
    # every unseen brief fetched exactly once; the /de/ twin and non-brief links never
    counts = merics_site.counts
    assert counts["/en/rss.xml"] == 1
    for key in (ROBOT, GRID, ESSENTIALS):
        assert counts[key.removeprefix("https://merics.org")] == 1
    assert merics_site.total_requests() == 4
    assert set(state.seen) == {ROBOT, GRID, ESSENTIALS}
    assert state.etag
    assert state.consecutive_failures == 0
    assert state.last_ok is not None


async def test_second_run_with_nothing_new_makes_exactly_one_conditional_request(
    merics_site: LoopbackServer, http_settings: HttpSettings, tmp_path: Path
) -> None:
    source = merics_source(merics_site)
    _, state = await run(source, http_settings, SourceState(), tmp_path)
    saved = SourceState.model_validate_json(state.model_dump_json())  # as the store keeps it
    merics_site.reset_counts()

    found, state2 = await run(source, http_settings, saved, tmp_path)

    assert found == []
    assert merics_site.total_requests() == 1
    assert merics_site.log[0].headers["if-none-match"] == saved.etag
    assert state2.seen == saved.seen


async def test_a_new_issue_in_the_feed_is_the_only_page_fetched(
    merics_site: LoopbackServer, http_settings: HttpSettings, tmp_path: Path
) -> None:
    source = merics_source(merics_site)
    _, state = await run(source, http_settings, SourceState(), tmp_path)
    site_v2 = tmp_path / "site"
    shutil.copytree(SITE / "merics", site_v2)
    briefs = site_v2 / "en" / "merics-briefs"
    page = (briefs / "grid-upgrades-data-exchanges-drone-rules.html").read_text("utf-8")
    (briefs / "solar-glut-ev-exports-port-fees.html").write_text(
        page.replace("Grid upgrades + Data exchanges + Drone rules", "Solar glut + EV exports"),
        "utf-8",
    )
    feed = site_v2 / "en" / "rss.xml"
    item = (
        "<item><title>Solar glut + EV exports</title>"
        "<link>https://merics.org/en/merics-briefs/solar-glut-ev-exports-port-fees</link>"
        "<pubDate>Wed, 04 Dec 2024 09:00:00 +0000</pubDate></item>"
    )
    feed.write_text(feed.read_text("utf-8").replace("<item>", item + "<item>", 1), "utf-8")
    merics_site.set_root(site_v2)
    merics_site.reset_counts()

    found, _ = await run(source, http_settings, state, tmp_path)

    assert [c.title for c in found] == ["Solar glut + EV exports"]
    assert dict(merics_site.counts) == {
        "/en/rss.xml": 1,
        "/en/merics-briefs/solar-glut-ev-exports-port-fees": 1,
    }


async def test_feed_failure_falls_back_to_the_listing(
    merics_site: LoopbackServer, http_settings: HttpSettings, tmp_path: Path
) -> None:
    merics_site.routes["/en/rss.xml"] = lambda req: Reply(503, {}, b"down")
    settings = http_settings.model_copy(update={"max_attempts": 2, "backoff_base": 0.01})
    found, state = await run(merics_source(merics_site), settings, SourceState(), tmp_path)
    assert [c.key for c in found] == [ROBOT, GRID, BRIEFING]
    assert found[2].published == date(2021, 3, 31)
    assert merics_site.counts["/en/rss.xml"] == 2
    # page 0, then page 1 which adds nothing, so pagination stops
    assert merics_site.counts["/en/analysis"] == 2
    assert [r.query.get("page") for r in merics_site.log if r.path == "/en/analysis"] == [
        None,
        ["1"],
    ]
    assert state.consecutive_failures == 0


async def test_since_bounds_a_backfill_from_the_listing(
    merics_site: LoopbackServer, http_settings: HttpSettings, tmp_path: Path
) -> None:
    found, _ = await run(
        merics_source(merics_site), http_settings, SourceState(), tmp_path, since=date(2024, 10, 3)
    )
    assert [c.key for c in found] == [ROBOT]
    assert merics_site.counts["/en/analysis"] >= 1
    # feed and listing items older than `since` are not even fetched
    assert merics_site.counts["/en/merics-briefs/grid-upgrades-data-exchanges-drone-rules"] == 0
    assert merics_site.counts["/en/briefing/merics-china-industries-briefing-march-2021"] == 0


async def test_listing_dates_bound_a_backfill_and_stop_the_pagination(
    http_settings: HttpSettings, tmp_path: Path
) -> None:
    def row(slug: str, day: str) -> str:
        return (
            f'<div class="views-row"><article><h3><a href="/en/merics-briefs/{slug}">{slug}</a>'
            f'</h3><span class="date">{day}</span></article></div>'
        )

    pages = {
        None: row("new-one", "Sept 3, 2024") + row("undated", "soon"),
        "1": row("new-two", "Jun 2, 2024") + row("old-one", "May 30, 2024"),
        "2": row("old-two", "Apr 1, 2024") + row("old-three", "Mar 1, 2024"),
        "3": row("old-four", "Feb 1, 2024"),
        # one row holding two issues: its date belongs to neither
        "shared": '<div class="views-row"><article><a href="/en/merics-briefs/x-one">x</a>'
        '<a href="/en/merics-briefs/x-two">y</a> Mar 1, 2024</article></div>',
    }
    body = "<html><main><div class='series'>MERICS China Industries</div><h1>{}</h1></main></html>"
    with LoopbackServer() as site:
        site.routes["/en/analysis"] = lambda req: Reply(
            200,
            {"Content-Type": "text/html"},
            pages[(req.query.get("page") or [None])[0]].encode(),
        )
        slugs = (
            "new-one",
            "undated",
            "new-two",
            "old-one",
            "old-two",
            "old-four",
            "x-one",
            "x-two",
        )
        for slug in slugs:
            site.routes[f"/en/merics-briefs/{slug}"] = lambda req, s=slug: Reply(
                200, {"Content-Type": "text/html"}, body.format(s).encode()
            )
        source = SourceSettings(
            name="m",
            type="merics",
            feed_url=None,
            listing_url=site.url("/en/analysis?x=15"),
            listing_pages=10,
        )
        found, _ = await run(source, http_settings, SourceState(), tmp_path, since=date(2024, 6, 1))
        assert [c.title for c in found] == ["new-one", "undated", "new-two"]
        assert found[0].published == date(2024, 9, 3)
        # page 2 is all older than `since`: the pages after it are not read
        assert site.counts["/en/analysis"] == 3
        assert site.counts["/en/merics-briefs/old-one"] == 0
        assert site.counts["/en/merics-briefs/old-two"] == 0

        pages[None] = pages["shared"]
        found, _ = await run(source, http_settings, SourceState(), tmp_path, since=date(2024, 6, 1))
        assert [(c.title, c.published) for c in found][:2] == [("x-one", None), ("x-two", None)]


async def test_backfill_reaches_issues_the_feed_no_longer_lists(
    merics_site: LoopbackServer, http_settings: HttpSettings, tmp_path: Path
) -> None:
    found, _ = await run(
        merics_source(merics_site), http_settings, SourceState(), tmp_path, since=date(2021, 1, 1)
    )
    assert BRIEFING in [c.key for c in found]


async def test_listing_pagination_reads_until_no_new_links(
    http_settings: HttpSettings, tmp_path: Path
) -> None:
    pages = {
        None: '<a href="/en/merics-briefs/a-one">1</a>',
        "1": '<a href="/en/merics-briefs/b-two">2</a>',
        "2": '<a href="/en/merics-briefs/b-two">2</a>',
    }
    body = "<html><main><div class='series'>MERICS China Industries</div><h1>{}</h1></main></html>"
    with LoopbackServer() as site:
        site.routes["/en/analysis"] = lambda req: Reply(
            200,
            {"Content-Type": "text/html"},
            pages[(req.query.get("page") or [None])[0]].encode(),
        )
        for slug in ("a-one", "b-two"):
            site.routes[f"/en/merics-briefs/{slug}"] = lambda req, s=slug: Reply(
                200, {"Content-Type": "text/html"}, body.format(s).encode()
            )
        source = SourceSettings(
            name="m", type="merics", feed_url=None, listing_url=site.url("/en/analysis?x=15")
        )
        found, _ = await run(source, http_settings, SourceState(), tmp_path)
        assert [c.title for c in found] == ["a-one", "b-two"]
        assert site.counts["/en/analysis"] == 3


async def test_an_issue_older_than_since_stays_reachable_by_a_deeper_backfill(
    http_settings: HttpSettings, tmp_path: Path
) -> None:
    page = (
        "<html><main><div class='series'>MERICS China Industries</div><h1>Old issue</h1>"
        "<time datetime='2023-05-01T10:00:00Z'>May 1, 2023</time></main></html>"
    )
    with LoopbackServer() as site:
        site.routes["/en/analysis"] = lambda req: Reply(
            200, {"Content-Type": "text/html"}, b'<a href="/en/merics-briefs/old-issue">old</a>'
        )
        site.routes["/en/merics-briefs/old-issue"] = lambda req: Reply(
            200, {"Content-Type": "text/html"}, page.encode()
        )
        source = SourceSettings(
            name="m", type="merics", feed_url=None, listing_url=site.url("/en/analysis?x=15")
        )
        found, state = await run(source, http_settings, SourceState(), tmp_path, date(2024, 1, 1))
        assert found == []
        assert site.counts["/en/merics-briefs/old-issue"] == 1  # undated in the listing
        found, state = await run(source, http_settings, state, tmp_path, date(2023, 1, 1))
        assert [(c.title, c.published) for c in found] == [("Old issue", date(2023, 5, 1))]
        again, _ = await run(source, http_settings, state, tmp_path, date(2023, 1, 1))
        assert again == []


async def test_total_failure_is_recorded_in_the_state(
    merics_site: LoopbackServer, http_settings: HttpSettings, tmp_path: Path
) -> None:
    source = merics_source(
        merics_site, feed_url=merics_site.url("/gone.xml"), listing_url=merics_site.url("/gone")
    )
    found, state = await run(source, http_settings, SourceState(), tmp_path)
    assert found == []
    assert state.consecutive_failures == 1
    assert state.last_error
    assert "/gone" in state.last_error
    _, state = await run(source, http_settings, state, tmp_path)
    assert state.consecutive_failures == 2
    _, state = await run(merics_source(merics_site), http_settings, state, tmp_path)
    assert state.consecutive_failures == 0


async def test_feed_failure_without_a_listing_is_a_failure(
    merics_site: LoopbackServer, http_settings: HttpSettings, tmp_path: Path
) -> None:
    source = merics_source(merics_site, feed_url=merics_site.url("/gone.xml"), listing_url=None)
    found, state = await run(source, http_settings, SourceState(), tmp_path)
    assert found == []
    assert state.consecutive_failures == 1
    assert state.last_error
    assert "/gone.xml" in state.last_error


async def test_a_failing_candidate_page_is_retried_next_run(
    merics_site: LoopbackServer, http_settings: HttpSettings, tmp_path: Path
) -> None:
    path = "/en/merics-briefs/grid-upgrades-data-exchanges-drone-rules"
    merics_site.routes[path] = lambda req: Reply(404, {}, b"")
    found, state = await run(merics_source(merics_site), http_settings, SourceState(), tmp_path)
    assert [c.key for c in found] == [ROBOT]
    assert GRID not in state.seen
    assert state.pending[GRID].attempts == 1
    assert state.etag  # kept: the pending entry, not a full feed read, brings it back
    del merics_site.routes[path]
    merics_site.reset_counts()
    found, state = await run(merics_source(merics_site), http_settings, state, tmp_path)
    assert [c.key for c in found] == [GRID]
    assert merics_site.log[0].headers["if-none-match"]  # the feed answered 304
    assert GRID in state.seen
    assert state.pending == {}


MAINTENANCE = (
    b"<html><body><main><h1>Down for maintenance</h1><p>Back soon.</p></main></body></html>"
)


async def test_a_maintenance_page_is_not_marked_seen_and_is_retried_after_a_backoff(
    merics_site: LoopbackServer, http_settings: HttpSettings, tmp_path: Path
) -> None:
    path = GRID.removeprefix("https://merics.org")
    merics_site.routes[path] = lambda req: Reply(200, {"Content-Type": "text/html"}, MAINTENANCE)
    found, state = await run(merics_source(merics_site), http_settings, SourceState(), tmp_path)
    assert [c.key for c in found] == [ROBOT]
    assert GRID not in state.seen
    pending = state.pending[GRID]
    assert "no series label" in pending.reason
    assert pending.next_at is not None  # backoff: not before the next attempt time
    del merics_site.routes[path]
    again, state = await run(merics_source(merics_site), http_settings, state, tmp_path)
    assert again == []  # still backing off
    assert GRID in state.pending
    deeper, state = await run(
        merics_source(merics_site), http_settings, state, tmp_path, since=date(2024, 1, 1)
    )
    assert GRID in [c.key for c in deeper]  # --since re-reads anything not processed
    assert GRID in state.seen


async def test_another_series_label_is_out_of_scope_for_good(
    merics_site: LoopbackServer, http_settings: HttpSettings, tmp_path: Path
) -> None:
    _, state = await run(merics_source(merics_site), http_settings, SourceState(), tmp_path)
    assert ESSENTIALS in state.seen  # carries "MERICS China Essentials": never tried again
    assert ESSENTIALS not in state.pending


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        (
            "https://www.merics.org/en/merics-briefs/a-b-c",
            "https://merics.org/en/merics-briefs/a-b-c",
        ),
        (
            "http://blog.merics.org/en/merics-briefs/a-b-c/",
            "https://merics.org/en/merics-briefs/a-b-c",
        ),
        ("https://new.merics.org/en/briefing/x-2020", "https://merics.org/en/briefing/x-2020"),
        (
            "https://jeans.merics.org/de/merics-briefs/a?utm=1#top",
            "https://merics.org/en/merics-briefs/a",
        ),
        ("/en/merics-briefs/rel", "https://merics.org/en/merics-briefs/rel"),
        ("https://merics.org/en/merics-briefs/", None),
        ("https://merics.org/en/report/a-report", None),
        ("https://evil.example/en/merics-briefs/a", None),
        ("https://merics.org.evil.example/en/merics-briefs/a", None),
    ],
)
def test_canonical_merics_url(link: str, expected: str | None) -> None:
    assert canonical_merics_url(link) == expected


def test_series_label_in_the_menu_does_not_count() -> None:
    page = (SITE / "merics/en/merics-briefs/party-plenum-trade-talks-local-debt.html").read_bytes()
    assert b"MERICS China Industries" in page  # only in the navigation menu
    assert not is_china_industries(page)


# -- folder source ---------------------------------------------------------------------------


def folder_source(path: str) -> SourceSettings:
    return SourceSettings(name="inbox", type="folder", path=path)


async def test_folder_source_new_and_changed_files(
    http_settings: HttpSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox = tmp_path / "inbox"
    (inbox / "2024").mkdir(parents=True)
    (inbox / "issue-oct.txt").write_text("MERICS China Industries\nOctober", "utf-8")
    (inbox / "2024" / "issue-nov.html").write_text("<h1>MERICS China Industries</h1>", "utf-8")
    (inbox / "issue-dec.pdf").write_bytes(b"%PDF-1.4 synthetic")
    (inbox / "notes.docx").write_bytes(b"ignored")
    (inbox / ".hidden.txt").write_text("ignored", "utf-8")
    source = folder_source("inbox")  # relative to the project root

    found, state = await run(source, http_settings, SourceState(), tmp_path)
    assert sorted(c.path.name for c in found if c.path) == [
        "issue-dec.pdf",
        "issue-nov.html",
        "issue-oct.txt",
    ]
    pdf = next(c for c in found if c.path and c.path.suffix == ".pdf")
    assert (pdf.content, pdf.content_type, pdf.url) == (
        b"%PDF-1.4 synthetic",
        "application/pdf",
        None,
    )
    assert pdf.key.startswith("sha256:")

    again, state = await run(source, http_settings, state, tmp_path)
    assert again == []

    (inbox / "issue-oct.txt").write_text("MERICS China Industries\nOctober, corrected", "utf-8")
    (inbox / "copy-of-nov.html").write_text("<h1>MERICS China Industries</h1>", "utf-8")
    changed, state = await run(source, http_settings, state, tmp_path)
    assert [c.path.name for c in changed if c.path] == ["issue-oct.txt"]

    # a file still being written (empty) waits; a broken one is skipped, not fatal to the others
    (inbox / "issue-jan.txt").write_bytes(b"")
    (inbox / "unreadable.txt").write_text("MERICS China Industries\nlocked", "utf-8")
    (inbox / "issue-feb.txt").write_text("MERICS China Industries\nFebruary", "utf-8")
    read_bytes = Path.read_bytes

    def deny(path: Path) -> bytes:
        if path.name == "unreadable.txt":
            raise PermissionError(13, "Permission denied", str(path))
        return read_bytes(path)

    monkeypatch.setattr(Path, "read_bytes", deny)
    later, state = await run(source, http_settings, state, tmp_path)
    assert [c.path.name for c in later if c.path] == ["issue-feb.txt"]
    assert state.consecutive_failures == 0
    (inbox / "issue-jan.txt").write_text("MERICS China Industries\nJanuary", "utf-8")
    monkeypatch.undo()
    later, state = await run(source, http_settings, state, tmp_path)
    assert [c.path.name for c in later if c.path] == ["issue-jan.txt", "unreadable.txt"]


async def test_missing_folder_is_a_recorded_failure(
    http_settings: HttpSettings, tmp_path: Path
) -> None:
    found, state = await run(folder_source("nowhere"), http_settings, SourceState(), tmp_path)
    assert found == []
    assert state.consecutive_failures == 1
    assert state.last_error
    assert "nowhere" in state.last_error


async def test_a_feed_that_is_not_rss_falls_back_and_keeps_no_etag(
    merics_site: LoopbackServer, http_settings: HttpSettings, tmp_path: Path
) -> None:
    merics_site.routes["/en/rss.xml"] = lambda req: Reply(
        200, {"Content-Type": "text/html", "ETag": '"maintenance"'}, b"<html>maintenance</html>"
    )
    found, state = await run(merics_source(merics_site), http_settings, SourceState(), tmp_path)
    assert [c.key for c in found] == [ROBOT, GRID, BRIEFING]
    assert state.etag is None
    assert merics_site.counts["/en/analysis"] >= 1


async def test_a_feed_cut_off_mid_xml_is_a_failure_not_a_shorter_list(
    merics_site: LoopbackServer, http_settings: HttpSettings, tmp_path: Path
) -> None:
    """A body that ends inside the XML (a proxy or CDN that stops mid-transfer but sent a
    matching Content-Length) is not read as a feed with fewer items: it falls back to the
    listing like any failed feed, and its ETag is not kept."""
    feed = (SITE / "merics" / "en" / "rss.xml").read_bytes()
    cut = feed[: feed.index(b"</item>") + len(b"</item>")]
    merics_site.routes["/en/rss.xml"] = lambda req: Reply(
        200, {"Content-Type": "application/rss+xml", "ETag": '"cut"'}, cut
    )
    source = merics_source(merics_site, listing_url=None)
    found, state = await run(source, http_settings, SourceState(), tmp_path)
    assert found == []
    assert state.consecutive_failures == 1
    assert state.last_error is not None
    assert "feed is cut off (Premature end of data in tag" in state.last_error
    assert state.etag is None
    found, state = await run(merics_source(merics_site), http_settings, SourceState(), tmp_path)
    assert [c.key for c in found] == [ROBOT, GRID, BRIEFING]  # the listing stands in
