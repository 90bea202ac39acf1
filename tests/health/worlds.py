"""The demo world bent into the faults the health tests need: a second source, an ops channel,
a feed that answers 500, pages whose layout changed."""

from __future__ import annotations

from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import yaml

from policywatch.demo import DemoWorld

FEED = "/merics.org/en/rss.xml"
AI_ISSUE = (
    "merics.org/en/merics-briefs/ai-plus-manufacturing-hydrogen-pipelines-data-exchanges.html"
)
MIIT = "www.miit.gov.cn/zwgk/zcwj/wjfb/tz/art/2026"
OPS = "[policywatch ops]"
NO_LAYOUT = "<html><head><title>工业和信息化部</title></head><body><div>首页</div></body></html>"


def append_config(world: DemoWorld, text: str) -> None:
    path = world.config_dir / "policywatch.yaml"
    path.write_text(path.read_text("utf-8") + "\n" + text, "utf-8")


def merics_only(world: DemoWorld) -> None:
    """The demo's MIIT column list switched off: the source counts below are the MERICS feed's."""
    path = world.config_dir / "policywatch.yaml"
    text = path.read_text("utf-8")
    assert "    site: miit\n" in text
    path.write_text(text.replace("    site: miit\n", "    site: miit\n    enabled: false\n", 1))


def add_folder_source(world: DemoWorld, name: str = "saved") -> Path:
    """A second source that always works (an empty folder of saved issues)."""
    folder = world.root / name
    folder.mkdir(exist_ok=True)
    path = world.config_dir / "policywatch.yaml"
    text = path.read_text("utf-8").replace(
        "\nschedule:", f"\n  - name: {name}\n    type: folder\n    path: {folder}\n\nschedule:", 1
    )
    path.write_text(text, "utf-8")
    return folder


def edit_config(world: DemoWorld, change: Callable[[dict[str, Any]], None]) -> None:
    """Apply ``change`` to the demo's ``policywatch.yaml`` as parsed, and write it back."""
    path = world.config_dir / "policywatch.yaml"
    config = yaml.safe_load(path.read_text("utf-8"))
    change(config)
    path.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), "utf-8")


def drop_source(world: DemoWorld, name: str) -> None:
    """Take the source ``name`` out of the config again (its state stays)."""

    def drop(config: dict[str, Any]) -> None:
        config["sources"] = [s for s in config["sources"] if s["name"] != name]

    edit_config(world, drop)


def add_ops_channel(world: DemoWorld) -> None:
    """The ``ops`` channel, to the same SMTP sink (its mails are told apart by subject)."""
    path = world.config_dir / "channels.yaml"
    ops = "  ops:\n    url: ${POLICYWATCH_DEMO_SMTP_URL}\n"
    path.write_text(path.read_text("utf-8").rstrip("\n") + "\n" + ops, "utf-8")


def fail_feed(world: DemoWorld, status: int = 500) -> None:
    world.site.routes[FEED] = lambda request: (status, {"Content-Type": "text/plain"}, b"down")


def heal_feed(world: DemoWorld) -> None:
    world.site.routes.pop(FEED, None)


def break_issue(world: DemoWorld) -> tuple[Path, bytes]:
    """The AI issue's page keeps its series label but loses every story (a layout change)."""
    page = world.root / "site" / AI_ISSUE
    good = page.read_bytes()
    page.write_text(
        "<html><body><main><div>MERICS China Industries</div><h1>AI+ manufacturing</h1>"
        "<p>Read the full briefing in the new reader.</p></main></body></html>",
        encoding="utf-8",
    )
    return page, good


def break_miit_notices(world: DemoWorld) -> dict[Path, bytes]:
    """Both MIIT notice pages answer with no title and no body the parser can find."""
    saved = {}
    for page in sorted((world.root / "site" / MIIT).glob("*.html")):
        saved[page] = page.read_bytes()
        page.write_text(NO_LAYOUT, encoding="utf-8")
    return saved


def subject(message: EmailMessage) -> str:
    return str(message["Subject"]).strip()  # a long subject is folded after "Subject:"


def ops_mails(world: DemoWorld) -> list[EmailMessage]:
    return [m for m in world.messages() if subject(m).startswith(OPS)]


def ops_subjects(world: DemoWorld) -> list[str]:
    return [subject(m) for m in ops_mails(world)]
