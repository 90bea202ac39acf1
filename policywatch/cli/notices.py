"""``policywatch parsers``: the registered ministry notice parsers, one line each."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from policywatch.cli._app import app

if TYPE_CHECKING:
    from parsers.notices import NoticeParser


def parser_line(parser: NoticeParser, width: int) -> str:
    """``name  description  [hosts]``: one unwrapped line, easy to grep."""
    hosts = ", ".join(f"*{h}" if h.startswith(".") else h for h in parser.hosts)
    return f"{parser.name:<{width}}  {parser.description}  [{hosts or 'any other host'}]"


@app.command("parsers")
def parsers() -> None:
    """List the ministry notice parsers (chosen by the notice URL's host), one line each."""
    from parsers.notices import PARSERS

    width = max(map(len, PARSERS))
    ordered = sorted(PARSERS.values(), key=lambda p: (p.name == "generic", p.name))
    for parser in ordered:
        typer.echo(parser_line(parser, width))
