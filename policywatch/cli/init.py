"""``policywatch init [DIR]``: a commented starter config for a new project, and what to run next.

Three files in ``DIR/config/``: the MERICS source, one e-mail channel (its URL from an
environment variable, never written down) and one watchlist. The taxonomy (bodies, sectors,
companies) is not copied: a config folder without it uses the shipped files, so it stays up to
date with policywatch. Existing files are never overwritten.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from policywatch.cli._app import app, console, fail
from policywatch.errors import ConfigError

POLICYWATCH_YAML = """\
# policywatch settings. Every key is optional: the defaults are in policywatch/settings.py.
# Unknown keys are rejected. Check this folder with `policywatch check-config`.

# Where policywatch remembers what it has seen and what it has sent. A relative SQLite path is
# under the project folder (the folder that holds this config folder), wherever you run from.
# POLICYWATCH_STATE_URL overrides it; for several machines use PostgreSQL:
#   postgresql+psycopg://policywatch@db.internal/policywatch
state_url: sqlite:///var/state.db

http:
  # Identify yourself to the sites you read: put a contact URL or e-mail address here.
  user_agent: "policywatch/0.1 (+mailto:you@example.org; policy alerts)"

sources:
  # The MERICS China Industries newsletter: its RSS feed, and its listing when the feed fails.
  - name: merics
    type: merics
    feed_url: https://merics.org/en/rss.xml

schedule:
  cron: "0 */6 * * *"          # check-updates every 6 hours (policywatch serve, prefect deploy)
  timezone: UTC
"""

CHANNELS_YAML = """\
# Named delivery channels; watchlists (watchlists.yaml) send to these names.
# Never write a password here: the URL comes from an environment variable of the process that
# delivers, for example
#   export POLICYWATCH_SMTP_URL='mailtos://USER:PASS@smtp.example.org?to=you@example.org&from=policywatch@example.org'
# Other services (Slack, Teams, webhooks, ...) take any apprise URL: see the README, Alerts.
channels:
  analyst-email:
    url: ${POLICYWATCH_SMTP_URL}
    tags: [email]
"""

WATCHLISTS_YAML = """\
# Watchlists: who hears about which items of the newsletter (and the notices they cite).
# An item matches when ANY listed facet matches (sectors OR companies OR bodies OR keywords).
#   sectors    ids from the shipped sectors.yaml (copy it here to change it)
#   companies  any name or alias from companies.yaml (BYD = 比亚迪)
#   bodies     issuing bodies from bodies.yaml (MIIT = 工信部)
#   keywords   English whole words, case-insensitive; Chinese as substrings
#   channels   names from channels.yaml
#   mode       instant (one message per item) or digest (one message per run)
# `policywatch match ISSUE` shows what fires and why. For completion in your editor:
# `policywatch schema -o config/watchlists.schema.json`, then a first line
# `# yaml-language-server: $schema=watchlists.schema.json`.
watchlists:
  - name: batteries
    description: Batteries and electric vehicles, by sector, company or term
    sectors: [batteries]
    companies: [CATL, BYD]
    keywords: [solid-state, 固态电池]
    channels: [analyst-email]
    mode: instant
"""

FILES = {
    "policywatch.yaml": POLICYWATCH_YAML,
    "channels.yaml": CHANNELS_YAML,
    "watchlists.yaml": WATCHLISTS_YAML,
}


def write_starter(project: Path) -> list[Path]:
    """Write the starter files under ``project/config``; refuses if any of them exists."""
    config = project / "config"
    targets = [config / name for name in FILES]
    existing = [str(p) for p in targets if p.exists()]
    if existing:
        raise ConfigError(
            f"not overwriting existing config: {', '.join(existing)}",
            hint="choose an empty folder (policywatch init DIR), or edit the files you have",
        )
    config.mkdir(parents=True, exist_ok=True)
    for path, text in zip(targets, FILES.values(), strict=True):
        path.write_text(text, encoding="utf-8")
    return targets


def next_steps(project: Path) -> str:
    here = project.resolve() == Path.cwd().resolve()
    cd = "" if here else f"  cd {project}\n"
    return (
        "next:\n" + cd
        + "  export POLICYWATCH_SMTP_URL='mailtos://USER:PASS@smtp.example.org"
        "?to=you@example.org&from=policywatch@example.org'\n"
        "  policywatch check-config           # every file checked; problems as file:line\n"
        "  policywatch test-alert batteries   # a sample e-mail through the channel\n"
        "  policywatch run --dry-run          # fetch, parse and match: nothing recorded or sent\n"
        "  policywatch run                    # record and alert; then `policywatch serve` for a "
        "schedule and the Prefect UI"
    )  # fmt: skip


@app.command("init")
def init(
    directory: Annotated[
        Path, typer.Argument(metavar="[DIR]", help="Project folder (default: here).")
    ] = Path("."),
) -> None:
    """Write a commented starter config (MERICS source, one e-mail channel, one watchlist)."""
    try:
        written = write_starter(directory)
    except ConfigError as exc:
        raise fail(exc) from None
    for path in written:
        console.print(f"wrote {path}", markup=False, highlight=False, soft_wrap=True)
    console.print(
        "bodies, sectors and companies: the shipped files are used (copy them into config/ to "
        "change them)",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    console.print(next_steps(directory), markup=False, highlight=False, soft_wrap=True)
