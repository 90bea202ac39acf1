"""The offline demo: the synthetic site on loopback, an SMTP sink, three runs of check-updates.

``policywatch demo`` keeps everything in ``var/demo/`` of the project folder (config, site,
``state.db`` and the e-mails as ``mail/*.eml``), wiped at the start of each demo so a second
demo tells the same story; ``DEMO_MARKER`` keeps the wipe from touching any other folder.

``DemoWorld`` builds a workspace (config = the project's ``config/`` overlaid with
``samples/config/``; a copy of ``samples/site/``; SQLite state in a temp folder), serves the site
on 127.0.0.1 and maps merics.org and the ministry hosts to it (``transport.HOST_MAP_ENV``), and
collects the alerts in a loopback SMTP sink. Tests use the same world. The flow itself is passed
in as a callable: this module does not import Prefect (imports go flows -> policywatch).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from policywatch.devtools.loopback import LoopbackServer
from policywatch.devtools.mailsink import MailSink
from policywatch.errors import PolicywatchError
from policywatch.settings import PACKAGE_ROOT, Config
from policywatch.transport import HOST_MAP_ENV

SAMPLES = PACKAGE_ROOT / "samples"
SMTP_ENV = "POLICYWATCH_DEMO_SMTP_URL"
DEMO_MARKER = ".policywatch-demo"
Runner = Callable[..., dict[str, Any]]  # runner(alert_existing=...) -> the run's summary


@dataclass
class DemoWorld:
    """A running demo: site server, mail sink, and the environment that points policywatch at them."""

    root: Path
    site: LoopbackServer
    mail: MailSink
    env: dict[str, str] = field(default_factory=dict)

    @property
    def config_dir(self) -> Path:
        return self.root / "config"

    @property
    def state_path(self) -> Path:
        return self.root / "state.db"

    def add_update(self) -> list[Path]:
        """Publish the fourth issue (and its notices and the new feed) on the site."""
        return _copy_tree(SAMPLES / "update", self.root / "site")

    def messages(self) -> list[EmailMessage]:
        return self.mail.messages

    def save_mail(self, prefix: str) -> list[Path]:
        """The e-mails received so far, as ``mail/<prefix>-NN.eml`` (open them in a mail client)."""
        folder = self.root / "mail"
        folder.mkdir(exist_ok=True)
        saved = []
        for n, message in enumerate(self.messages(), 1):
            path = folder / f"{prefix}-{n:02d}.eml"
            path.write_bytes(bytes(message))
            saved.append(path)
        return saved


def fresh_demo_dir(root: Path) -> Path:
    """Empty ``root`` for a new demo: only a folder an earlier demo made (or an empty one) is
    wiped, never anything else."""
    if root.exists() and any(root.iterdir()):
        if not (root / DEMO_MARKER).is_file():
            raise PolicywatchError(
                f"{root} is not empty and was not made by `policywatch demo`; not wiping it",
                hint="remove it yourself, or run the demo with --dir pointing elsewhere",
            )
        shutil.rmtree(root)
    root.mkdir(parents=True, exist_ok=True)
    (root / DEMO_MARKER).write_text("made by policywatch demo; wiped by the next one\n")
    return root


def _copy_tree(src: Path, dst: Path) -> list[Path]:
    copied = []
    for path in sorted(src.rglob("*")):
        if path.is_file():
            target = dst / path.relative_to(src)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
            copied.append(target)
    return copied


def build_workspace(root: Path) -> None:
    """config/ = project config + samples/config overlay; site/ = a copy of samples/site."""
    shutil.copytree(PACKAGE_ROOT / "config", root / "config", dirs_exist_ok=True)
    _copy_tree(SAMPLES / "config", root / "config")
    _copy_tree(SAMPLES / "site", root / "site")


@contextmanager
def demo_world(root: Path | None = None, *, set_env: bool = True) -> Iterator[DemoWorld]:
    """Start the demo's servers; with ``set_env`` the process env points policywatch at them."""
    tmp = None if root is not None else tempfile.TemporaryDirectory(prefix="policywatch-demo-")
    base = Path(tmp.name) if tmp is not None else Path(root or ".")
    build_workspace(base)
    saved = {k: os.environ.get(k) for k in _ENV_KEYS}
    try:
        with LoopbackServer(base / "site") as site, MailSink() as mail:
            world = DemoWorld(base, site, mail)
            world.env = {
                "POLICYWATCH_CONFIG_DIR": str(world.config_dir),
                "POLICYWATCH_STATE_URL": f"sqlite:///{world.state_path}",
                HOST_MAP_ENV: site.base,
                SMTP_ENV: mail.url(to="analyst@example.org", sender="alerts@example.org"),
            }
            if set_env:
                os.environ.update(world.env)
            yield world
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        if tmp is not None:
            tmp.cleanup()


_ENV_KEYS = ("POLICYWATCH_CONFIG_DIR", "POLICYWATCH_STATE_URL", HOST_MAP_ENV, SMTP_ENV)


