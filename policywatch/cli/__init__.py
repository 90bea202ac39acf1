"""``policywatch`` command line. Each module under this package adds its commands to ``app``."""

from __future__ import annotations

import time

STARTED = time.perf_counter()  # `policywatch -v run` reports the time spent on imports

from policywatch.cli import alerts, config, fetch, init, match, notices, parse, run  # noqa: E402, F401  (registers commands)
from policywatch.cli._app import app, fail  # noqa: E402
from policywatch.errors import PolicywatchError  # noqa: E402


def main() -> None:
    """Console-script entry point: library errors become one line and exit code 2."""
    try:
        app()
    except PolicywatchError as exc:
        raise SystemExit(fail(exc).exit_code) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None
