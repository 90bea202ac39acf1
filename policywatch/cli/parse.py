"""``policywatch parse``: one issue (or ministry notice) from a file or URL, as JSON or a table."""

from __future__ import annotations

import json
import re
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from urllib.parse import urlsplit

import typer
from rich.table import Table

from parsers.errors import ParseError
from policywatch.cli._app import app, console, get_config

if TYPE_CHECKING:  # the parsers (bs4, lxml, pydantic) load when a command parses, not for --help
    from parsers.bodies import BodyIndex
    from parsers.records import Issue, Notice

__all__ = ["emit_issue", "issue_json", "issue_table", "notice_table", "parse"]


class Format(StrEnum):
    json = "json"
    table = "table"


def issue_json(issue: Issue) -> str:
    """The DESIGN 3.1 contract as text (UTF-8, Chinese kept as is)."""
    return json.dumps(issue.model_dump(mode="json"), ensure_ascii=False, indent=2)


def issue_table(issue: Issue) -> Table:
    """A readable overview: one row per item, policy titles and bodies for top stories."""
    meta = issue.issue
    period = f"{meta.period.start} – {meta.period.end}" if meta.period else "?"
    table = Table(
        title=f"{meta.series} {meta.published or ''} (reporting period {period})",
        caption=f"{len(issue.items)} items · authors: {', '.join(meta.authors) or '-'}",
        show_lines=True,
    )
    for name in ("#", "section", "date", "headline", "policy / bodies", "links"):
        table.add_column(name, overflow="fold")
    for item in issue.items:
        policy = ""
        if item.policy:
            titles = [t for t in (item.policy.title_en, item.policy.title_zh) if t]
            policy = "\n".join([*titles, ", ".join(item.policy.issuing_bodies)])
        table.add_row(
            str(item.position),
            item.section,
            str(item.date or ""),
            item.headline,
            policy,
            "\n".join(link.url for link in item.links),
        )
    return table


def emit_issue(issue: Issue, fmt: str) -> str | Table:
    """What ``parse`` prints for ``fmt`` ("json" or "table"); reusable by other commands."""
    if fmt == "json":
        return issue_json(issue)
    if fmt == "table":
        return issue_table(issue)
    raise ValueError(f"unknown format {fmt!r} (expected json or table)")


def _is_url(target: str) -> bool:
    return urlsplit(target).scheme in ("http", "https")


def _is_merics(target: str) -> bool:
    host = (urlsplit(target).hostname or "").lower()
    return host == "merics.org" or host.endswith(".merics.org")


# The ministries' CMS meta tags, and gov.cn's own markers: its policy-library pages carry
# none of those tags but a manuscriptId meta tag, the 发文机关 table and #UCAP-CONTENT.
_GOV_PAGE = re.compile(
    rb"<meta[^>]+name=[\"'](?:SiteIDCode|SiteDomain|ArticleTitle|ContentSource|manuscriptId)[\"']"
    rb"|<(?:div|td)[^>]+id=[\"']UCAP-CONTENT[\"']|<table[^>]+class=[\"'][^\"']*\bbd1\b",
    re.I,
)


def _is_notice(target: str, source: str, data: bytes) -> bool:
    """A ministry notice: a government host, or (for files and other hosts such as a local
    mirror) a page carrying the ministries' CMS meta tags. merics.org is always an issue."""
    if _is_url(target):
        host = (urlsplit(source).hostname or "").lower()
        if _is_merics(source):
            return False
        if host == "gov.cn" or host.endswith(".gov.cn"):
            return True
    return bool(_GOV_PAGE.search(data[:16384]))


def _read(target: str) -> tuple[bytes, str, str | None]:
    """(content, source name, content type) from a path or a URL."""
    if _is_url(target):
        from policywatch.http import fetch_url

        result = fetch_url(target, get_config().app.http)
        return result.content, str(result.url), result.content_type
    if target == "-":
        return sys.stdin.buffer.read(), "<stdin>", None
    path = Path(target)
    if path.is_dir():
        raise ParseError(target, "expected a file or an http(s) URL, this is a directory")
    if not path.is_file():
        raise ParseError(target, "expected a file or an http(s) URL, no such file")
    try:
        return path.read_bytes(), target, None
    except OSError as exc:
        raise ParseError(target, f"expected a readable file ({exc.strerror})") from None


