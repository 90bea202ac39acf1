"""Delivery benchmark: the real ``policywatch run`` sending every alert of a backfill by e-mail.

A synthetic site (``policywatch.devtools.sitegen``, no latency) is served on 127.0.0.1 under the
real host names (``POLICYWATCH_HOST_MAP``); two watchlists match every story, one routed to an
instant e-mail channel (one message per item), one to a digest channel (one message for the
run); both channels deliver to a real SMTP server on loopback (``policywatch.devtools.mailsink``,
aiosmtpd). ``policywatch run --alert-existing`` (Prefect's ephemeral API) backfills the site and
delivers. Figures, read from the run's summary in the state database: alerts enqueued, messages
the server received, the delivery's SQL statements per alert (goal: at most 2) and its time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.goals import Goals  # noqa: E402
from policywatch.devtools.loopback import LoopbackServer  # noqa: E402
from policywatch.devtools.mailsink import MailSink  # noqa: E402
from policywatch.devtools.sitegen import write_site  # noqa: E402

CLI = str(Path(sys.executable).with_name("policywatch"))
TOPICS = [
    "power batteries", "industrial robots", "rare earths", "data exchanges",
    "hydrogen pipelines", "semiconductor equipment", "shipbuilding", "solar glass",
]  # fmt: skip


def make_config(work: Path) -> Path:
    config = work / "config"
    shutil.copytree(REPO / "config", config)
    (config / "policywatch.yaml").write_text(
        "state_url: sqlite:///var/state.db\n"
        "http:\n"
        "  per_host_concurrency: 4\n"
        "  per_host_interval: 0\n"
        "sources:\n"
        "  - name: merics\n"
        "    type: merics\n"
        "    feed_url: https://merics.org/en/rss.xml\n"
        "    listing_url: null\n",
        encoding="utf-8",
    )
    (config / "channels.yaml").write_text(
        "channels:\n"
        "  instant-mail:\n"
        "    url: ${BENCH_SMTP_URL}\n"
        "  digest-mail:\n"
        "    url: ${BENCH_SMTP_URL}\n",
        encoding="utf-8",
    )
    terms = json.dumps(TOPICS)
    (config / "watchlists.yaml").write_text(
        "watchlists:\n"
        f"  - {{name: every-story, keywords: {terms}, channels: [instant-mail], mode: instant}}\n"
        f"  - {{name: weekly, keywords: {terms}, channels: [digest-mail], mode: digest}}\n",
        encoding="utf-8",
    )
    return config


def last_run(state: Path) -> dict[str, Any]:
    with sqlite3.connect(state) as db:
        row = db.execute("SELECT summary FROM runs ORDER BY started_at DESC LIMIT 1").fetchone()
    summary: dict[str, Any] = json.loads(row[0]) if row and row[0] else {}
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--issues", type=int, default=20)
    args = parser.parse_args()
    goals = Goals("delivery")
    with tempfile.TemporaryDirectory(prefix="pw-delivery-") as tmp:
        work = Path(tmp)
        site = write_site(work / "site", issues=args.issues, notices_per_issue=10)
        config = make_config(work)
        state = work / "state.db"
        with LoopbackServer(work / "site") as server, MailSink() as sink:
            env = {
                **os.environ,
                "POLICYWATCH_CONFIG_DIR": str(config),
                "POLICYWATCH_STATE_URL": f"sqlite:///{state}",
                "POLICYWATCH_HOST_MAP": server.base,
                "BENCH_SMTP_URL": sink.url(),
                "PREFECT_API_URL": "",
                "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                "PREFECT_HOME": str(work / "prefect-home"),
            }
            start = time.perf_counter()
            proc = subprocess.run(
                [CLI, "run", "--alert-existing"], env=env, cwd=work,
                capture_output=True, text=True, timeout=900,
            )  # fmt: skip
            wall = time.perf_counter() - start
            if proc.returncode != 0:
                print(proc.stdout[-2000:], proc.stderr[-3000:], sep="\n")
                print(f"policywatch run failed ({proc.returncode})")
                return 1
            received = len(sink.messages)
        summary = last_run(state)
    stats = summary.get("stats", {})
    enqueued = sum(summary.get("enqueued", {}).values())
    sent = sum(summary.get("sent", {}).values())
    statements = stats.get("delivery_statements")
    pipeline, intake = stats.get("pipeline_s", 0.0), stats.get("intake_s", 0.0)
    print(f"site: {len(site.issues)} issues; run wall {wall:.1f} s (Prefect start-up included)")
    print(f"alerts enqueued {enqueued}; messages sent {sent}, received by the server {received}")
    print(f"delivery: {pipeline - intake:.2f} s")
    if not enqueued or statements is None:
        print("no alerts or no statement count: nothing to measure")
        return 1
    goals.check("every message sent was received", received, sent, unit="", higher_is_worse=False)
    goals.check(
        f"delivery SQL statements per alert ({statements} for {enqueued})",
        statements / enqueued, 2, unit="",
    )  # fmt: skip
    return goals.finish()


if __name__ == "__main__":
    raise SystemExit(main())
