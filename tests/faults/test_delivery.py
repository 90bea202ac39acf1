"""Faults on the way out: the SMTP server is down, slow, drops the connection or never answers;
a webhook answers 500, then 429 with Retry-After, then 200.

Each case: a run with the fault (the user sees one clear line, the run ends with the exit code
the README's table gives), the fault healed, a run again where needed; then the ledger: every
alert a clean run sends arrived, none twice (for the webhook, on that channel too).
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator

import pytest
import yaml

from policywatch.demo import SMTP_ENV, DemoWorld
from policywatch.devtools.loopback import LoopbackServer, Reply, Request
from policywatch.devtools.mailsink import SilentServer
from policywatch.settings import DeliverySettings

from .harness import FaultCase, Outcome

CHANNEL = "analyst-email"
NONE_DELIVERED = "failed: alerts were due and none was delivered"
HOOK = "team-hook"
HOOK_ENV = "POLICYWATCH_FAULTS_HOOK_URL"
HOOK_WATCHLIST = "ev-batteries"


def not_delivered(channel: str, undelivered: int, due: int) -> str:
    """The start of the problem line a run prints for a channel that missed alerts."""
    return f"- channel {channel}: {undelivered} of {due} due alert(s) not delivered"


class ScriptedHook:
    """A webhook on a loopback server: answers from a script (then 200), keeps what it took."""

    def __init__(self, script: list[Reply]) -> None:
        self.script = script
        self.accepted: list[str] = []
        self.answered: list[int] = []
        self.lock = threading.Lock()

    def __call__(self, request: Request) -> Reply:
        with self.lock:
            reply = self.script.pop(0) if self.script else Reply(200)
            self.answered.append(reply.status)
            if reply.status == 200:
                self.accepted.append(str(json.loads(request.body)["title"]))
        return reply


@pytest.fixture
def hook(world: DemoWorld) -> Iterator[LoopbackServer]:
    """A second channel, ``team-hook`` (json:// to a loopback server), routed from one
    watchlist next to its email."""
    path = world.config_dir / "channels.yaml"
    config = yaml.safe_load(path.read_text("utf-8"))
    config["channels"][HOOK] = {"url": "${" + HOOK_ENV + "}"}
    path.write_text(yaml.safe_dump(config, sort_keys=False), "utf-8")
    path = world.config_dir / "watchlists.yaml"
    config = yaml.safe_load(path.read_text("utf-8"))
    for watchlist in config["watchlists"]:
        if watchlist["name"] == HOOK_WATCHLIST:
            watchlist["channels"].append(HOOK)
    path.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), "utf-8")
    with LoopbackServer() as server:
        yield server


def test_delivery_faults_one_after_another_then_up(
    world: DemoWorld,
    hook: LoopbackServer,
    run: Callable[..., Outcome],
    env: dict[str, str],
    case: FaultCase,
    clean_alerts: Counter[str],
) -> None:
    """One world, two channels (the email sink and a webhook for one watchlist), a fault per
    run: SMTP down while the webhook answers 500 then 429; a black-holed SMTP server; SMTP
    back but dropping one message mid-DATA and acknowledging two others late; then all well.
    Each run prints its lines; in the end each inbox got each alert once."""
    due = sum(clean_alerts.values())
    expected_hook = Counter(
        {s: n for s, n in clean_alerts.items() if s.startswith(f"[{HOOK_WATCHLIST}]")}
    )  # what the hook must get: the watchlist's alerts, under the same subjects as the email
    hook_due = sum(expected_hook.values())
    assert hook_due >= 3
    script = ScriptedHook([Reply(500), Reply(429, {"Retry-After": "1"})])
    hook.routes["/hook"] = script
    env = {**env, HOOK_ENV: hook.url("/hook").replace("http://", "json://")}

    # SMTP refuses connections; the webhook answers 500, then 429 with Retry-After
    world.mail.stop()
    down = run(env_=env)
    assert down.code == 2, down.tail()  # alerts were due and none could be delivered
    assert len(down.lines(NONE_DELIVERED)) == 1, down.tail()
    assert len(down.lines(not_delivered(CHANNEL, due, due))) == 1, down.tail()
    line = down.lines(not_delivered(HOOK, hook_due, hook_due))
    assert len(line) == 1, down.tail()
    assert "the service asked to wait 1 s" in line[0], line[0]
    assert script.answered == [500, 429]  # the 429 paused the channel: the rest untried
    assert "Traceback" not in down.output
    assert world.messages() == []
    case.tried("smtp-down", down)
    case.tried("webhook-500-then-429", down)

    # a server that accepts TCP and never says a word: K connections (the breaker), not one
    # per alert; the webhook, past its Retry-After, takes its alerts
    world.mail.start()  # the same port again, for later
    breaker = DeliverySettings().breaker_failures
    with SilentServer() as black_hole:
        silent = run(env_={**env, SMTP_ENV: black_hole.url()})
        connections = black_hole.connections
    assert silent.code == 1, silent.tail()  # the webhook delivered: completed with problems
    assert connections <= breaker
    line = silent.lines(not_delivered(CHANNEL, due, due))
    assert len(line) == 1, silent.tail()
    assert f"circuit breaker: {breaker} connection failures in a row" in line[0]
    assert f"{due - breaker} deferred" in line[0]
    assert script.answered == [500, 429] + [200] * hook_due
    assert "Traceback" not in silent.output
    case.tried("black-holed-smtp", silent)

    # SMTP back: one message dropped mid-DATA (retried next run), two acknowledged 2 s late
    # (longer than the 0.5 s connect timeout, inside the data timeout: sent once, not retried)
    world.mail.drop_next(1)
    world.mail.slow_ack(2.0, count=2)
    dropped = run(env_=env)
    assert dropped.code == 1, dropped.tail()  # a partial delivery: completed with problems
    line = dropped.lines(not_delivered(CHANNEL, 1, due))
    assert len(line) == 1, dropped.tail()
    assert "1 retrying" in line[0]
    assert len(world.messages()) == due - 1
    assert "Traceback" not in dropped.output
    case.tried("smtp-drop-mid-data", dropped)
    case.tried("smtp-slow-250-after-data", dropped)

    again = run(env_=env)
    assert again.code == 0, again.tail()
    assert case.settle(world.messages(), clean_alerts) == (0, 0)
    got = Counter(script.accepted)
    assert (sum((expected_hook - got).values()), sum((got - expected_hook).values())) == (0, 0)
    assert len(script.answered) == 2 + hook_due  # nothing sent to the hook twice