# -- printing ---------------------------------------------------------------------------------------


def first_lines(message: EmailMessage) -> list[str]:
    """The issue line and the first reason of the plain-text part (what an analyst reads first)."""
    part = message.get_body(preferencelist=("plain",)) if message.is_multipart() else message
    text = part.get_content() if part is not None else ""
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    issue = lines[3:4]  # subject, watchlist, headline, then the issue line
    why = [lines[i + 1] for i, line in enumerate(lines[:-1]) if line == "Why it matched:"][:1]
    return issue + why


def print_alerts(console: Console, messages: list[EmailMessage]) -> None:
    if not messages:
        console.print("  [dim]no alert e-mail arrived[/]")
        return
    for msg in messages:
        console.print(f"  [bold]✉ {escape(str(msg['Subject']))}[/]")
        for line in first_lines(msg):
            console.print(f"      {line}", highlight=False, markup=False)


def summary_table(summary: dict[str, Any], title: str) -> Table:
    """A rich table of the run: issues, items, notices by status, matches per watchlist,
    delivery per channel."""
    table = Table(title=title, show_lines=False)
    table.add_column("what")
    table.add_column("result", overflow="fold")
    issues: dict[str, int] = {}
    for issue in summary.get("issues", []):
        issues[issue["status"]] = issues.get(issue["status"], 0) + 1
    notices: dict[str, int] = {}
    for notice in summary.get("notices", []):
        notices[notice["status"]] = notices.get(notice["status"], 0) + 1
    table.add_row("sources", ", ".join(_source(s) for s in summary.get("sources", [])) or "-")
    table.add_row("issues", _fmt(issues))
    table.add_row("new/revised items", str(len(summary.get("items", []))))
    table.add_row("notices", _fmt(notices))
    table.add_row("matches", str(len(summary.get("matches", []))))
    matched: dict[str, int] = {}
    for match in summary.get("matches", []):
        matched[match["watchlist"]] = matched.get(match["watchlist"], 0) + 1
    for name, n in sorted(matched.items()):
        table.add_row(f"alerts {name}", f"{n} match(es)")
    delivery = summary.get("delivery", {})
    for name in sorted({*summary.get("enqueued", {}), *delivery}):
        table.add_row(
            f"delivery {name}", _delivered(summary["enqueued"].get(name, 0), delivery.get(name))
        )
    for error in summary.get("delivery_errors", []):
        table.add_row("delivery problem", str(error))
    return table


def _delivered(enqueued: int, c: dict[str, Any] | None) -> str:
    """One channel's delivery in the units it saw: messages, and the items they carried."""
    if c is None:
        return f"{enqueued} enqueued, not delivered in this run"
    waiting = c["disabled"] + c["deferred"] + c["retrying"]
    return (
        f"{enqueued} enqueued, {c['sent']} message(s) sent ({c['items']} item(s)), "
        f"{c['skipped']} skipped (already delivered), {waiting} waiting, {c['failed']} failed"
    )


def _source(s: dict[str, Any]) -> str:
    return f"{s['name']} ({s['candidates']} candidates)" if s["ok"] else f"{s['name']} FAILED"


def _fmt(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "none"


def demo_dir() -> Path:
    """``var/demo`` of the project folder (the one that holds the config folder in use)."""
    return Config().root / "var" / "demo"


def run_demo(runner: Runner, console: Console, root: Path | None = None) -> dict[str, int]:
    """The three acts in ``root`` (default ``demo_dir()``, wiped first): first run, nothing
    new, a fourth issue."""
    root = (root or demo_dir()).resolve()
    with demo_world(fresh_demo_dir(root)) as world:
        console.rule("[bold]policywatch demo[/]: synthetic MERICS site on " + world.site.base)
        console.print(f"state, e-mails and the demo's config and site go to {root}")
        counts: dict[str, int] = {}
        for act, title in enumerate(
            (
                "1. first run: three issues and MIIT's notices, with --alert-existing",
                "2. second run: nothing new",
                "3. a fourth issue, whose first story comments on the MIIT notice of run 1",
            ),
            1,
        ):
            if act == 3:
                world.add_update()
            world.mail.clear()
            console.rule(title)
            if act == 1:
                console.print(
                    "  (the demo's issues are older than 14 days: without --alert-existing a "
                    "first run records them as a baseline and alerts nothing)",
                    highlight=False,
                )
            summary = runner(alert_existing=act == 1)
            print_alerts(console, world.messages())
            console.print(summary_table(summary, f"run {act} summary"))
            counts[f"run{act}"] = len(world.save_mail(f"run{act}"))
        console.print(
            f"[bold green]done[/]: {counts['run1']} alert(s), then {counts['run2']} re-sent, "
            f"then {counts['run3']} for the new issue."
        )
        console.print(
            f"kept in {root}: state.db (the state), mail/*.eml ({sum(counts.values())} e-mails), "
            "config/ and site/; the next demo starts afresh",
            highlight=False,
        )
        return counts
