"""Every config file checked at once: for ``policywatch check-config`` (one line per file) and for
``run`` (``settings.check_for_run``), before Prefect's start-up, so a typo costs no 10 s wait.

Each ``check_*`` raises a ConfigError (file:line per problem) or returns what it found;
``check_all`` runs all of them and raises one ConfigError with every problem of every file.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from policywatch.errors import ConfigError
from policywatch.settings import AppSettings, Config, state_url_problem

if TYPE_CHECKING:
    from policywatch.taxonomy import Taxonomy

__all__ = ["check_all", "check_app", "check_bodies", "check_taxonomy", "check_watchlists"]

CHANNELS_FILE = "channels.yaml"
WATCHLISTS_FILE = "watchlists.yaml"
T = TypeVar("T")


def check_app(config: Config) -> AppSettings:
    """policywatch.yaml, and the state URL in effect (``POLICYWATCH_STATE_URL`` included)."""
    app = config.app
    env = os.environ.get("POLICYWATCH_STATE_URL")
    problem = state_url_problem(env) if env else None
    if problem:
        raise ConfigError(f"POLICYWATCH_STATE_URL: {problem}")
    return app


def check_bodies(config: Config) -> int:
    """bodies.yaml (the config folder's, else the shipped one): valid, ids unique."""
    from policywatch.taxonomy import BodiesFile
    from policywatch.yamlconf import load_yaml, validate

    doc = load_yaml(config.file("bodies.yaml"))
    data = validate(doc, BodiesFile)
    seen: set[str] = set()
    dupes = []
    for i, body in enumerate(data.bodies):
        if body.id in seen:
            where = doc.where(("bodies", i, "id"))
            dupes.append(f"{where}: bodies[{i}].id: duplicate body id '{body.id}'")
        seen.add(body.id)
    if dupes:
        raise ConfigError("\n".join(dupes))
    return len(data.bodies)


def check_taxonomy(config: Config) -> Taxonomy:
    from policywatch.taxonomy import load_taxonomy

    return load_taxonomy(config)


def check_watchlists(config: Config, taxonomy: Taxonomy | None, *, warn: bool = True) -> int:
    """The watchlists and what they refer to (only their syntax when the taxonomy is broken);
    with ``warn``, an empty file is logged as a warning by the loader."""
    from policywatch.watchlists import WatchlistsFile, channel_names, read_watchlists
    from policywatch.yamlconf import load_yaml, validate

    path = config.dir / WATCHLISTS_FILE
    if taxonomy is None:
        return len(validate(load_yaml(path), WatchlistsFile).watchlists)
    channels = channel_names(config.dir / CHANNELS_FILE)
    lists = read_watchlists(
        path, taxonomy=taxonomy, bodies=config.bodies, channels=channels, warn_empty=warn
    )
    return len(lists)


def _check_channels(config: Config) -> None:
    """channels.yaml's syntax (secrets are resolved at delivery, on the machine that delivers)."""
    path = config.dir / CHANNELS_FILE
    if path.exists():
        from policywatch.channels import load_channels

        load_channels(path, resolve_env=False)


def check_all(config: Config) -> None:
    """Every check; one ConfigError listing every problem of every file."""
    errors: list[str] = []

    def collect(step: Callable[[], T]) -> T | None:
        try:
            return step()
        except ConfigError as exc:
            errors.extend(str(exc).splitlines())
            return None

    collect(lambda: check_app(config))
    collect(lambda: check_bodies(config))
    taxonomy = collect(lambda: check_taxonomy(config))
    collect(lambda: _check_channels(config))
    if not any(line.startswith(str(config.file("bodies.yaml"))) for line in errors):
        collect(lambda: check_watchlists(config, taxonomy))
    if errors:
        raise ConfigError(
            "\n".join(errors), hint="fix these and run `policywatch check-config` to check again"
        )
