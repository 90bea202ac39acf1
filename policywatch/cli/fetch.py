"""CLI commands: fetch (see policywatch.cli)."""
