"""CLI commands: run (see policywatch.cli)."""
