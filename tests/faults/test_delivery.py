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


def test_smtp_down_then_up(
    world: DemoWorld, run: Callable[..., Outcome], case: FaultCase, clean_alerts: Counter[str]
) -> None:
    due = sum(clean_alerts.values())
    world.mail.stop()  # connection refused
    down = run()
    assert down.code == 2, down.tail()  # alerts were due and none could be delivered
    assert len(down.lines(NONE_DELIVERED)) == 1, down.tail()
    assert len(down.lines(not_delivered(CHANNEL, due, due))) == 1, down.tail()
    assert "Traceback" not in down.output
    assert world.messages() == []
    world.mail.start()  # the same port again
    up = run()
    assert up.code == 0, up.tail()
    assert case.settle(world.messages(), clean_alerts) == (0, 0)


def test_slow_250_after_data_is_waited_for(
    world: DemoWorld, run: Callable[..., Outcome], case: FaultCase, clean_alerts: Counter[str]
) -> None:
    """The sink stores the message at once and says 250 two seconds later: longer than the
    connect timeout (0.5 s), well inside the data timeout, so it is sent once, not retried."""
    world.mail.slow_ack(2.0, count=2)
    slow = run()
    assert slow.code == 0, slow.tail()
    due = sum(clean_alerts.values())
    sent = f"delivery {CHANNEL} │ {due} enqueued, {due} message(s) sent ({due} item(s))"
    assert len(slow.lines(sent)) == 1, slow.tail()
    assert case.settle(world.messages(), clean_alerts) == (0, 0)


def test_smtp_dropping_mid_data_is_retried_and_delivered_once(
    world: DemoWorld, run: Callable[..., Outcome], case: FaultCase, clean_alerts: Counter[str]
) -> None:
    due = sum(clean_alerts.values())
    world.mail.drop_next(1)  # the data sent, the connection closed, nothing stored
    dropped = run()
    assert dropped.code == 1, dropped.tail()  # a partial delivery: completed with problems
    line = dropped.lines(not_delivered(CHANNEL, 1, due))
    assert len(line) == 1, dropped.tail()
    assert "1 retrying" in line[0]
    assert len(world.messages()) == due - 1
    again = run()
    assert again.code == 0, again.tail()
    assert case.settle(world.messages(), clean_alerts) == (0, 0)


def test_black_holed_smtp_trips_the_breaker(
    world: DemoWorld,
    run: Callable[..., Outcome],
    env: dict[str, str],
    case: FaultCase,
    clean_alerts: Counter[str],
) -> None:
    """A server that accepts TCP and never says a word: K connections (the breaker), not one
    per alert; the rest waits untried and goes out once the server is back."""
    due = sum(clean_alerts.values())
    breaker = DeliverySettings().breaker_failures
    with SilentServer() as hole:
        silent = run(env_={**env, SMTP_ENV: hole.url()})
        connections = hole.connections
    assert silent.code == 2, silent.tail()
    assert connections <= breaker
    line = silent.lines(not_delivered(CHANNEL, due, due))
    assert len(line) == 1, silent.tail()
    assert f"circuit breaker: {breaker} connection failures in a row" in line[0]
    assert f"{due - breaker} deferred" in line[0]
    healed = run()  # the channel points at the sink again
    assert healed.code == 0, healed.tail()
    assert case.settle(world.messages(), clean_alerts) == (0, 0)


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


def test_webhook_500_then_429_then_200(
    world: DemoWorld,
    hook: LoopbackServer,
    run: Callable[..., Outcome],
    env: dict[str, str],
    case: FaultCase,
    clean_alerts: Counter[str],
) -> None:
    script = ScriptedHook([Reply(500), Reply(429, {"Retry-After": "1"})])
    hook.routes["/hook"] = script
    env = {**env, HOOK_ENV: hook.url("/hook").replace("http://", "json://")}
    # What the hook must get: the watchlist's alerts, under the same subjects as the email.
    expected = Counter(
        {s: n for s, n in clean_alerts.items() if s.startswith(f"[{HOOK_WATCHLIST}]")}
    )
    due = sum(expected.values())
    assert due >= 3

    first = run(env_=env)
    assert first.code == 1, first.tail()  # the email went out: completed with problems
    line = first.lines(not_delivered(HOOK, due, due))
    assert len(line) == 1, first.tail()
    assert "the service asked to wait 1 s" in line[0], line[0]
    assert script.answered == [500, 429]  # the 429 paused the channel: the rest untried
    second = run(env_=env)  # seconds later: past the Retry-After
    assert second.code == 0, second.tail()
    assert script.answered == [500, 429] + [200] * due

    assert case.settle(world.messages(), clean_alerts) == (0, 0)
    got = Counter(script.accepted)
    assert (sum((expected - got).values()), sum((got - expected).values())) == (0, 0)
