"""``policywatch`` command line. Each module under this package adds its commands to ``app``."""

from __future__ import annotations

from policywatch.cli import alerts, config, fetch, init, match, notices, parse, run  # noqa: F401  (registers commands)
from policywatch.cli._app import app, fail
from policywatch.errors import PolicywatchError


def main() -> None:
    """Console-script entry point: library errors become one line and exit code 2."""
    try:
        app()
    except PolicywatchError as exc:
        raise SystemExit(fail(exc).exit_code) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None