def _kind(content_type: str | None) -> str | None:
    ctype = (content_type or "").lower()
    if "pdf" in ctype:
        return "pdf"
    if "html" in ctype:
        return "html"
    return None


def _notice(data: bytes, url: str, site: str | None, bodies: BodyIndex) -> Notice:
    """The notice on the page; a page that does not fit the ``--site`` asked for is an error."""
    from parsers.notices import parse_notice

    notice: Notice = parse_notice(data, url, site=site, bodies=bodies)
    if site and notice.status == "error":
        reason = _reason(notice)
        raise ParseError(
            url, f"the page does not match the {site} layout ({reason}); try without --site"
        )
    return notice


def _reason(notice: Notice) -> str:
    """The parser's reason in a few words: "no body found" (no site prefix, no advice)."""
    reason = (notice.error or "").removeprefix(f"{notice.site}: ").split(";")[0]
    return " ".join(reason.split()) or "unreadable page"


_BODY_LINES = 6  # a table shows the start of a notice; the JSON holds all of it


def notice_table(notice: Notice) -> Table:
    """A notice as two columns (field, value), the body cut to its first lines."""
    table = Table(title=notice.title or notice.url, show_header=False, show_lines=True)
    table.add_column("field", style="bold", no_wrap=True)
    table.add_column("value", overflow="fold")
    bodies = ", ".join(notice.issuing_bodies) or notice.issuing_body or ""
    files = "\n".join(f"{a.name}  {a.url}" for a in notice.attachments)
    rows = {
        "url": notice.url,
        "site / status": f"{notice.site} / {notice.status}",
        "issuing bodies": bodies,
        "文号": notice.doc_number or "",
        "published": str(notice.published or ""),
        "attachments": files,
        "body": "\n".join(notice.body_text.splitlines()[:_BODY_LINES]),
        "error": notice.error or "",
    }
    for name, value in rows.items():
        if value:
            table.add_row(name, value)
    return table


@app.command("parse")
def parse(
    target: Annotated[
        str,
        typer.Argument(metavar="PATH_OR_URL", help="An issue or notice; - reads standard input."),
    ],
    fmt: Annotated[
        Format, typer.Option("--format", "-f", help="json (the contract) or table.")
    ] = Format.json,
    site: Annotated[
        str | None,
        typer.Option("--site", help="Parse as a ministry notice of this site (e.g. miit)."),
    ] = None,
) -> None:
    """Parse a MERICS China Industries issue (HTML, PDF or text) or a ministry notice."""
    if site is not None:
        from parsers.notices import PARSERS

        if site not in PARSERS:
            known = ", ".join(sorted(PARSERS))
            raise typer.BadParameter(f"unknown site {site!r}; known: {known}", param_hint="--site")
    bodies = get_config().bodies
    data, source, content_type = _read(target)
    if site or _is_notice(target, source, data):
        notice = _notice(data, source, site, bodies)
        if fmt == Format.table:
            console.print(notice_table(notice))
        else:
            typer.echo(json.dumps(notice.model_dump(mode="json"), ensure_ascii=False, indent=2))
        return
    from parsers.documents import load_document
    from parsers.merics import parse_issue

    doc = load_document(data, source, kind=_kind(content_type))
    issue = parse_issue(doc, bodies, url=source if _is_url(source) else None)
    from policywatch.match import tag_issue  # sectors/companies of the DESIGN 3.1 contract
    from policywatch.taxonomy import load_taxonomy

    issue = tag_issue(issue, load_taxonomy(get_config()))
    out = emit_issue(issue, fmt.value)
    if isinstance(out, str):
        typer.echo(out)
    else:
        console.print(out)
